// Package trialtest holds the randomized end-to-end trial: random
// repositories and policies run through the whole app against an embedded
// distribution 3 registry, each checked against an independent model of the
// retention rules (issue 4) written in the test, not taken from
// internal/plan. REGSWEEP_TRIALS sets the number of trials (default 200),
// REGSWEEP_TRIAL_SEED replays a run.
package trialtest
