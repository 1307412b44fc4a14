package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
	"github.com/regsweep/regsweep/internal/transport"
)

// One operation: what may block it, sending it, and what its answer means
// for its record.

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

func (r *runner) manifest(digest string) *graph.Manifest {
	if m, ok := r.g.Manifests[digest]; ok {
		return m
	}
	return &graph.Manifest{Digest: digest, Kind: graph.KindUnknown}
}

func opTarget(op plan.Op) string {
	if op.Kind == plan.OpUntag {
		return op.Tag + " (" + op.Digest + ")"
	}
	return op.Digest
}

// blocker returns a manifest that references digest (as the plan reads
// references: plan.References), was planned for deletion and was not
// deleted: deleting digest now would leave it dangling. Earlier phases are
// complete when this is called (phase barrier).
func (r *runner) blocker(i int) (string, Outcome) {
	for _, ref := range r.refs.To(r.records[i].Op.Digest) {
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
