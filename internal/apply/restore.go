package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/plan"
)

// Restored: the manifest was deleted, then put back because the registry
// refused to delete another part of its image (a refused subject keeps its
// signatures, a refused child its index). Kept, not counted as deleted.
const Restored Outcome = "restored"

// A registry refuses some deletions by its own rules only when they are
// tried, and the order of deletion puts what depends on a manifest first: a
// referrer before its subject, an index before its children. So when the
// registry refuses a subject or a child, its signatures or its index are
// already gone. Deletions that belong together form a unit (an index, its
// children, their signatures and attestations): the runner saves the exact
// content of each unit member before deleting it, and when the registry
// refuses one member, it puts back every member it deleted and skips the
// ones not reached, so the unit stays as it was, with its tags.
type units struct {
	rs backend.Restorer
	// of maps a delete record to its unit (a representative record
	// index); records deleted alone are absent.
	of map[int]int

	mu    sync.Mutex
	saved map[string]backend.Saved // by digest
}

// planUnits groups the delete records whose deletions belong together
// (plan.References.Units: an index and its children, a subject and its
// referrers), where the backend can put a deleted manifest back.
func (r *runner) planUnits() {
	rs, ok := r.b.(backend.Restorer)
	if !ok {
		return
	}
	var of map[int]int
	for _, u := range r.refs.Units(slices.Collect(maps.Keys(r.deleteIdx))) {
		if len(u) < 2 {
			continue // deleted alone: nothing to save
		}
		if of == nil {
			of = map[int]int{}
		}
		for _, d := range u {
			of[r.deleteIdx[d]] = r.deleteIdx[u[0]]
		}
	}
	if of != nil {
		r.units = &units{rs: rs, of: of, saved: map[string]backend.Saved{}}
	}
}

// save reads a unit member's content before its deletion. Members deleted
// alone and backends that cannot restore cost nothing.
func (r *runner) save(ctx context.Context, i int) error {
	if r.units == nil {
		return nil
	}
	if _, ok := r.units.of[i]; !ok {
		return nil
	}
	s, err := r.units.rs.SaveManifest(ctx, r.manifest(r.records[i].Op.Digest))
	if err != nil {
		return err
	}
	r.units.mu.Lock()
	r.units.saved[s.Digest] = s
	r.units.mu.Unlock()
	return nil
}

// restoreRefused runs at the barrier after phase: for every deletion the
// registry refused in it, the refused manifest's unit is put back and its
// members not reached yet are skipped. Nothing else is in flight.
func (r *runner) restoreRefused(ctx context.Context, phase int) {
	if r.units == nil {
		return
	}
	for i := range r.records {
		rec := &r.records[i]
		if r.phaseOf[i] != phase || rec.Op.Kind != plan.OpDelete || rec.Outcome != Refused {
			continue
		}
		if ctx.Err() != nil {
			// Cancelled: putting back what was taken still has the grace
			// an operation in flight gets.
			c, cancel := r.repairContext(ctx)
			defer cancel()
			ctx = c
		}
		u, ok := r.units.of[i]
		if !ok {
			continue
		}
		refused := rec.Op.Digest
		var back []int
		for j, uj := range r.units.of {
			if uj != u || j == i {
				continue
			}
			switch o := &r.records[j]; o.Outcome {
			case "":
				o.Outcome = Skipped
				o.Reason = fmt.Sprintf("kept with %s, which the registry refused to delete", refused)
				r.logf("skipped delete %s: %s", o.Op.Digest, o.Reason)
			case Deleted:
				back = append(back, j)
			}
		}
		// What a manifest names goes back before it: children before their
		// index, a subject before its referrers (the later phase first).
		sort.Slice(back, func(a, b int) bool {
			if r.phaseOf[back[a]] != r.phaseOf[back[b]] {
				return r.phaseOf[back[a]] > r.phaseOf[back[b]]
			}
			return back[a] < back[b]
		})
		put := 0
		var lost []string
		for _, j := range back {
			if r.restore(ctx, j, refused) {
				put++
			} else {
				lost = append(lost, r.records[j].Op.Digest)
			}
		}
		if put > 0 {
			rec.Reason += fmt.Sprintf("; its image is kept whole: %d manifest(s) of it deleted before the refusal were put back", put)
		}
		if len(lost) > 0 {
			rec.Reason += fmt.Sprintf("; %d deleted before the refusal could not be put back: %s", len(lost), strings.Join(lost, ", "))
		}
	}
}

// restore puts record j's manifest back with its tags, as the registry
// refused to delete refused, which belongs to its image.
func (r *runner) restore(ctx context.Context, j int, refused string) bool {
	rec := &r.records[j]
	d := rec.Op.Digest
	r.units.mu.Lock()
	s, ok := r.units.saved[d]
	r.units.mu.Unlock()
	if !ok {
		rec.Reason = fmt.Sprintf("deleted; not put back after the registry refused to delete %s: its content was not saved", refused)
		r.logf("could not put back %s: %s", d, rec.Reason)
		return false
	}
	// A tag pushed elsewhere since it went is someone else's now.
	var tags, moved []string
	for _, t := range r.tags(d) {
		if r.tagFree(ctx, t, d) {
			tags = append(tags, t)
		} else {
			moved = append(moved, t)
		}
	}
	if err := r.units.rs.RestoreManifest(ctx, s, tags); err != nil {
		rec.Reason = fmt.Sprintf("deleted; putting it back after the registry refused to delete %s failed: %v", refused, err)
		r.logf("could not put back %s: %s", d, rec.Reason)
		return false
	}
	rec.Outcome = Restored
	rec.Tags = nil
	rec.Reason = fmt.Sprintf("deleted, then put back because the registry refused to delete %s, which belongs to the same image", refused)
	if len(tags) > 0 {
		rec.Reason += " (with " + strings.Join(tags, ", ") + ")"
	}
	if len(moved) > 0 {
		rec.Reason += "; not put back under " + strings.Join(moved, ", ") + ", which now name another manifest or could not be checked"
	}
	// Tags removed ahead of the deletion are back too.
	for k := range r.records {
		if o := &r.records[k]; o.Op.BeforeDelete && o.Op.Digest == d && o.Outcome.Gone() {
			o.Outcome, o.Tags, o.Reason = Restored, nil, rec.Reason
		}
	}
	r.logf("put back %s: %s", d, rec.Reason)
	return true
}

// tagFree says whether tag can be put back on d: it is gone, or still names
// d (some registries keep a tag after its manifest is deleted). Asked of the
// registry one tag at a time where it resolves tags, else from one listing
// with digests; false when neither can tell.
func (r *runner) tagFree(ctx context.Context, tag, d string) bool {
	if tr, ok := r.b.(backend.TagResolver); ok {
		now, err := tr.ResolveTag(ctx, tag)
		return errors.Is(err, backend.ErrNotFound) || err == nil && now == d
	}
	if r.listing == nil {
		l, err := r.b.ListTags(ctx)
		if err != nil {
			r.logf("list tags before putting back: %v", err)
			return false
		}
		r.listing = l
	}
	now, ok := r.listing[tag]
	return !ok || now == d
}
