package plan

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

func TestUnits(t *testing.T) {
	t0 := daysAgo(10)
	// A sha512 image whose referrers index is tagged by the OCI fallback
	// scheme, which cuts the subject's hex at 64 characters.
	long := "sha512:" + strings.Repeat("ab", 64)
	fallback := "sha512-" + strings.Repeat("ab", 32)
	cases := []struct {
		name    string
		graph   func() *graph.Graph
		deleted []string // names, or digests where they start with "sha"
		want    [][]string
	}{
		{
			name: "an index, its children and a child's signature; a loose image alone",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).index("i", t0, []string{"c1", "c2"}, "pr-1").ref("s", "c1").img("a", t0, "pr-2").done()
			},
			deleted: []string{"i", "c1", "c2", "s", "a"},
			want:    [][]string{{"i", "c1", "c2", "s"}, {"a"}},
		},
		{
			name: "two images sharing a child",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).index("i1", t0, []string{"c"}, "pr-1").index("i2", t0, []string{"c"}, "pr-2").done()
			},
			deleted: []string{"i1", "i2", "c"},
			want:    [][]string{{"i1", "i2", "c"}},
		},
		{
			name: "a signature whose subject is kept goes alone",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("x", t0, "latest").ref("s", "x").img("a", t0, "pr-1").done()
			},
			deleted: []string{"s", "a"},
			want:    [][]string{{"s"}, {"a"}},
		},
		{
			name: "a nested index with its children and a signature by tag",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).index("inner", t0, []string{"c1", "c2"}).index("outer", t0, []string{"inner"}, "pr-1").sig("s", "outer").done()
			},
			deleted: []string{"outer", "inner", "c1", "c2", "s"},
			want:    [][]string{{"outer", "inner", "c1", "c2", "s"}},
		},
		{
			name: "linked only through deleted manifests, never through a kept one",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).index("i", t0, []string{"x"}, "pr-1").index("k", t0, []string{"x"}, "latest").ref("s", "x").done()
			},
			deleted: []string{"i", "s"},
			want:    [][]string{{"i"}, {"s"}},
		},
		{
			name: "a referrers index found by its truncated fallback tag",
			graph: func() *graph.Graph {
				f := newFx(capsGitHub)
				m := f.g.Manifest(long)
				m.Kind = graph.KindImage
				f.g.SetTag("pr-1", long)
				f.add("f", graph.KindReferrer, time.Time{}, fallback)
				return f.done()
			},
			deleted: []string{long, "f"},
			want:    [][]string{{long, "f"}},
		},
		{
			name: "a self-reference links nothing",
			graph: func() *graph.Graph {
				f := newFx(capsOCI3)
				f.add("self", graph.KindIndex, t0, "pr-1").Children = []string{dg("self")}
				f.add("r", graph.KindReferrer, t0, "pr-2").Subject = dg("r")
				return f.done()
			},
			deleted: []string{"self", "r"},
			want:    [][]string{{"self"}, {"r"}},
		},
		{
			name:    "a digest the graph does not hold goes alone",
			graph:   func() *graph.Graph { return newFx(capsOCI3).img("a", t0, "pr-1").done() },
			deleted: []string{"a", "ghost"},
			want:    [][]string{{"a"}, {"ghost"}},
		},
		{
			name:    "nothing deleted",
			graph:   func() *graph.Graph { return newFx(capsOCI3).img("a", t0, "pr-1").done() },
			deleted: nil,
			want:    nil,
		},
	}
	digest := func(n string) string {
		if strings.HasPrefix(n, "sha") {
			return n
		}
		return dg(n)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var deleted []string
			for _, n := range tc.deleted {
				deleted = append(deleted, digest(n))
			}
			var want [][]string
			for _, u := range tc.want {
				var ds []string
				for _, n := range u {
					ds = append(ds, digest(n))
				}
				slices.Sort(ds)
				want = append(want, ds)
			}
			slices.SortFunc(want, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
			if got := ReadReferences(tc.graph()).Units(deleted); !reflect.DeepEqual(got, want) {
				t.Errorf("Units = %v\nwant %v", got, want)
			}
		})
	}
}
