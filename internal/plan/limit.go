package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

// Limited is one repository's plan for Limit: the finished plan and the
// graph it was built from (the references between its manifests).
type Limited struct {
	Plan  *Plan
	Graph *graph.Graph
}

// unit is a set of deleted manifests of one plan that go together or not
// at all (References.Units).
type unit struct {
	repo    int
	digests []string  // sorted
	newest  time.Time // the youngest known age among them; zero when none is known
}

// Limit cuts the deletions of a run's plans to at most max manifests
// (max-deletions-mode: limit): the oldest images go first, across every
// repository, and whole units at a time, so the graph order holds in what
// is left (never a child without its index, never a subject before its
// referrers). Ties go to the repository listed first, then the smaller
// digest. An image of unknown age comes after every image of known age.
//
// The first unit that does not fit in what is left of max ends the
// selection, so a later run resumes with it; a unit larger than max itself
// could never go and is passed over, with a warning. A manifest not chosen
// is kept with RuleDeferred, its tags too, and the ops for it are dropped
// (with the untag-first schedule's early untags, which would otherwise
// leave it untagged and out of the next run's reach). A repository with
// deferred manifests also keeps its lone-tag removals (untags) for its
// last batch, so that every run decides from the tags this plan saw.
//
// It returns new plans; the given ones are not changed. max <= 0 changes
// nothing.
func Limit(in []Limited, max int) []*Plan {
	out := make([]*Plan, len(in))
	for i, l := range in {
		out[i] = l.Plan
	}
	if max <= 0 {
		return out
	}
	var units []unit
	builders := make([]*builder, len(in))
	for i, l := range in {
		if l.Plan != nil {
			// The builder's indexes are the one reading of the graph's
			// references (children, subject fields, referrer tags).
			builders[i] = newBuilder(l.Graph, Policy{}, time.Time{})
			units = append(units, planUnits(i, l.Plan, builders[i])...)
		}
	}
	slices.SortStableFunc(units, func(a, b unit) int {
		if az, bz := a.newest.IsZero(), b.newest.IsZero(); az != bz {
			if az {
				return 1
			}
			return -1
		}
		if c := a.newest.Compare(b.newest); c != 0 {
			return c
		}
		if c := cmp.Compare(a.repo, b.repo); c != 0 {
			return c
		}
		return strings.Compare(a.digests[0], b.digests[0])
	})

	deferred := make([]map[string]string, len(in)) // repo -> digest -> reason
	oversize := make([][]string, len(in))
	left, full := max, false
	for _, u := range units {
		var why string
		switch {
		case len(u.digests) > max:
			why = fmt.Sprintf("its image has %d manifests that go together, more than max-deletions (%d): limit mode cannot delete it; raise max-deletions", len(u.digests), max)
			oversize[u.repo] = append(oversize[u.repo], fmt.Sprintf("%s (%d manifests)", u.digests[0], len(u.digests)))
		case full || len(u.digests) > left:
			full = true
			why = fmt.Sprintf("max-deletions (%d) was reached in limit mode, older images first; it is left for the next run", max)
		default:
			left -= len(u.digests)
			continue
		}
		if deferred[u.repo] == nil {
			deferred[u.repo] = map[string]string{}
		}
		for _, d := range u.digests {
			deferred[u.repo][d] = why
		}
	}
	for i := range in {
		if len(deferred[i]) > 0 {
			out[i] = in[i].Plan.deferAll(builders[i], deferred[i], oversize[i], max)
		}
	}
	return out
}

// planUnits splits the deleted manifests of p into units
// (References.Units), with the youngest known age of each; b reads p's
// graph.
func planUnits(repo int, p *Plan, b *builder) []unit {
	age := map[string]time.Time{}
	for _, m := range p.Manifests {
		if m.Action == Delete {
			age[m.Digest] = m.Age
		}
	}
	var out []unit
	for _, ds := range hiddenLinks(b, b.references().Units(sortedKeys(age)), age) {
		u := unit{repo: repo, digests: ds}
		for _, d := range ds {
			if c := age[d]; c.After(u.newest) {
				u.newest = c
			}
		}
		out = append(out, u)
	}
	return out
}

// hiddenLinks joins units that a tags-only registry ties through a kept
// referrer: the plan deletes the referrer's subject because nothing will
// show the referrer once its indexes are deleted (shownAfter), so
// deferring one of those indexes, which keeps its tags, must defer the
// subject too. deleted holds the plan's deleted digests.
func hiddenLinks[V any](b *builder, units [][]string, deleted map[string]V) [][]string {
	if !b.g.Capabilities.TagsOnly {
		return units
	}
	of := map[string]int{}
	for i, u := range units {
		for _, d := range u {
			of[d] = i
		}
	}
	joined := false
	for _, r := range b.digests {
		s := b.subject[r]
		si, ok := of[s]
		if _, gone := deleted[r]; gone || !b.isRef[r] || !ok {
			continue
		}
		seen := map[string]bool{}
		var up func(d string)
		up = func(d string) {
			for _, p := range b.parents[d] {
				if seen[p] {
					continue
				}
				seen[p] = true
				if pi, ok := of[p]; ok {
					if pi != si {
						units[si] = append(units[si], units[pi]...)
						for _, x := range units[pi] {
							of[x] = si
						}
						units[pi] = nil
						joined = true
					}
					continue
				}
				up(p)
			}
		}
		up(r)
	}
	if !joined {
		return units
	}
	var out [][]string
	for _, u := range units {
		if len(u) > 0 {
			slices.Sort(u)
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, c []string) int { return strings.Compare(a[0], c[0]) })
	return out
}

