package dist2test

import (
	"context"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/testkit/ocitest"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist2"
)

// TestOCIBackendDistribution28 runs the OCI backend scenarios (internal/testkit/ocitest) against CNCF distribution 2.8.
func TestOCIBackendDistribution28(t *testing.T) {
	t.Parallel() // own registry; runs beside the package's other long tests
	ocitest.Suite{Gen: ocitest.V28, Start: func(t *testing.T, o ocitest.StartOptions) ocitest.Registry {
		ctx, cancel := context.WithCancel(context.Background())
		r := dist2.Start(ctx, dist2.Options{DeleteDisabled: o.DeleteDisabled, Wrap: o.Wrap})
		t.Cleanup(func() { r.Close(); cancel() })
		return ocitest.Registry{Host: r.Host, URL: r.Server.URL}
	}, Snapshot: func(t *testing.T, v any) { snaps.MatchJSON(t, v) }}.Run(t)
}
