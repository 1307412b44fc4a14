package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/regsweep/regsweep/internal/plan"
)

// registryPageSize is distribution v3's tag list page (it clamps n to 1000).
const registryPageSize = 1000

// Expected is the request budget (README, Speed): list pages + one resolve
// per tag + one DELETE per planned manifest + a constant (the /v2/ ping and
// the referrers API probe; this registry has no auth, so no token fetch).
//
// With `recheck` on (the default) regsweep lists three times: to discover,
// once more before resolving the tags that keep images (its last look, so
// that a tag pushed or moved onto a doomed image during the run saves it),
// and after deleting, when only the kept tags are left (so that the record
// names only tags really gone). Each tag is still resolved once.
//
// Without a referrers API (distribution has none), each kept OCI manifest
// is read once for its subject field: a kept SBOM whose subject is a
// matching image keeps it, fallback tag or not. A matching tag's body
// comes with its resolve (a GET instead of a HEAD), at no extra cost.
//
// Distribution links a next page whenever a page is full, so a listing of
// 1,000 tags at n=1000 takes two requests, the second one empty: pages are
// tags/1000 + 1.
type Expected struct {
	ListPages, Resolves, Deletes, Constant int
	// SubjectReads: kept manifests read for their subject field.
	SubjectReads int
	// Recheck: the last look and the confirmation listing are counted.
	Recheck bool
	// ConfirmPages is the listing after deleting: only kept tags are left.
	ConfirmPages int
	// Untags are the DELETEs by tag of the untag-first schedule, and Probe
	// the untag probe it needs (HEAD + DELETE of an absent tag).
	Untags, Probe int
}

// ExpectedFor is the budget for sweeping `pr-*` from s.
func ExpectedFor(s Shape, recheck bool) Expected {
	e := Expected{
		ListPages:    s.Tags()/registryPageSize + 1,
		Resolves:     s.Tags(),
		Deletes:      s.PRDigests,
		SubjectReads: s.Releases,
		Constant:     2,
		Recheck:      recheck,
		ConfirmPages: s.Releases/registryPageSize + 1,
	}
	if s.PRDigests >= plan.DefaultUntagFirstAt {
		// The untag-first schedule: every PR tag is removed by tag first,
		// after the probe; no DELETE by digest then removes a tag, so
		// there is nothing left to confirm by listing.
		e.Untags, e.Probe, e.ConfirmPages = s.PRTags, 2, 0
	}
	return e
}

// Lists is the number of list requests in the budget.
func (e Expected) Lists() int {
	if e.Recheck {
		return 2*e.ListPages + e.ConfirmPages
	}
	return e.ListPages
}

// Total is the budget.
func (e Expected) Total() int {
	return e.Lists() + e.Resolves + e.SubjectReads + e.Untags + e.Deletes + e.Constant + e.Probe
}

func (e Expected) String() string {
	list := fmt.Sprintf("%d list", e.ListPages)
	if e.Recheck {
		list = fmt.Sprintf("%d+%d+%d list (discover, last look, confirm)", e.ListPages, e.ListPages, e.ConfirmPages)
	}
	if e.Untags > 0 {
		return fmt.Sprintf("%s + %d resolve + %d subject read + %d DELETE by tag + %d DELETE + %d ping/probe + %d untag probe = %d",
			list, e.Resolves, e.SubjectReads, e.Untags, e.Deletes, e.Constant, e.Probe, e.Total())
	}
	return fmt.Sprintf("%s + %d resolve + %d subject read + %d DELETE + %d ping/probe = %d",
		list, e.Resolves, e.SubjectReads, e.Deletes, e.Constant, e.Total())
}

// Options choose a scenario.
type Options struct {
	Name        string // repository prefix, unique per scenario in one registry
	Tags        int
	Delay       time.Duration
	Concurrency int    // 0: regsweep's default
	Baseline    bool   // also run the sequential loop on an identical repository
	Recheck     string // regsweep's `recheck` setting ("": its default, true)
	// Shape, if set, replaces ShapeFor(Tags) (the filesystem scenario's
	// single-tag images).
	Shape *Shape
	// SeedWith, if set, replaces Seed (the filesystem scenario writes
	// straight into the registry's storage).
	SeedWith func(ctx context.Context, repo string, s Shape) error
	// UntagFirstAt is app.Env.UntagFirstAt (0: regsweep's default schedule;
	// -1: today's single DELETE per manifest, for comparison).
	UntagFirstAt int
}

// Result is one scenario's measurements.
type Result struct {
	Shape       Shape
	Delay       time.Duration
	Concurrency int
	Expected    Expected

	Sweep  Sweep
	Server Counts // what the registry saw during regsweep's run
	// SeedWall is how long seeding regsweep's repository took (no delay).
	SeedWall time.Duration
	// Kept is true when exactly the release tags are left.
	Kept bool

	// Walls are the wall times of every regsweep run when several were
	// made (this Result is the median one).
	Walls []time.Duration

	Baseline       *Baseline
	BaselineServer Counts
	BaselineKept   bool
}

