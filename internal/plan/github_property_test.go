package plan

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/graph"
)

// TestGitHubChangesProperties is the GitHub Packages model of the re-check:
// every manifest is a listed version (untagged images, untagged indexes,
// indexes of indexes, tags on children), and between discovery and the
// re-check another pipeline tags an untagged version, pushes an index
// (untagged or matching) over old versions, or moves a tag. A version that
// appeared during the run is never deleted by it (the backend marks it so).
// The intersected plan must delete only what both plans delete, never a
// manifest something it keeps in the fresh graph names, and each index in a
// phase before its children.
func TestGitHubChangesProperties(t *testing.T) {
	for seed := range propertySeeds(t, 1500) {
		r := rand.New(rand.NewPCG(seed, 0x9c4))
		g1 := randomGitHubGraph(r)
		pol := randomPolicy(t, r)
		pol.Untagged = r.IntN(3) > 0
		g2 := cloneGraph(g1)
		ds := g2.SortedDigests()
		var what []string
		for range 1 + r.IntN(2) {
			switch r.IntN(3) {
			case 0:
				d := ds[r.IntN(len(ds))]
				g2.Tags["promoted"] = d
				what = append(what, "tag "+d[:15]+" promoted")
			case 1:
				d := dg(fmt.Sprint("new", seed, len(what)))
				m := g2.Manifest(d)
				m.Kind, m.Listed, m.Created, m.Undeletable = graph.KindIndex, true, testNow, "it appeared during the run"
				for range 1 + r.IntN(2) {
					m.Children = append(m.Children, ds[r.IntN(len(ds))])
				}
				if r.IntN(2) == 0 {
					g2.Tags["pr-new"] = d
				}
				what = append(what, fmt.Sprintf("push index %s over %v", d[:15], short(m.Children)))
			default:
				tags := g2.SortedTags()
				if len(tags) > 0 {
					tag := tags[r.IntN(len(tags))]
					g2.Tags[tag] = ds[r.IntN(len(ds))]
					what = append(what, "move "+tag)
				}
			}
		}
		g2.Finish()
		orig, fresh := Build(g1, pol, testNow), Build(g2, pol, testNow)
		got := orig.Recheck(fresh)
		var rec recorder
		checkRecheck(&rec, orig, fresh, got)
		checkInvariants(&rec, g2, pol, fresh)
		del, phase := map[string]bool{}, map[string]int{}
		for _, m := range got.Manifests {
			if m.Action == Delete {
				del[m.Digest], phase[m.Digest] = true, m.Phase
			}
		}
		for _, d := range g2.SortedDigests() {
			for _, c := range g2.Manifests[d].Children {
				switch {
				case del[c] && !del[d]:
					rec.Errorf("%s deleted, but %s, which stays, names it", c, d)
				case del[c] && phase[d] >= phase[c]:
					rec.Errorf("index %s (phase %d) not before its child %s (phase %d)", d, phase[d], c, phase[c])
				}
			}
		}
		if len(rec.msgs) > 0 {
			t.Fatalf("seed %d:\n%s\npolicy %s\nchanges: %s\nbefore:\n%s\nafter:\n%s\ngot:\n%s", seed, strings.Join(rec.msgs, "\n"),
				policyString(pol), strings.Join(what, "; "), dumpGraph(g1), dumpGraph(g2), got)
		}
	}
}

// randomGitHubGraph is a GHCR package: every manifest a listed version.
func randomGitHubGraph(r *rand.Rand) *graph.Graph {
	g := graph.New("ghcr.io/acme/app", "github", capsGitHub)
	var all []string
	for i := range 2 + r.IntN(12) {
		d := dg(fmt.Sprint("v", i))
		m := g.Manifest(d)
		m.Listed, m.Created, m.Kind = true, daysAgo(r.IntN(90)), graph.KindImage
		if len(all) > 0 && r.IntN(3) == 0 {
			m.Kind = graph.KindIndex
			for range 1 + r.IntN(3) {
				m.Children = append(m.Children, all[r.IntN(len(all))]) // nested when it names an index
			}
		}
		all = append(all, d)
	}
	for _, tag := range propTagPool {
		if r.IntN(3) > 0 {
			g.SetTag(tag, all[r.IntN(len(all))])
		}
	}
	g.Finish()
	return g
}
