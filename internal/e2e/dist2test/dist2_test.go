package dist2test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/faults"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist2"
)

func start(t *testing.T, deleteDisabled bool) *e2e.Registry {
	t.Helper()
	n := &atomic.Int64{}
	r := dist2.Start(context.Background(), dist2.Options{DeleteDisabled: deleteDisabled, Wrap: e2e.Chain(e2e.Counting(n), faults.PagedBy(100))})
	t.Cleanup(r.Close)
	return &e2e.Registry{Host: r.Host, Generation: 2, Requests: n, Start: start}
}

func TestDistribution2(t *testing.T) {
	// Parallel: the package's long tests share its binary, each with its own registry.
	t.Parallel()
	e2e.Run(t, start(t, false))
}
