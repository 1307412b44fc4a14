// Package dist3test holds every end-to-end test that runs against an
// embedded CNCF distribution 3 registry, in one test binary (linking the
// registry once is most of a test binary's cost): the shared scenarios
// (dist3_test.go), the OCI backend's scenarios (oci_backend_test.go), the
// image-graph and ranking cases (graph, ranking), several repositories and
// large runs (multi, large, shard, recipe), the real binary under each CI
// system (cli, container, github, gitlab, woodpecker, main), refusals
// (refusal), faults and hostile registries (faults_*) and the randomized
// trial (trial: REGSWEEP_TRIALS sets the number of trials, default 200,
// REGSWEEP_TRIAL_SEED replays a run, REGSWEEP_TRIAL_WORKERS sets the
// concurrency). Distribution 2.8 lives in dist2test: both register
// /debug/health at init, so they cannot share a binary.
package dist3test
