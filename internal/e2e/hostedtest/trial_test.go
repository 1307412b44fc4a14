package hostedtest

import (
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/trial"
)

// TestGitHubTrial: REGSWEEP_TRIALS=1000 runs more; REGSWEEP_TRIAL_SEED=<seed>
// replays a run (add -run 'TestGitHubTrial/trial-0042' for one trial).
func TestGitHubTrial(t *testing.T) {
	t.Parallel() // own registry; runs beside the package's other long tests
	trial.RunGitHub(t, trial.GitHubConfig{DefaultTrials: 60, Package: "./internal/e2e/hostedtest"})
}
