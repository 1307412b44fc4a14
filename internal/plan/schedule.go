package plan

import (
	"maps"
	"slices"

	"github.com/regsweep/regsweep/internal/graph"
)

// DefaultUntagFirstAt is how many manifest deletions make removing their
// tags first pay, on a registry that can remove a tag alone (deleted in one
// phase; see untagFirstPays for the rule in general).
//
// Why: CNCF distribution's DELETE by digest reads every tag of the
// repository to find the ones naming the manifest, so deleting N single-tag
// images one by one makes it read about N²/2 tag links, while a DELETE by
// tag reads one. Removing the doomed tags first costs one more request per
// tag and leaves each DELETE by digest with only the kept tags to read. With
// a per-tag cost c on the server and a per-request cost u on the client,
// untagging first pays from about N = 2u/c deletions: on distribution 3.1.2
// with its filesystem driver, 20 ms per request and 16 in flight, that is
// around 100-200 (see internal/testkit/bench/RESULTS.md); below it, the extra
// requests cost more than they save, and today's single DELETE stays.
const DefaultUntagFirstAt = 150

// untagFirst returns, when the schedule removes doomed tags first, an
// OpUntag (BeforeDelete) for every tag that goes with its manifest. They
// run in phase 0 with the other untags, before any DELETE by digest.
//
// Safety is unchanged: only tags whose manifest the plan deletes are
// removed (never a kept tag), and until its DELETE such a manifest is
// merely untagged, still present, so nothing that references it dangles.
func (b *builder) untagFirst(tags []TagDecision, del map[string]bool, levels map[string]int) []Op {
	at := b.p.UntagFirstAt
	if at == 0 {
		at = DefaultUntagFirstAt
	}
	c := b.g.Capabilities
	if at < 0 || !c.DeleteManifest || c.TagsOnly || c.VersionDeletes || c.Untag != graph.Yes || len(del) < at {
		return nil
	}
	var ops []Op
	doomed := map[string]int{}
	for _, td := range tags {
		if td.Action == Delete && del[td.Digest] {
			ops = append(ops, Op{Kind: OpUntag, Digest: td.Digest, Tag: td.Tag, BeforeDelete: true})
			doomed[td.Digest]++
		}
	}
	ds := make([]scheduled, 0, len(del))
	for d := range del {
		ds = append(ds, scheduled{phase: levels[d], tags: doomed[d]})
	}
	if !untagFirstPays(at, ds) {
		return nil
	}
	return ops
}

// scheduled is one planned deletion as the schedule weighs it: its phase
// (its place in the order of deletion) and the tags it removes.
type scheduled struct{ phase, tags int }

// untagFirstPays weighs removing the doomed tags first. On distribution a
// DELETE by digest reads every tag still in the repository; removing a
// doomed tag first costs one request and saves one read of it by every
// DELETE by digest that would run while it exists: all those of earlier
// phases and, on average, half of its own phase's. It pays when a doomed
// tag would be read, on average, by at least at/2 of them. For a sweep
// deleted in one phase that is from at deletions, however many tags each
// image has (its cost and its savings both grow with them); deletions made
// after the tagged manifests (the platform manifests under a multi-arch
// index) read no doomed tag and do not count.
func untagFirstPays(at int, deletions []scheduled) bool {
	perPhase := map[int]int{}
	for _, d := range deletions {
		perPhase[d.phase]++
	}
	before, n := map[int]int{}, 0
	for _, p := range slices.Sorted(maps.Keys(perPhase)) {
		before[p] = n
		n += perPhase[p]
	}
	reads2, tags := 0, 0 // reads saved, counted twice to stay whole
	for _, d := range deletions {
		reads2 += d.tags * (2*before[d.phase] + perPhase[d.phase])
		tags += d.tags
	}
	return tags > 0 && reads2 >= at*tags
}

// wouldUntagFirst reports that the schedule would remove doomed tags first
// if the registry could remove a tag alone; the app then probes.
func (p *Plan) wouldUntagFirst(at int) bool {
	if at == 0 {
		at = DefaultUntagFirstAt
	}
	if at < 0 || !p.Capabilities.DeleteManifest || p.Capabilities.TagsOnly || p.Capabilities.VersionDeletes {
		return false
	}
	var ds []scheduled
	for _, m := range p.Manifests {
		if m.Action == Delete {
			ds = append(ds, scheduled{phase: m.Phase, tags: len(m.Tags)})
		}
	}
	return len(ds) >= at && untagFirstPays(at, ds)
}