// WorkBound is the network bound of the work itself, whatever the
// schedule: one resolve per tag and one DELETE per deleted manifest, x delay
// / concurrency.
func (r *Result) WorkBound() time.Duration {
	return time.Duration(r.Shape.Tags()+r.Shape.PRDigests) * r.Delay / time.Duration(r.Concurrency)
}

// Bound is the network bound requests x delay / concurrency.
func (r *Result) Bound() time.Duration {
	return time.Duration(r.Server.Total()) * r.Delay / time.Duration(r.Concurrency)
}

// ServerBound is the bound counting the registry's own time too: the sum
// of every request's time in the server (delay + handler) / concurrency.
func (r *Result) ServerBound() time.Duration {
	return r.Server.Busy / time.Duration(r.Concurrency)
}

// Handler is the registry's mean own time for one kind of request
// ("DELETE manifest-by-digest").
func (c Counts) Handler(kind string) time.Duration {
	k := c.Kinds[kind]
	if k == nil || k.N == 0 {
		return 0
	}
	return k.Handler / time.Duration(k.N)
}

// Phase is how long one kind of request spanned, first arrival to last end.
func (c Counts) Phase(kind string) time.Duration {
	k := c.Kinds[kind]
	if k == nil {
		return 0
	}
	return k.Last.Sub(k.First)
}

// Ratio is baseline wall time / regsweep wall time (0 without a baseline).
func (r *Result) Ratio() float64 {
	if r.Baseline == nil || r.Sweep.Wall <= 0 {
		return 0
	}
	return float64(r.Baseline.Wall) / float64(r.Sweep.Wall)
}

// Run seeds the repositories on the metered registry at host, with no
// delay, then runs regsweep and (optionally) the baseline with the delay.
func Run(ctx context.Context, host string, o Options) (*Result, error) {
	c := NewControl(host)
	s := ShapeFor(o.Tags)
	if o.Shape != nil {
		s = *o.Shape
	}
	res := &Result{Shape: s, Delay: o.Delay, Concurrency: o.Concurrency, Expected: ExpectedFor(s, o.Recheck != "false")}
	if res.Concurrency <= 0 {
		res.Concurrency = DefaultConcurrency()
	}
	sweepRepo := fmt.Sprintf("%s/bench/%s-regsweep", host, o.Name)
	baseRepo := fmt.Sprintf("%s/bench/%s-baseline", host, o.Name)

	if err := c.SetDelay(ctx, 0); err != nil {
		return nil, err
	}
	seed := Seed
	if o.SeedWith != nil {
		seed = o.SeedWith
	}
	seedStart := time.Now()
	if err := seed(ctx, sweepRepo, s); err != nil {
		return nil, err
	}
	res.SeedWall = time.Since(seedStart)
	if o.Baseline {
		if err := seed(ctx, baseRepo, s); err != nil {
			return nil, err
		}
	}
	want := make([]string, s.Releases)
	for i := range want {
		want[i] = ReleaseTag(i)
	}
	slices.Sort(want)

	measure := func(f func() error) (Counts, error) {
		if err := c.Reset(ctx); err != nil {
			return Counts{}, err
		}
		if err := c.SetDelay(ctx, o.Delay); err != nil {
			return Counts{}, err
		}
		ferr := f()
		if err := c.SetDelay(ctx, 0); err != nil {
			return Counts{}, err
		}
		if ferr != nil {
			return Counts{}, ferr
		}
		return c.Counts(ctx)
	}
	kept := func(repo string) (bool, error) {
		got, err := ListTags(ctx, repo)
		return slices.Equal(got, want), err
	}

	var err error
	res.Server, err = measure(func() error {
		var extra []string
		if o.Recheck != "" {
			extra = []string{"--recheck", o.Recheck}
		}
		res.Sweep = runRegsweep(ctx, sweepRepo, o.Concurrency, o.UntagFirstAt, extra...)
		if res.Sweep.Exit != 0 {
			return fmt.Errorf("regsweep exited %d:\n%s", res.Sweep.Exit, res.Sweep.Output)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if res.Kept, err = kept(sweepRepo); err != nil {
		return nil, err
	}
	if !o.Baseline {
		return res, nil
	}
	var prTags []string
	for i := range s.PRTags {
		prTags = append(prTags, PRTag(i))
	}
	res.BaselineServer, err = measure(func() error {
		b, err := RunBaseline(ctx, baseRepo, prTags)
		res.Baseline = &b
		return err
	})
	if err != nil {
		return nil, err
	}
	if res.BaselineKept, err = kept(baseRepo); err != nil {
		return nil, err
	}
	return res, nil
}
