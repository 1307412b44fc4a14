package dist3test

import (
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
	"github.com/regsweep/regsweep/internal/testkit/trial"
)

// TestTrial: REGSWEEP_TRIALS=5000 runs more; REGSWEEP_TRIAL_SEED=<seed>
// replays a run (add -run 'TestTrial/trial-0042' for one trial).
func TestTrial(t *testing.T) {
	t.Parallel() // own registry; runs beside the package's other long tests
	trial.Run(t, trial.Config{
		Start: func(t *testing.T) trial.Registry {
			r := dist3.Start(t.Context(), dist3.Options{})
			t.Cleanup(r.Close)
			return trial.Registry{Host: r.Host, Client: r.Server.Client()}
		},
		CanUntag:      true,
		DefaultTrials: 100,
		Package:       "./internal/e2e/dist3test",
	})
}
