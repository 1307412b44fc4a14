package plan

import "github.com/regsweep/regsweep/internal/graph"

// DefaultUntagFirstAt is how many manifest deletions make removing their
// tags first pay, on a registry that can remove a tag alone.
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
func (b *builder) untagFirst(tags []TagDecision, del map[string]bool) []Op {
	at := b.p.UntagFirstAt
	if at == 0 {
		at = DefaultUntagFirstAt
	}
	c := b.g.Capabilities
	if at < 0 || !c.DeleteManifest || c.TagsOnly || c.Untag != graph.Yes || len(del) < at {
		return nil
	}
	var ops []Op
	for _, td := range tags {
		if td.Action == Delete && del[td.Digest] {
			ops = append(ops, Op{Kind: OpUntag, Digest: td.Digest, Tag: td.Tag, BeforeDelete: true})
		}
	}
	return ops
}

// wouldUntagFirst reports that the schedule would remove doomed tags first
// if the registry could remove a tag alone; the app then probes.
func (p *Plan) wouldUntagFirst(at int) bool {
	if at == 0 {
		at = DefaultUntagFirstAt
	}
	if at < 0 || !p.Capabilities.DeleteManifest || p.Capabilities.TagsOnly {
		return false
	}
	n, tagged := 0, false
	for _, m := range p.Manifests {
		if m.Action == Delete {
			n++
			tagged = tagged || len(m.Tags) > 0
		}
	}
	return tagged && n >= at
}
