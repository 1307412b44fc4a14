package plan

import (
	"slices"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

// References is the plan's reading of who references whom in a graph: an
// index references the children it lists, a referrer its subject, named by
// its subject field or else by its referrer tag (a truncated sha512 fallback
// tag included, where GitHub Packages and Docker Hub leave the subject field
// empty). The plan orders its phases by this reading, and apply holds a
// deletion back and puts deletions back by the same one, so that the two
// never disagree about what a deletion would leave dangling.
type References struct {
	parents     map[string][]string // child -> sorted indexes listing it
	referrersOf map[string][]string // subject -> sorted referrers
}

// ReadReferences reads g's references the plan's way.
func ReadReferences(g *graph.Graph) References {
	return newBuilder(g, Policy{}, time.Time{}).references()
}

// references shares b's reading of the graph.
func (b *builder) references() References {
	return References{parents: b.parents, referrersOf: b.referrersOf}
}

// To returns the manifests that reference d (the indexes listing it, its
// referrers), sorted.
func (refs References) To(d string) []string {
	out := append(slices.Clone(refs.parents[d]), refs.referrersOf[d]...)
	slices.Sort(out)
	return slices.Compact(out)
}

// Units splits deleted, manifests of the graph to be deleted, into units:
// the sets whose deletions belong together, connected by a reference
// between two of them (an index and the children it lists, a referrer and
// its subject). Deleting part of a unit would leave a kept manifest
// referring to a deleted one, or a deleted index's child behind with no tag
// to find it by. A manifest referenced by no other deleted one is a unit of
// its own.
//
// Both the limit (max-deletions-mode: limit, which defers whole units) and
// the apply step (which puts a unit back when the registry refuses one of
// its members) read units from here. Each unit is sorted, and the units are
// in the order of their first digests.
func (refs References) Units(deleted []string) [][]string {
	del := make(map[string]bool, len(deleted))
	for _, d := range deleted {
		del[d] = true
	}
	root := map[string]string{}
	var find func(d string) string
	find = func(d string) string {
		r, ok := root[d]
		if !ok || r == d {
			return d
		}
		r = find(r)
		root[d] = r
		return r
	}
	// The smaller digest is the root, so the result depends on no map
	// order.
	union := func(a, c string) {
		ra, rc := find(a), find(c)
		if ra == rc {
			return
		}
		if rc < ra {
			ra, rc = rc, ra
		}
		root[rc] = ra
	}
	digests := sortedKeys(del)
	for _, d := range digests {
		for _, o := range refs.To(d) {
			if del[o] {
				union(d, o)
			}
		}
	}
	// Digests in order: each unit is sorted, and starts at its first.
	byRoot := map[string]int{}
	var out [][]string
	for _, d := range digests {
		r := find(d)
		i, ok := byRoot[r]
		if !ok {
			i = len(out)
			byRoot[r] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], d)
	}
	return out
}
