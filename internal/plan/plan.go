package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/regsweep/regsweep/internal/graph"
)

// DeletedDigests returns the digests of the manifests the plan deletes,
// sorted. With TagsOnly these go by removing their last tag.
func (p *Plan) DeletedDigests() []string {
	out := []string{}
	for _, m := range p.Manifests {
		if m.Action == Delete {
			out = append(out, m.Digest)
		}
	}
	return out
}

// DeletedTags returns the tags that will no longer exist, sorted: tags of
// deleted manifests and untagged tags.
func (p *Plan) DeletedTags() []string {
	out := []string{}
	for _, t := range p.Tags {
		if t.Action == Delete || t.Action == Untag {
			out = append(out, t.Tag)
		}
	}
	return out
}

// KeptMatching returns the tags that matched `tags` but stay, with the rule
// and reason, sorted by tag.
func (p *Plan) KeptMatching() []TagDecision {
	out := []TagDecision{}
	for _, t := range p.Tags {
		if t.Matched && t.Action == Keep {
			out = append(out, t)
		}
	}
	return out
}

// Counts are the plan's totals for outputs and the summary.
type Counts struct {
	DeletedManifests int `json:"deletedManifests"`
	DeletedTags      int `json:"deletedTags"`  // tags gone with their manifest
	UntaggedTags     int `json:"untaggedTags"` // tags removed, manifest kept
	KeptMatching     int `json:"keptMatching"`
	KeptManifests    int `json:"keptManifests"`
	Ops              int `json:"ops"`
}

// Counts totals the plan.
func (p *Plan) Counts() Counts {
	var c Counts
	for _, m := range p.Manifests {
		if m.Action == Delete {
			c.DeletedManifests++
		} else {
			c.KeptManifests++
		}
	}
	for _, t := range p.Tags {
		switch {
		case t.Action == Delete:
			c.DeletedTags++
		case t.Action == Untag:
			c.UntaggedTags++
		case t.Matched:
			c.KeptMatching++
		}
	}
	for _, ph := range p.Phases {
		c.Ops += len(ph)
	}
	return c
}

// NeedsUntagProbe reports that the plan untags tags on a registry whose
// untag support is not known yet: the caller should probe it and, if the
// answer is no, set Capabilities.Untag and build the plan again. It also
// reports a plan large enough for the schedule to remove doomed tags first,
// which it does only once the registry is known to untag.
func (p *Plan) NeedsUntagProbe() bool {
	if p.Capabilities.Untag != graph.Unknown || p.Capabilities.TagsOnly {
		return false
	}
	if p.probeForSchedule {
		return true
	}
	for _, t := range p.Tags {
		if t.Action == Untag {
			return true
		}
	}
	return false
}

// Decisions indexes p's decisions: the manifests' by digest, the tags' by
// tag.
func (p *Plan) Decisions() (map[string]ManifestDecision, map[string]TagDecision) {
	man := make(map[string]ManifestDecision, len(p.Manifests))
	for _, m := range p.Manifests {
		man[m.Digest] = m
	}
	tag := make(map[string]TagDecision, len(p.Tags))
	for _, t := range p.Tags {
		tag[t.Tag] = t
	}
	return man, tag
}

// String renders the plan for a terminal or a dry run: one line per
// operation in phase order, one per kept matching tag, then warnings and
// totals. Deterministic.
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan for %s (backend %s)\n", p.Repository, p.Backend)
	man, tag := p.Decisions()
	for i, ph := range p.Phases {
		for _, op := range ph {
			switch op.Kind {
			case OpDelete:
				m := man[op.Digest]
				tags := "untagged"
				if len(m.Tags) > 0 {
					tags = "tags " + strings.Join(m.Tags, ", ")
				}
				fmt.Fprintf(&b, "phase %d  delete %s (%s, %s): %s: %s\n", i, op.Digest, m.Kind, tags, m.Rule, m.Reason)
			case OpUntag:
				if op.BeforeDelete {
					fmt.Fprintf(&b, "phase %d  untag  %s (%s): first, so that deleting its manifest in phase %d is cheap\n", i, op.Tag, op.Digest, man[op.Digest].Phase)
					continue
				}
				t := tag[op.Tag]
				fmt.Fprintf(&b, "phase %d  untag  %s (%s): %s: %s\n", i, op.Tag, op.Digest, t.Rule, t.Reason)
			}
		}
	}
	for _, t := range p.KeptMatching() {
		fmt.Fprintf(&b, "keep     %s (%s): %s: %s\n", t.Tag, t.Digest, t.Rule, t.Reason)
	}
	if p.Ranking != "" {
		fmt.Fprintf(&b, "keep-latest ranked images by %s", p.Ranking)
		if len(p.IgnoredTags) > 0 {
			fmt.Fprintf(&b, "; not versions, ignored: %s", strings.Join(p.IgnoredTags, ", "))
		}
		b.WriteString("\n")
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	c := p.Counts()
	fmt.Fprintf(&b, "total: %d manifests deleted, %d tags deleted, %d tags untagged, %d matching tags kept\n",
		c.DeletedManifests, c.DeletedTags, c.UntaggedTags, c.KeptMatching)
	return b.String()
}

