// Package apply executes a plan against a backend: phase by phase, ops in a
// phase concurrently under a bound, with a last-moment re-check, and records
// exactly what became of every planned operation.
package apply

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
)

// DefaultConcurrency is used when Options.Concurrency is not positive.
const DefaultConcurrency = 4

// DefaultProgressEvery is how often Progress is called when
// Options.ProgressEvery is not positive.
const DefaultProgressEvery = 5 * time.Second

// Options configure Run.
type Options struct {
	// Concurrency bounds the operations in flight at once.
	Concurrency int
	// DryRun: no request at all; every op is recorded as it would happen.
	DryRun bool
	// Recheck, if set, is called once just before the first destructive op.
	// It returns the plan rebuilt from a fresh look at the registry (see
	// Relist). From then on only ops still in that plan are executed; the
	// others become Skipped. An error stops the run before anything is
	// deleted.
	Recheck func(ctx context.Context) (*plan.Plan, error)
	// Confirm: after deleting (not in a dry run), list the tags once more
	// so that the record names only tags really gone, and remove a tag that
	// outlived its deleted manifest (see confirm).
	Confirm bool
	// Progress, if set, is called at most every ProgressEvery while the run
	// goes on, and once at the end.
	Progress      func(done, total int, waited time.Duration)
	ProgressEvery time.Duration
	// Waited, if set, returns the time spent so far waiting on rate limits
	// (the transport's Stats().Waited); it feeds Progress.
	Waited func() time.Duration
	// Logf, if set, receives one line per notable event (failures, stop).
	Logf func(format string, args ...any)
	// Warnf, if set, receives what the user should act on but that did not
	// fail an operation (the confirming listing failed).
	Warnf func(format string, args ...any)
	// InFlightGrace bounds how long an operation already sent may take to
	// finish once the run is cancelled (default DefaultInFlightGrace). It
	// is no deadline before that: an operation queued behind the pacer or
	// a rate limit waits as long as the run may (see transport.WithRun).
	InFlightGrace time.Duration
}

// DefaultInFlightGrace is long enough for a slow DELETE and its retries,
// short enough to fit in the time a CI system gives after SIGTERM.
const DefaultInFlightGrace = 10 * time.Second

// runner holds the state of one Run; records are written by index, each by
// exactly one goroutine, and read after the phase barrier.
type runner struct {
	b    backend.Backend
	g    *graph.Graph
	p    *plan.Plan
	opts Options
	// run ends when the run is cancelled or stops: operations still
	// waiting for their turn are then not sent.
	run     context.Context
	stopRun context.CancelCauseFunc

	records []Record
	phaseOf []int
	// deleteIdx maps a digest to the index of its delete record.
	deleteIdx map[string]int
	// refs is who references whom, as the plan reads it (set for a real
	// run only).
	refs plan.References
	// tagsOf overrides the graph's tags for a digest after a re-check.
	tagsOf map[string][]string
	// untaggedFirst holds, per digest, the tags its BeforeDelete untags
	// removed; filled at each phase barrier, read by later phases.
	untaggedFirst map[string]map[string]bool
	// units are the deletions put back together when the registry refuses
	// one of them (restore.go); nil when there are none.
	units *units
	// listing is the tag listing read once at a barrier before putting
	// tags back, where the backend cannot resolve one tag (tagFree).
	listing map[string]string
	// tagsBackDone marks the deletions whose early-removed tags were
	// looked at (tagsback.go); goneAfterFailure, the manifests a read
	// then found absent although their DELETE failed.
	tagsBackDone, goneAfterFailure map[string]bool

	mu      sync.Mutex
	stopErr error
	done    int
}

