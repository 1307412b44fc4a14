// Package trialtest2 runs the randomized end-to-end trial (internal/testkit/trial)
// against an embedded docker/distribution 2.8 registry, which refuses DELETE
// by tag: a matching tag on a kept manifest is kept (cannot-untag).
// REGSWEEP_TRIALS sets the number of trials (default 100, to keep CI time
// down), REGSWEEP_TRIAL_SEED replays a run, REGSWEEP_TRIAL_WORKERS sets the
// concurrency.
package trialtest2