// Recheck is the pure part of the last-moment re-check (its sequence is in
// internal/apply/recheck.go): given a plan built from a fresh look at the
// registry, it returns a copy of p that performs only the operations BOTH
// plans perform. Anything else p would have deleted or untagged is kept
// with RuleChanged. Phases keep p's order.
func (p *Plan) Recheck(fresh *Plan) *Plan {
	freshOps := map[Op]bool{}
	for _, ph := range fresh.Phases {
		for _, op := range ph {
			freshOps[op] = true
		}
	}
	freshMan, freshTag := fresh.Decisions()

	out := &Plan{
		Repository:   p.Repository,
		Backend:      p.Backend,
		Capabilities: p.Capabilities,
		Tags:         append([]TagDecision(nil), p.Tags...),
		Manifests:    append([]ManifestDecision(nil), p.Manifests...),
		Phases:       [][]Op{},
		Warnings:     append([]string(nil), p.Warnings...),
		Ranking:      p.Ranking,
		IgnoredTags:  p.IgnoredTags,
	}
	dropped := 0
	// Ops survive only when the fresh plan does the same; a manifest stays
	// deleted only when the fresh plan deletes it too.
	keepOp := map[Op]bool{}
	for _, ph := range p.Phases {
		for _, op := range ph {
			if op.BeforeDelete {
				// A schedule choice, not a decision: it stands or falls
				// with its tag's removal, checked below.
				keepOp[op] = true
				continue
			}
			if freshOps[op] && (op.Kind != OpDelete || freshMan[op.Digest].Action == Delete) {
				keepOp[op] = true
			} else {
				dropped++
			}
		}
	}
	changed := func(what string, now string) string {
		if now == "" {
			return what + " changed during the run and is no longer there to delete"
		}
		return what + " changed during the run; a fresh look keeps it: " + now
	}
	for i, m := range out.Manifests {
		if m.Action != Delete {
			continue
		}
		if !(freshMan[m.Digest].Action == Delete && keepOp[Op{Kind: OpDelete, Digest: m.Digest}]) {
			out.Manifests[i].Action, out.Manifests[i].Rule, out.Manifests[i].Phase = Keep, RuleChanged, 0
			out.Manifests[i].Reason = changed("the image", freshMan[m.Digest].Reason)
			delete(keepOp, Op{Kind: OpDelete, Digest: m.Digest})
		}
	}
	manDeleted := map[string]bool{}
	for _, m := range out.Manifests {
		if m.Action == Delete {
			manDeleted[m.Digest] = true
		}
	}
	for i, t := range out.Tags {
		var ok bool
		switch t.Action {
		case Untag:
			ok = keepOp[Op{Kind: OpUntag, Digest: t.Digest, Tag: t.Tag}]
		case Delete:
			ok = manDeleted[t.Digest]
		default:
			continue
		}
		// The fresh plan must remove the same tag from the same image, or
		// the record would claim a removal that did not happen.
		ft, inFresh := freshTag[t.Tag]
		ok = ok && inFresh && ft.Digest == t.Digest && ft.Action != Keep
		if !ok {
			out.Tags[i].Action, out.Tags[i].Rule = Keep, RuleChanged
			out.Tags[i].Reason = changed("the tag", ft.Reason)
			if inFresh && ft.Digest != t.Digest {
				out.Tags[i].Digest = ft.Digest
				out.Tags[i].Reason = "the tag moved to another image during the run; it stays"
			}
			if p.Capabilities.TagsOnly || t.Action == Untag {
				delete(keepOp, Op{Kind: OpUntag, Digest: t.Digest, Tag: t.Tag})
			}
			delete(keepOp, Op{Kind: OpUntag, Digest: t.Digest, Tag: t.Tag, BeforeDelete: true})
		}
	}
	// A tag the fresh look no longer has gets no decision: the re-checked
	// plan describes the registry as it is now (the apply step reports such
	// a planned tag as already absent, not as kept).
	out.Tags = slices.DeleteFunc(out.Tags, func(t TagDecision) bool { _, ok := freshTag[t.Tag]; return !ok })
	out.setPhases(p.Phases, func(op Op) bool { return keepOp[op] })
	if dropped > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("the registry changed during the run: %d planned operation(s) dropped by the last-moment re-check", dropped))
	}
	return out
}

// setPhases sets p's phases to the ops of phases that keep accepts, in
// their order, without the phases left empty, and renumbers the phase of
// every manifest p deletes to match. phases are the ones p's manifest
// phases number.
func (p *Plan) setPhases(phases [][]Op, keep func(Op) bool) {
	renumber := map[int]int{}
	p.Phases = [][]Op{}
	for i, ph := range phases {
		var ops []Op
		for _, op := range ph {
			if keep(op) {
				ops = append(ops, op)
			}
		}
		if len(ops) > 0 {
			renumber[i] = len(p.Phases)
			p.Phases = append(p.Phases, ops)
		}
	}
	for i, m := range p.Manifests {
		if m.Action == Delete {
			p.Manifests[i].Phase = renumber[m.Phase]
		}
	}
}
