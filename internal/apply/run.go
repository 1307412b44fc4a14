// Package apply executes a plan against a backend: phase by phase, ops in a
// phase concurrently under a bound, with a last-moment re-check, and records
// exactly what became of every planned operation.
package apply

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
	"github.com/regsweep/regsweep/internal/transport"
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

// opKey identifies an op across two plans.
type opKey struct {
	kind   plan.OpKind
	digest string
	tag    string
}

func keyOf(op plan.Op) opKey { return opKey{op.Kind, op.Digest, op.Tag} }

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
	// referencedBy maps a digest to the manifests that reference it (indexes
	// holding it as a child, referrers naming it as subject).
	referencedBy map[string][]string
	// tagsOf overrides the graph's tags for a digest after a re-check.
	tagsOf map[string][]string
	// untaggedFirst holds, per digest, the tags its BeforeDelete untags
	// removed; filled at each phase barrier, read by later phases.
	untaggedFirst map[string]map[string]bool
	// units are the deletions put back together when the registry refuses
	// one of them (restore.go); nil when there are none.
	units *units

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
	r.referencedBy = referencedBy(g)
	if !opts.DryRun {
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

// noteUntaggedFirst records which tags the finished phases removed ahead of
// their manifest's deletion. Called between phases only.
func (r *runner) noteUntaggedFirst() {
	for _, rec := range r.records {
		if !rec.Op.BeforeDelete || !rec.Outcome.Gone() {
			continue
		}
		if r.untaggedFirst == nil {
			r.untaggedFirst = map[string]map[string]bool{}
		}
		if r.untaggedFirst[rec.Op.Digest] == nil {
			r.untaggedFirst[rec.Op.Digest] = map[string]bool{}
		}
		r.untaggedFirst[rec.Op.Digest][rec.Op.Tag] = true
	}
}

// leftUntagged lists the manifests whose every tag this run removed first
// and which it then did not delete.
func (r *runner) leftUntagged() []string {
	r.noteUntaggedFirst()
	var out []string
	for d, gone := range r.untaggedFirst {
		i, ok := r.deleteIdx[d]
		if !ok || r.records[i].Outcome.Gone() {
			continue
		}
		all := true
		for _, t := range r.tags(d) {
			all = all && gone[t]
		}
		if all {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// referencedBy inverts the graph's references.
func referencedBy(g *graph.Graph) map[string][]string {
	out := map[string][]string{}
	for _, d := range g.SortedDigests() {
		m := g.Manifests[d]
		for _, c := range m.Children {
			out[c] = append(out[c], d)
		}
		if m.Subject != "" {
			out[m.Subject] = append(out[m.Subject], d)
		}
	}
	return out
}

func (r *runner) dry(i int) {
	rec := &r.records[i]
	switch rec.Op.Kind {
	case plan.OpUntag:
		rec.Outcome = Untagged
		rec.Tags = []string{rec.Op.Tag}
	default:
		rec.Outcome = Deleted
		rec.Tags = r.deleteTags(rec.Op.Digest)
	}
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

// tags are the tags a manifest carries, per the freshest knowledge.
func (r *runner) tags(digest string) []string {
	if t, ok := r.tagsOf[digest]; ok {
		return append([]string(nil), t...)
	}
	if m, ok := r.g.Manifests[digest]; ok && len(m.Tags) > 0 {
		return append([]string(nil), m.Tags...)
	}
	return nil
}

// deleteTags are the tags a DELETE by digest removes: the manifest's tags
// but those this run already removed ahead of it (their own records name
// them), so that no tag is reported twice.
func (r *runner) deleteTags(digest string) []string {
	all := r.tags(digest)
	gone := r.untaggedFirst[digest]
	if len(gone) == 0 {
		return all
	}
	out := make([]string, 0, len(all))
	for _, t := range all {
		if !gone[t] {
			out = append(out, t)
		}
	}
	return out
}

func (r *runner) manifest(digest string) *graph.Manifest {
	if m, ok := r.g.Manifests[digest]; ok {
		return m
	}
	return &graph.Manifest{Digest: digest, Kind: graph.KindUnknown}
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
		_ = eg.Wait() // ops never return errors; outcomes are in the records
		r.restoreRefused(ctx, phase)
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

func opTarget(op plan.Op) string {
	if op.Kind == plan.OpUntag {
		return op.Tag + " (" + op.Digest + ")"
	}
	return op.Digest
}

// blocker returns a manifest that references digest, was planned for
// deletion and was not deleted: deleting digest now would leave it dangling.
// Earlier phases are complete when this is called (phase barrier).
func (r *runner) blocker(i int) (string, Outcome) {
	for _, ref := range r.referencedBy[r.records[i].Op.Digest] {
		j, ok := r.deleteIdx[ref]
		// Only earlier phases are finished; a malformed plan that puts a
		// referencer in the same or a later phase is not read mid-write.
		if !ok || r.phaseOf[j] >= r.phaseOf[i] {
			continue
		}
		switch o := r.records[j].Outcome; o {
		case Deleted, AlreadyGone:
		default:
			return ref, o
		}
	}
	return "", ""
}

// do performs one op and fills its record.
func (r *runner) do(ctx context.Context, i int) {
	rec := &r.records[i]
	if r.stopped(ctx) {
		r.notAttempted(i)
		return
	}
	op := rec.Op
	if op.Kind == plan.OpDelete {
		if ref, o := r.blocker(i); ref != "" {
			rec.Outcome = Skipped
			rec.Reason = fmt.Sprintf("kept because %s %s that references it was not deleted (%s)",
				r.manifest(ref).Kind, ref, o)
			r.logf("skipped delete %s: %s", op.Digest, rec.Reason)
			return
		}
	}

	// A started operation runs to its answer even when the run is cancelled
	// (SIGTERM, job timeout): a DELETE abandoned half-way can leave the
	// registry with a tag naming a deleted manifest, and the record unsure.
	// InFlightGrace bounds that wait, counted from the cancellation: until
	// then an operation has no deadline of its own, as time queued behind
	// the pacer or a rate limit is not failing. Waits end with the run.
	opCtx, cancel := context.WithCancel(transport.WithRun(context.WithoutCancel(ctx), r.run))
	defer cancel()
	defer context.AfterFunc(ctx, func() {
		grace := time.NewTimer(r.opts.InFlightGrace)
		defer grace.Stop()
		select {
		case <-grace.C:
			cancel()
		case <-opCtx.Done():
		}
	})()
	opCtx, resent := transport.WithResent(opCtx)
	var err error
	m := r.manifest(op.Digest)
	if op.Kind == plan.OpDelete {
		if err := r.save(opCtx, i); err != nil {
			r.record(ctx, rec, err)
			return
		}
	}
	switch op.Kind {
	case plan.OpUntag:
		err = r.b.Untag(opCtx, op.Tag, m)
	case plan.OpDelete:
		err = r.b.DeleteManifest(opCtx, m)
	default:
		err = fmt.Errorf("unknown operation %q", op.Kind)
	}
	if errors.Is(err, backend.ErrNotFound) && resent.Load() {
		err = nil // the lost attempt did it: deleted by this run
	}
	r.record(ctx, rec, err)
}

func (r *runner) record(ctx context.Context, rec *Record, err error) {
	op := rec.Op
	tags := func() []string {
		if op.Kind == plan.OpUntag {
			return []string{op.Tag}
		}
		return r.deleteTags(op.Digest)
	}
	switch {
	case err == nil:
		rec.Tags = tags()
		if op.Kind == plan.OpUntag {
			rec.Outcome = Untagged
		} else {
			rec.Outcome = Deleted
		}
	case errors.Is(err, backend.ErrNotFound):
		rec.Outcome = AlreadyGone
		rec.Tags = tags()
		rec.Reason = "already absent (missing before the run, or removed by another run first)"
	case op.Kind == plan.OpUntag && errors.Is(err, backend.ErrUnsupported):
		rec.Outcome = KeptNoUntag
		rec.Reason = "the registry cannot remove a tag alone; the tag stays"
		rec.Err = err
	case errors.Is(err, transport.ErrNotSent):
		// Never sent, or refused for a rate limit: the registry did nothing.
		// A wait too long to make stops the run, naming when to come back.
		if errors.Is(err, transport.ErrWaitTooLong) {
			r.stop(err)
			r.logf("stopping: %s %s: %v", op.Kind, opTarget(op), err)
		}
		rec.Outcome = NotAttempted
		r.mu.Lock()
		stopErr := r.stopErr
		r.mu.Unlock()
		rec.Reason = "the run stopped before this operation"
		if stopErr != nil {
			rec.Reason += ": " + stopErr.Error()
		}
		rec.Err = err
	case errors.Is(err, backend.ErrRefused):
		rec.Outcome = Refused
		rec.Reason = err.Error()
		rec.Err = err
	case backend.Fatal(err):
		rec.Outcome = Failed
		rec.Reason = err.Error()
		rec.Err = err
		r.stop(err)
		r.logf("stopping: %s %s: %v", op.Kind, opTarget(op), err)
	case ctx.Err() != nil:
		// Cancelled while the request was in flight: the registry may or
		// may not have done it, and the record must not claim either.
		rec.Outcome = Failed
		rec.Reason = "interrupted while in flight (the registry may or may not have completed it): " + err.Error()
		rec.Err = err
		r.stop(ctx.Err())
	default:
		rec.Outcome = Failed
		rec.Reason = err.Error()
		rec.Err = err
		r.logf("failed: %s %s: %v", op.Kind, opTarget(op), err)
	}
}
