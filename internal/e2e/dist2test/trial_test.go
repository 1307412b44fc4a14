package dist2test

import (
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/registry/dist2"
	"github.com/regsweep/regsweep/internal/testkit/trial"
)

// TestTrial: REGSWEEP_TRIALS=5000 runs more; REGSWEEP_TRIAL_SEED=<seed>
// replays a run (add -run 'TestTrial/trial-0042' for one trial).
func TestTrial(t *testing.T) {
	t.Parallel() // own registry; runs beside the package's other long tests
	trial.Run(t, trial.Config{
		Start: func(t *testing.T) trial.Registry {
			r := dist2.Start(t.Context(), dist2.Options{})
			t.Cleanup(r.Close)
			return trial.Registry{Host: r.Host, Client: r.Server.Client()}
		},
		CanUntag:      false, // 2.8 answers DELETE by tag with 400
		DefaultTrials: 50,
		Package:       "./internal/e2e/dist2test",
	})
}
