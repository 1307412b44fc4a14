package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/regsweep/regsweep/internal/apply"
	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/settings"
)

// One repository through the pipeline: discover and plan (prepare), then
// apply.

// sweep is one repository on its way through the pipeline.
type sweep struct {
	out report.Repository
	b   backend.Backend
	g   *graph.Graph
	pol plan.Policy
	now time.Time
}

// prepare runs discover -> plan for one repository. It never returns an
// error: a failure is in the sweep's record, and the sweep stops there.
func (r *runner) prepare(ctx context.Context, repo string) *sweep {
	sw := &sweep{out: report.Repository{Name: repo}}
	out := &sw.out
	b, err := r.backendFor(ctx, repo)
	if err != nil {
		out.Err = err
		return sw
	}
	out.Backend = b.Name()
	pol := r.s.Policy
	if r.env.UntagFirstAt != 0 {
		pol.UntagFirstAt = r.env.UntagFirstAt
	}
	g, err := b.Discover(ctx, backend.DiscoverOptions{
		Match:   pol.Candidate,
		Created: pol.NeedsCreated() || r.s.MaxDeletionsMode == settings.MaxDeletionsLimit,
		// Only age-from: created asks a backend that reports push times
		// to read the images' own creation times as well.
		ImageCreated: pol.NeedsImageCreated(),
		Referrers:    pol.DeleteReferrers,
		Untagged:     pol.CoversUntagged(),
		Recheck:      r.s.Recheck,
	})
	if errors.Is(err, backend.ErrRepositoryNotFound) {
		out.Err = fmt.Errorf("the repository does not exist on the registry: check its spelling and path (%w)", err)
		return sw
	}
	if err != nil {
		out.Err = fmt.Errorf("discover %s: %w", repo, err)
		return sw
	}
	out.Warnings = g.Warnings
	now := r.env.Now()
	pl := plan.Build(g, pol, now)
	if pl.NeedsUntagProbe() {
		tri, err := b.ProbeUntag(ctx)
		if err != nil {
			out.Err = fmt.Errorf("probe %s: %w", repo, err)
			return sw
		}
		g.Capabilities.Untag = tri
		pl = plan.Build(g, pol, now)
	}
	out.Capabilities = g.Capabilities
	out.Plan = pl
	sw.b, sw.g, sw.pol, sw.now = b, g, pol, now
	return sw
}

// apply runs a planned sweep's plan; it does nothing for a sweep that
// failed before.
func (r *runner) apply(ctx context.Context, sw *sweep) {
	out := &sw.out
	if out.Plan == nil || out.Err != nil {
		return
	}
	repo, b, g, pl, pol, now := out.Name, sw.b, sw.g, out.Plan, sw.pol, sw.now
	var applyStart time.Time
	opts := apply.Options{
		Concurrency: r.s.Concurrency,
		DryRun:      r.s.DryRun,
		Waited:      func() time.Duration { return r.ts.stats().Waited },
		Logf:        r.p.Infof,
		Warnf:       r.p.Warningf,
		Confirm:     true,
		Progress: func(done, total int, waited time.Duration) {
			rate := float64(done) / max(time.Since(applyStart).Seconds(), 0.001)
			r.p.Infof("%s: %d/%d operations done, %.1f/s, %s waiting on rate limits", repo, done, total, rate, waited.Round(time.Millisecond))
		},
	}
	if r.s.Recheck {
		opts.Recheck = apply.Relist(b, g, pl, func(fresh *graph.Graph) *plan.Plan { return plan.Build(fresh, pol, now) })
	}
	applyStart = time.Now()
	out.Result = apply.Run(ctx, b, g, pl, opts)
}
