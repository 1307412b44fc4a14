// Package trialtestgh runs the randomized end-to-end trial of GitHub
// Packages (internal/testkit/trial, RunGitHub) against the Packages fake:
// untagged indexes, indexes of indexes and changes during the run.
// REGSWEEP_TRIALS sets the number of trials (default 60),
// REGSWEEP_TRIAL_SEED replays a run, REGSWEEP_TRIAL_WORKERS sets the
// concurrency.
package trialtestgh
