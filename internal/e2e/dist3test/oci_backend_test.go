package dist3test

import (
	"context"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/testkit/ocitest"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
)

// TestOCIBackendDistribution3 runs the OCI backend scenarios (internal/testkit/ocitest) against CNCF distribution 3.
func TestOCIBackendDistribution3(t *testing.T) {
	t.Parallel() // own registry; runs beside the package's other long tests
	ocitest.Suite{Gen: ocitest.V3, Start: func(t *testing.T, o ocitest.StartOptions) ocitest.Registry {
		ctx, cancel := context.WithCancel(context.Background())
		r := dist3.Start(ctx, dist3.Options{DeleteDisabled: o.DeleteDisabled, Wrap: o.Wrap})
		t.Cleanup(func() { r.Close(); cancel() })
		return ocitest.Registry{Host: r.Host, URL: r.Server.URL}
	}, Snapshot: func(t *testing.T, v any) { snaps.MatchJSON(t, v) }}.Run(t)
}
