// Package trial is the randomized end-to-end trial: random repositories and
// policies run through the whole app against an embedded registry, each
// checked against an independent model of the retention rules written
// here, not taken from internal/plan. It is generation-independent:
// internal/e2e/dist3test runs it against distribution 3, dist2test against
// 2.8 (the two registries cannot share a test binary). Only tests import it.
//
// REGSWEEP_TRIALS sets the number of trials, REGSWEEP_TRIAL_SEED replays a
// run, REGSWEEP_TRIAL_WORKERS sets the concurrency.
package trial
