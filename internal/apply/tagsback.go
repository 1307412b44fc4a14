package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/plan"
)

// The untag-first schedule removes a doomed manifest's tags in phase 0 and
// deletes the manifest later. When that deletion then does not happen (the
// registry refuses it by its own rules, the DELETE fails, or the manifest
// is kept for what references it), the manifest stays but no tag names it:
// no later run by tag finds it, and the user's tags are gone for nothing.
// So its tags are put back, each one still free, by pushing the manifest
// again under it (backend.Restorer). What cannot be put back stays recorded
// as removed, and the deletion's reason says why.

// tagsBack runs at each barrier: every deletion that did not happen and
// whose tags this run removed ahead of it gets them back. Nothing else is
// in flight.
func (r *runner) tagsBack(ctx context.Context) {
	first := map[string][]int{} // digest -> its untag-first records whose tag went
	for k, rec := range r.records {
		if rec.Op.BeforeDelete && rec.Outcome == Untagged {
			first[rec.Op.Digest] = append(first[rec.Op.Digest], k)
		}
	}
	for i := range r.records {
		rec := &r.records[i]
		d := rec.Op.Digest
		if rec.Op.Kind != plan.OpDelete || len(first[d]) == 0 || r.tagsBackDone[d] {
			continue
		}
		switch rec.Outcome {
		case Refused, Failed, Skipped:
		default:
			continue // deleted, or never reached (the run stopped: left untagged)
		}
		if r.tagsBackDone == nil {
			r.tagsBackDone = map[string]bool{}
		}
		r.tagsBackDone[d] = true
		c, cancel := r.repairContext(ctx)
		r.putTagsBack(c, i, first[d])
		cancel()
	}
}

// putTagsBack puts the tags of the untag-first records ks back on record
// i's manifest, which was not deleted.
func (r *runner) putTagsBack(ctx context.Context, i int, ks []int) {
	rec := &r.records[i]
	d := rec.Op.Digest
	var why string
	switch rec.Outcome {
	case Refused:
		why = "the registry refused to delete it"
	case Failed:
		why = "its deletion failed"
	default:
		why = "it was kept"
	}
	tags := make([]string, 0, len(ks))
	for _, k := range ks {
		tags = append(tags, r.records[k].Op.Tag)
	}
	notBack := func(msg string) {
		rec.Reason += fmt.Sprintf("; its tags %s, removed ahead of the deletion to make it cheap, are not put back: %s",
			strings.Join(tags, ", "), msg)
		r.logf("tags of %s not put back: %s", d, msg)
	}
	rs, ok := r.b.(backend.Restorer)
	if !ok {
		notBack("this registry's backend cannot push a manifest again; tag it by hand (crane tag REPOSITORY@" + d + " TAG)")
		return
	}
	s, err := r.saved(ctx, rs, d)
	switch {
	case errors.Is(err, backend.ErrNotFound) && rec.Outcome == Failed:
		// The failed DELETE did its work after all: nothing to tag, and
		// nothing left untagged.
		if r.goneAfterFailure == nil {
			r.goneAfterFailure = map[string]bool{}
		}
		r.goneAfterFailure[d] = true
		rec.Reason += "; the manifest is gone nonetheless (a read by digest after the failure found nothing)"
		return
	case err != nil:
		notBack("reading the manifest to push it again failed: " + err.Error())
		return
	}
	// A tag pushed elsewhere since it went is someone else's now.
	var free, moved []string
	var back []int
	for j, t := range tags {
		if r.tagFree(ctx, t, d) {
			free = append(free, t)
			back = append(back, ks[j])
		} else {
			moved = append(moved, t)
		}
	}
	if len(free) > 0 {
		if err := rs.RestoreManifest(ctx, s, free); err != nil {
			notBack("pushing it again failed: " + err.Error())
			return
		}
		for _, k := range back {
			o := &r.records[k]
			o.Outcome, o.Tags = Restored, nil
			o.Reason = fmt.Sprintf("removed ahead of deleting %s, then put back because %s", d, why)
		}
		rec.Reason += "; its tags removed ahead of the deletion are put back: " + strings.Join(free, ", ")
		r.logf("put back %s on %s: %s", strings.Join(free, ", "), d, why)
	}
	if len(moved) > 0 {
		tags = moved
		notBack("they name another manifest now, or could not be checked")
	}
}

// saved is d's content: saved before its deletion where it belongs to a
// unit, else read now (it still exists).
func (r *runner) saved(ctx context.Context, rs backend.Restorer, d string) (backend.Saved, error) {
	if r.units != nil {
		r.units.mu.Lock()
		s, ok := r.units.saved[d]
		r.units.mu.Unlock()
		if ok {
			return s, nil
		}
	}
	return rs.SaveManifest(ctx, r.manifest(d))
}

// repairContext is ctx, or, once the run is cancelled, a context that
// gives putting back what the run took the grace an operation in flight
// gets.
func (r *runner) repairContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), r.opts.InFlightGrace)
}