// Run executes p against b. It always returns a complete Result: one Record
// per planned op, in plan order (phases flattened), whatever happened.
func Run(ctx context.Context, b backend.Backend, g *graph.Graph, p *plan.Plan, opts Options) *Result {
	start := time.Now()
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.InFlightGrace <= 0 {
		opts.InFlightGrace = DefaultInFlightGrace
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = DefaultProgressEvery
	}
	if g == nil {
		g = graph.New(p.Repository, p.Backend, p.Capabilities)
	}
	r := &runner{b: b, g: g, p: p, opts: opts, deleteIdx: map[string]int{}}
	for phase, ops := range p.Phases {
		for _, op := range ops {
			r.records = append(r.records, Record{Op: op})
			r.phaseOf = append(r.phaseOf, phase)
			if op.Kind == plan.OpDelete {
				r.deleteIdx[op.Digest] = len(r.records) - 1
			}
		}
	}
	if !opts.DryRun {
		r.refs = plan.ReadReferences(g)
		r.planUnits()
	}

	res := &Result{DryRun: opts.DryRun}
	if opts.DryRun {
		for phase := range p.Phases {
			for i := range r.records {
				if r.phaseOf[i] == phase {
					r.dry(i)
				}
			}
			r.noteUntaggedFirst()
		}
	} else if len(r.records) > 0 {
		r.run, r.stopRun = context.WithCancelCause(ctx)
		defer r.stopRun(nil)
		r.execute(ctx)
	}
	res.Records = r.records
	res.Stopped = r.stopErr
	res.Duration = time.Since(start)
	res.LeftUntagged = r.leftUntagged()
	if opts.Confirm && !opts.DryRun {
		// Whatever the re-check said: a registry may keep a deleted
		// manifest's tags, and a run must not end 0 with a swept tag still
		// resolving.
		r.confirm(ctx, res)
	}
	return res
}

func (r *runner) logf(format string, args ...any) {
	if r.opts.Logf != nil {
		r.opts.Logf(format, args...)
	}
}

func (r *runner) warnf(format string, args ...any) {
	if r.opts.Warnf != nil {
		r.opts.Warnf(format, args...)
	}
}

// stop records the first reason to stop; later ones are ignored. Operations
// waiting for their turn are then not sent.
func (r *runner) stop(err error) {
	r.mu.Lock()
	if r.stopErr == nil {
		r.stopErr = err
	}
	r.mu.Unlock()
	if r.stopRun != nil {
		r.stopRun(err)
	}
}

func (r *runner) stopped(ctx context.Context) bool {
	r.mu.Lock()
	s := r.stopErr != nil
	r.mu.Unlock()
	if !s && ctx.Err() != nil {
		r.stop(ctx.Err())
		return true
	}
	return s
}

func (r *runner) finishOne() {
	r.mu.Lock()
	r.done++
	r.mu.Unlock()
}

func (r *runner) progressNow() {
	if r.opts.Progress == nil {
		return
	}
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	var waited time.Duration
	if r.opts.Waited != nil {
		waited = r.opts.Waited()
	}
	r.opts.Progress(done, len(r.records), waited)
}

func (r *runner) execute(ctx context.Context) {
	// Progress ticks in one goroutine that ends with the run.
	if r.opts.Progress != nil {
		tickCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(r.opts.ProgressEvery)
			defer t.Stop()
			for {
				select {
				case <-tickCtx.Done():
					return
				case <-t.C:
					r.progressNow()
				}
			}
		}()
		defer func() {
			cancel()
			wg.Wait()
			r.progressNow()
		}()
	}

	if r.opts.Recheck != nil && !r.stopped(ctx) {
		if err := r.recheck(ctx); err != nil {
			r.stop(err)
			r.logf("stopping before any deletion: %v", err)
		}
	}

	for phase := range r.p.Phases {
		var eg errgroup.Group
		eg.SetLimit(r.opts.Concurrency)
		for i := range r.records {
			if r.phaseOf[i] != phase || r.records[i].Outcome != "" {
				continue
			}
			if r.stopped(ctx) {
				r.notAttempted(i)
				continue
			}
			eg.Go(func() error {
				r.do(ctx, i)
				r.finishOne()
				return nil
			})
		}
		_ = eg.Wait()   // ops never return errors; outcomes are in the records
		r.listing = nil // the registry may have changed since the last barrier
		r.restoreRefused(ctx, phase)
		r.tagsBack(ctx)
		r.noteUntaggedFirst()
	}
	// Anything left (a stop between phases) was never started.
	for i := range r.records {
		if r.records[i].Outcome == "" {
			r.notAttempted(i)
		}
	}
}

func (r *runner) notAttempted(i int) {
	rec := &r.records[i]
	rec.Outcome = NotAttempted
	r.mu.Lock()
	err := r.stopErr
	r.mu.Unlock()
	if err != nil {
		rec.Reason = "the run stopped before this operation: " + err.Error()
	} else {
		rec.Reason = "the run stopped before this operation"
	}
}
