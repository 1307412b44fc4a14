package ggcrtest

import (
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/registry/ggcr"
	"github.com/regsweep/regsweep/internal/testkit/trial"
)

// TestTrial runs the randomized trial on pkg/registry: it removes a tag
// alone, serves the referrers API and keeps tags after a digest delete, so
// every run also goes through the removal of tags that outlived their
// manifest. REGSWEEP_TRIALS=5000 runs more; REGSWEEP_TRIAL_SEED=<seed>
// replays a run.
func TestTrial(t *testing.T) {
	trial.Run(t, trial.Config{
		Start: func(t *testing.T) trial.Registry {
			r := ggcr.Start(ggcr.Options{})
			t.Cleanup(r.Close)
			return trial.Registry{Host: r.Host, Client: r.Server.Client()}
		},
		CanUntag:      true,
		DefaultTrials: 100,
		Package:       "./internal/e2e/ggcrtest",
	})
}