// deferAll returns a copy of p that keeps the manifests of deferred, with
// the reasons given, and everything that only their deletion would do; b
// reads p's graph.
func (p *Plan) deferAll(b *builder, deferred map[string]string, oversize []string, max int) *Plan {
	out := *p
	out.Tags = slices.Clone(p.Tags)
	out.Manifests = slices.Clone(p.Manifests)
	out.Warnings = slices.Clone(p.Warnings)
	for i, m := range out.Manifests {
		if why, ok := deferred[m.Digest]; ok && m.Action == Delete {
			out.Manifests[i].Action, out.Manifests[i].Rule, out.Manifests[i].Reason, out.Manifests[i].Phase = Keep, RuleDeferred, why, 0
		}
	}
	hides := b.untagsThatFreeSubjects(out.Manifests)
	for i, t := range out.Tags {
		why, ok := deferred[t.Digest]
		switch {
		case ok && t.Action == Delete:
			out.Tags[i].Action, out.Tags[i].Rule, out.Tags[i].Reason = Keep, RuleDeferred, why
		case t.Action == Untag && hides[t.Digest]:
			// Removing it is what lets this batch delete a subject.
		case t.Action == Untag:
			// A tag removed alone can be what ranks a deferred image
			// (keep-latest reads the tags of an index's platform
			// manifests): removed now, the next run would rank that
			// image otherwise than this plan did. It goes with the
			// repository's last batch.
			out.Tags[i].Action, out.Tags[i].Rule = Keep, RuleDeferred
			out.Tags[i].Reason = "max-deletions was reached in limit mode and images of this repository are left for the next run; the tag is removed alone with the last of them"
		}
	}
	out.setPhases(p.Phases, func(op Op) bool {
		_, gone := deferred[op.Digest]
		return !gone && (op.Kind != OpUntag || op.BeforeDelete || hides[op.Digest])
	})
	// The warning about referrers left dangling counts the subjects this
	// batch deletes, not the plan's.
	del := map[string]bool{}
	for _, m := range out.Manifests {
		del[m.Digest] = m.Action == Delete
	}
	for i, w := range out.Warnings {
		if strings.HasPrefix(w, danglingPrefix) {
			out.Warnings = slices.Delete(out.Warnings, i, i+1)
			if dw := b.danglingWarning(del); dw != "" {
				out.Warnings = slices.Insert(out.Warnings, i, dw)
			}
			break
		}
	}
	if len(oversize) > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("max-deletions-mode limit: %d image(s) have more manifests than max-deletions (%d) and are never deleted in limit mode; raise max-deletions: %s", len(oversize), max, strings.Join(oversize, ", ")))
	}
	return &out
}

// untagsThatFreeSubjects: on a tags-only registry the plan deletes the
// subject of a kept referrer when its untags leave the referrer shown by
// no tag (shownAfter). Those untags, on the referrer and on the kept
// indexes above it, must go in the batch that deletes the subject, or the
// registry would show the referrer dangling until the last batch. It
// returns the digests whose untags must not wait, given the batch's
// manifest decisions.
func (b *builder) untagsThatFreeSubjects(ms []ManifestDecision) map[string]bool {
	out := map[string]bool{}
	if !b.g.Capabilities.TagsOnly {
		return out
	}
	del := map[string]bool{}
	for _, m := range ms {
		del[m.Digest] = m.Action == Delete
	}
	var up func(d string)
	up = func(d string) {
		if del[d] || out[d] {
			return
		}
		out[d] = true
		for _, p := range b.parents[d] {
			up(p)
		}
	}
	for _, r := range b.digests {
		if b.isRef[r] && del[b.subject[r]] {
			up(r)
		}
	}
	return out
}

// DeferredDigests returns the digests of the manifests a limit left for a
// later run, sorted.
func (p *Plan) DeferredDigests() []string {
	out := []string{}
	for _, m := range p.Manifests {
		if m.Rule == RuleDeferred {
			out = append(out, m.Digest)
		}
	}
	return out
}

// danglingPrefix starts danglingWarning's sentence.
const danglingPrefix = "delete-referrers is off: "

// danglingWarning says how many referrers stay while del deletes their
// subject (with delete-referrers off, the caller's condition); "" when none.
func (b *builder) danglingWarning(del map[string]bool) string {
	n := 0
	for _, d := range b.digests {
		if b.isRef[d] && !del[d] && del[b.subject[d]] {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(danglingPrefix+"%d referrer(s) (signatures, attestations, SBOMs) of deleted images stay and will point at missing images", n)
}
