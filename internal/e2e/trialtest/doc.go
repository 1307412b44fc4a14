// Package trialtest runs the randomized end-to-end trial (internal/testkit/trial)
// against an embedded distribution 3 registry, which removes a tag alone.
// REGSWEEP_TRIALS sets the number of trials (default 200),
// REGSWEEP_TRIAL_SEED replays a run, REGSWEEP_TRIAL_WORKERS sets the
// concurrency.
package trialtest
