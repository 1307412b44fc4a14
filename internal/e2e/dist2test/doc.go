// Package dist2test holds every end-to-end test that runs against an
// embedded CNCF distribution 2.8 registry, which cannot remove a tag alone,
// in one test binary: the shared scenarios (dist2_test.go), the OCI
// backend's scenarios (oci_backend_test.go) and the randomized trial
// (trial_test.go: REGSWEEP_TRIALS, REGSWEEP_TRIAL_SEED and
// REGSWEEP_TRIAL_WORKERS as in dist3test). It is apart from dist3test
// because both registries register /debug/health at init.
package dist2test
