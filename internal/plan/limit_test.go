package plan

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

// deletedNames returns the fixture names of the manifests p deletes.
func deletedNames(p *Plan, names ...string) []string {
	var out []string
	for _, n := range names {
		if m, ok := manifestByName(p, n); ok && m.Action == Delete {
			out = append(out, n)
		}
	}
	return out
}

func TestLimit(t *testing.T) {
	prPolicy := func(t *testing.T) Policy {
		return Policy{Include: mustMatcher(t, "pr-*"), DeleteReferrers: true, UntagFirstAt: -1}
	}
	cases := []struct {
		name  string
		graph func() *graph.Graph
		max   int
		// names of the fixture's manifests; want are those still deleted.
		names    []string
		want     []string
		warning  string // a plan warning that must appear
		deferred int
		policy   func(t *testing.T) Policy // nil: prPolicy
	}{
		{
			name: "oldest first",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(90), "pr-1").img("b", daysAgo(30), "pr-2").img("c", daysAgo(60), "pr-3").done()
			},
			max: 2, names: []string{"a", "b", "c"}, want: []string{"a", "c"}, deferred: 1,
		},
		{
			name: "under the limit changes nothing",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(90), "pr-1").img("b", daysAgo(30), "pr-2").done()
			},
			max: 2, names: []string{"a", "b"}, want: []string{"a", "b"},
		},
		{
			name: "an index goes with its children or not at all",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).
					img("amd", daysAgo(80)).img("arm", daysAgo(80)).
					index("idx", time.Time{}, []string{"amd", "arm"}, "pr-1").
					img("b", daysAgo(30), "pr-2").done()
			},
			max: 3, names: []string{"idx", "amd", "arm", "b"}, want: []string{"idx", "amd", "arm"}, deferred: 1,
		},
		{
			name: "the first image that does not fit ends the batch",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).
					img("a", daysAgo(90), "pr-0").
					img("amd", daysAgo(80)).img("arm", daysAgo(80)).
					index("idx", time.Time{}, []string{"amd", "arm"}, "pr-1").
					img("b", daysAgo(30), "pr-2").done()
			},
			max: 3, names: []string{"a", "idx", "amd", "arm", "b"}, want: []string{"a"}, deferred: 4,
		},
		{
			name: "an image larger than max-deletions is passed over with a warning",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).
					img("amd", daysAgo(80)).img("arm", daysAgo(80)).
					index("idx", time.Time{}, []string{"amd", "arm"}, "pr-1").
					img("b", daysAgo(30), "pr-2").done()
			},
			max: 2, names: []string{"idx", "amd", "arm", "b"}, want: []string{"b"}, deferred: 3,
			warning: "never deleted in limit mode",
		},
		{
			name: "a signature goes with its image",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(90), "pr-1").sig("a-sig", "a").img("b", daysAgo(30), "pr-2").done()
			},
			max: 2, names: []string{"a", "a-sig", "b"}, want: []string{"a", "a-sig"}, deferred: 1,
		},
		{
			name: "the dangling-referrers warning counts the batch",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(90), "pr-1").sig("a-sig", "a").img("b", daysAgo(30), "pr-2").sig("b-sig", "b").done()
			},
			policy: func(t *testing.T) Policy { return Policy{Include: mustMatcher(t, "pr-*"), UntagFirstAt: -1} },
			max:    1, names: []string{"a", "b"}, want: []string{"a"}, deferred: 1,
			warning: "delete-referrers is off: 1 referrer(s)",
		},
		{
			name: "unknown ages come last",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", time.Time{}, "pr-1").img("b", daysAgo(5), "pr-2").done()
			},
			max: 1, names: []string{"a", "b"}, want: []string{"b"}, deferred: 1,
		},
		{
			name: "equal ages: the smaller digest first",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(9), "pr-1").img("b", daysAgo(9), "pr-2").done()
			},
			max: 1, names: []string{"a", "b"},
			want:     []string{map[bool]string{true: "a", false: "b"}[dg("a") < dg("b")]},
			deferred: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.graph()
			pol := prPolicy(t)
			if c.policy != nil {
				pol = c.policy(t)
			}
			orig := Build(g, pol, testNow)
			got := Limit([]Limited{{orig, g}}, c.max)[0]
			if d := deletedNames(got, c.names...); !reflect.DeepEqual(d, c.want) {
				t.Errorf("deleted %v, want %v\n%s", d, c.want, got)
			}
			if n := len(got.DeferredDigests()); n != c.deferred {
				t.Errorf("%d deferred, want %d\n%s", n, c.deferred, got)
			}
			if c.warning != "" && !containsSub(got.Warnings, c.warning) {
				t.Errorf("no warning %q: %q", c.warning, got.Warnings)
			}
			var rec recorder
			checkLimited(&rec, []Limited{{orig, g}}, []*Plan{got}, c.max)
			checkInvariants(&rec, g, pol, got)
			if len(rec.msgs) > 0 {
				t.Errorf("%s\n%s", strings.Join(rec.msgs, "\n"), got)
			}
		})
	}
}

// TestLimitAcrossRepositories: one budget for the whole run, oldest first
// whichever repository an image is in.
func TestLimitAcrossRepositories(t *testing.T) {
	pol := Policy{Include: mustMatcher(t, "pr-*"), UntagFirstAt: -1}
	g1 := newFx(capsOCI3).img("a", daysAgo(90), "pr-1").img("b", daysAgo(10), "pr-2").done()
	f2 := newFx(capsOCI3)
	f2.g.Repository = "registry.test/other"
	g2 := f2.img("c", daysAgo(50), "pr-1").img("d", daysAgo(5), "pr-2").done()
	in := []Limited{{Build(g1, pol, testNow), g1}, {Build(g2, pol, testNow), g2}}
	got := Limit(in, 2)
	if d1, d2 := deletedNames(got[0], "a", "b"), deletedNames(got[1], "c", "d"); !reflect.DeepEqual(d1, []string{"a"}) || !reflect.DeepEqual(d2, []string{"c"}) {
		t.Fatalf("deleted %v and %v, want [a] and [c]", d1, d2)
	}
	if in[0].Plan.Counts().DeletedManifests != 2 {
		t.Fatal("Limit changed the plan it was given")
	}
}

// TestLimitKeepsTheScheduleHonest: the untag-first schedule's early
// untags go with their deletion (a deferred image keeps its tags, so the
// next run finds it), and a repository with deferred images keeps its
// lone-tag removals for its last batch.
func TestLimitKeepsTheScheduleHonest(t *testing.T) {
	pol := Policy{Include: mustMatcher(t, "pr-*"), UntagFirstAt: 1}
	g := newFx(capsOCI3).
		img("a", daysAgo(90), "pr-1").
		img("b", daysAgo(10), "pr-2", "pr-2b").
		img("c", daysAgo(10), "pr-3", "v1").done()
	orig := Build(g, pol, testNow)
	got := Limit([]Limited{{orig, g}}, 1)[0]
	var ops []string
	for _, ph := range got.Phases {
		for _, op := range ph {
			ops = append(ops, fmt.Sprintf("%s %s %v", op.Kind, op.Tag, op.BeforeDelete))
			if op.Digest == dg("b") {
				t.Errorf("op %v for the deferred image", op)
			}
		}
	}
	slices.Sort(ops)
	want := []string{"delete  false", "untag pr-1 true"}
	if !reflect.DeepEqual(ops, want) {
		t.Fatalf("ops %q, want %q\n%s", ops, want, got)
	}
	for _, tag := range []string{"pr-2", "pr-2b", "pr-3"} {
		if td, _ := tagByName(got, tag); td.Action != Keep || td.Rule != RuleDeferred {
			t.Errorf("tag %s: %s %s, want keep %s", tag, td.Action, td.Rule, RuleDeferred)
		}
	}
}

// TestLimitTagsOnlyHiddenReferrer: on a tags-only registry the plan deletes
// a's subject only because deleting index i leaves its referrer r shown by
// no tag; a batch that defers i must defer a too, and a batch that deletes
// a must remove r's own tag with it, or r would dangle in plain sight.
func TestLimitTagsOnlyHiddenReferrer(t *testing.T) {
	pol := Policy{Include: mustMatcher(t, "pr-*"), DeleteReferrers: true}
	g := newFx(capsHub).img("a", daysAgo(90), "pr-1").ref("r", "a").index("i", daysAgo(5), []string{"r"}, "pr-2").done()
	orig := Build(g, pol, testNow)
	if n := orig.Counts().DeletedManifests; n != 2 {
		t.Fatalf("plan deletes %d manifests, want a and i:\n%s", n, orig)
	}
	if got := deletedNames(Limit([]Limited{{orig, g}}, 1)[0], "a", "i"); len(got) != 0 {
		t.Errorf("max 1 deleted %v, want nothing: a and i go together", got)
	}
	g2 := newFx(capsHub).img("a", daysAgo(90), "pr-1").ref("r", "a", "pr-3").index("i", daysAgo(5), []string{"r"}).
		img("b", daysAgo(1), "pr-4").done()
	orig2 := Build(g2, pol, testNow)
	got := Limit([]Limited{{orig2, g2}}, 1)[0]
	if td, _ := tagByName(got, "pr-3"); !slices.Equal(deletedNames(got, "a", "b"), []string{"a"}) || td.Action != Untag {
		t.Errorf("max 1: want a deleted and pr-3 removed with it, got\n%s", got)
	}
}

// TestLimitProperties: over random repositories, policies and limits, a
// limited run deletes at most max manifests, keeps every plan sound (the
// plan's own invariants, graph order included), changes nothing but the
// deferred decisions, takes older images first, and batches converge: runs
// in limit mode until nothing is left end at the state of one unlimited run.
func TestLimitProperties(t *testing.T) {
	for seed := range propertySeeds(t, 750) {
		r := rand.New(rand.NewPCG(seed, 0x11a1))
		n := 1 + r.IntN(3)
		graphs := make([]*graph.Graph, n)
		pols := make([]Policy, n)
		in := make([]Limited, n)
		total := 0
		for i := range n {
			graphs[i] = randomGraph(r)
			pols[i] = randomPolicy(t, r)
			in[i] = Limited{Build(graphs[i], pols[i], testNow), graphs[i]}
			total += in[i].Plan.Counts().DeletedManifests
		}
		max := 1 + r.IntN(total+1) // total+1: sometimes nothing is deferred
		got := Limit(in, max)
		var rec recorder
		checkLimited(&rec, in, got, max)
		for i := range n {
			checkInvariants(&rec, graphs[i], pols[i], got[i])
		}
		if len(rec.msgs) == 0 {
			checkConverges(&rec, in, pols, max)
		}
		if len(rec.msgs) > 0 {
			var b strings.Builder
			for i := range n {
				fmt.Fprintf(&b, "repository %d: policy %s caps %+v\n%s\noriginal:\n%s\nlimited:\n%s\n", i, policyString(pols[i]), graphs[i].Capabilities, dumpGraph(graphs[i]), in[i].Plan, got[i])
			}
			t.Fatalf("seed %d, max %d:\n%s\n%s", seed, max, strings.Join(rec.msgs, "\n"), b.String())
		}
	}
}

// floatingRanks: keep-latest ranked l's images by version and a floating
// tag (`v2`, `1.3`) was among the candidates. Such a tag ranks as the
// highest release of its line present, so deleting that release in an
// earlier batch can change which image a later batch keeps (2 of 931
// version-ranked random runs): batches are not compared with one run there.
func floatingRanks(l Limited) bool {
	if l.Plan.Ranking != RankVersion {
		return false
	}
	for _, td := range l.Plan.Tags {
		if vt, ok := parseVersionTag(td.Tag); ok && td.Matched && vt.full == nil {
			return true
		}
	}
	return false
}

// checkLimited checks got = Limit(in, max) against in, with the test's
// own reading of which manifests go together.
func checkLimited(t reporter, in []Limited, got []*Plan, max int) {
	t.Helper()
	deleted := 0
	type unitAge struct {
		newest time.Time
		size   int
	}
	var taken, left []unitAge
	for i, l := range in {
		orig, lim := l.Plan, got[i]
		deleted += lim.Counts().DeletedManifests
		if len(orig.Manifests) != len(lim.Manifests) || len(orig.Tags) != len(lim.Tags) {
			t.Errorf("repository %d: decisions added or lost", i)
			continue
		}
		for j, m := range lim.Manifests {
			o := orig.Manifests[j]
			switch {
			case m.Rule == RuleDeferred:
				if o.Action != Delete || m.Action != Keep {
					t.Errorf("%s deferred but was %s, now %s", m.Digest, o.Action, m.Action)
				}
			case m.Action == Delete:
				if o.Action != Delete {
					t.Errorf("%s deleted but the plan kept it", m.Digest)
				}
			default:
				o.Phase = m.Phase
				if !reflect.DeepEqual(m, o) {
					t.Errorf("%s changed without being deferred: %+v -> %+v", m.Digest, o, m)
				}
			}
		}
		lDel := map[string]bool{}
		for _, m := range lim.Manifests {
			lDel[m.Digest] = m.Action == Delete
		}
		for j, td := range lim.Tags {
			o := orig.Tags[j]
			if td.Rule == RuleDeferred {
				if (o.Action != Delete && o.Action != Untag) || td.Action != Keep || lDel[td.Digest] {
					t.Errorf("tag %s deferred but was %s, now %s", td.Tag, o.Action, td.Action)
				}
			} else if !reflect.DeepEqual(td, o) {
				t.Errorf("tag %s changed without being deferred: %+v -> %+v", td.Tag, o, td)
			}
		}
		// The test's units: deleted manifests joined by an index entry or a
		// subject, read from the graph with the property test's model.
		m := newModel(l.Graph)
		// The warning about dangling referrers counts this batch's.
		dangling := 0
		for r, s := range m.subject {
			if !lDel[r] && lDel[s] {
				dangling++
			}
		}
		had := slices.ContainsFunc(orig.Warnings, func(w string) bool { return strings.HasPrefix(w, "delete-referrers is off: ") })
		want := ""
		if had && dangling > 0 {
			want = fmt.Sprintf("delete-referrers is off: %d referrer(s)", dangling)
		}
		got := ""
		for _, w := range lim.Warnings {
			if strings.HasPrefix(w, "delete-referrers is off: ") {
				got = w
			}
		}
		if !strings.HasPrefix(got, want) || (want == "") != (got == "") {
			t.Errorf("repository %d: dangling referrers warning %q, want %q…", i, got, want)
		}
		oDel := map[string]ManifestDecision{}
		for _, md := range orig.Manifests {
			if md.Action == Delete {
				oDel[md.Digest] = md
			}
		}
		// On a tags-only registry a kept referrer shown only through
		// deleted indexes does not keep its subject: deferring one of those
		// indexes shows it again, so they go together.
		hidden := map[string][]string{}
		if l.Graph.Capabilities.TagsOnly {
			for r, s := range m.subject {
				if _, ok := oDel[s]; !ok {
					continue
				}
				if _, ok := oDel[r]; ok {
					continue
				}
				up := slices.Clone(m.parents[r])
				walked := map[string]bool{}
				for len(up) > 0 {
					p := up[0]
					up = up[1:]
					if walked[p] {
						continue
					}
					walked[p] = true
					if _, ok := oDel[p]; ok {
						hidden[s] = append(hidden[s], p)
						hidden[p] = append(hidden[p], s)
						continue
					}
					up = append(up, m.parents[p]...)
				}
			}
		}
		seen := map[string]bool{}
		for _, d := range slices.Sorted(maps.Keys(oDel)) {
			if seen[d] {
				continue
			}
			var u []string
			stack := []string{d}
			seen[d] = true
			for len(stack) > 0 {
				x := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				u = append(u, x)
				var next []string
				if man := l.Graph.Manifests[x]; man != nil {
					next = append(next, man.Children...)
				}
				next = append(next, m.parents[x]...)
				next = append(next, m.refsOf[x]...)
				next = append(next, hidden[x]...)
				if s, ok := m.subject[x]; ok {
					next = append(next, s)
				}
				for _, y := range next {
					if _, ok := oDel[y]; ok && !seen[y] {
						seen[y] = true
						stack = append(stack, y)
					}
				}
			}
			var ua unitAge
			ua.size = len(u)
			nDel := 0
			for _, x := range u {
				if c := oDel[x].Age; c.After(ua.newest) {
					ua.newest = c
				}
				if lDel[x] {
					nDel++
				}
			}
			switch nDel {
			case len(u):
				taken = append(taken, ua)
			case 0:
				if len(u) <= max {
					left = append(left, ua)
				}
			default:
				t.Errorf("repository %d: part of an image deleted: %d of %q", i, nDel, short(u))
			}
		}
	}
	if deleted > max {
		t.Errorf("%d manifests deleted, more than max-deletions %d", deleted, max)
	}
	if len(left) > 0 && len(taken) == 0 {
		t.Errorf("nothing deleted although an image of %d manifests fits in %d", left[0].size, max)
	}
	// Older first: no image left behind is older than one taken (an
	// unknown age counts as the youngest).
	for _, tk := range taken {
		for _, lf := range left {
			if !lf.newest.IsZero() && (tk.newest.IsZero() || lf.newest.Before(tk.newest)) {
				t.Errorf("an image of %s was left while a younger one (%s) was deleted", lf.newest.Format(time.DateOnly), tk.newest.Format(time.DateOnly))
			}
		}
	}
}

// applyTo returns g as the registry holds it after p ran: deleted
// manifests and removed tags gone, deleted digests answering 404.
func applyTo(g *graph.Graph, p *Plan) *graph.Graph {
	c := cloneGraph(g)
	for _, m := range p.Manifests {
		if m.Action == Delete {
			delete(c.Manifests, m.Digest)
			c.Absent[m.Digest] = true
		}
	}
	for _, td := range p.Tags {
		if td.Action != Keep {
			delete(c.Tags, td.Tag)
		}
	}
	c.Finish()
	return c
}

// checkConverges runs the repositories in limit mode until a run deletes
// nothing, and checks that each ends as one unlimited run leaves it. An
// image larger than max never goes in limit mode: such runs are not
// compared; nor are repositories with floatingRanks.
func checkConverges(t reporter, first []Limited, pols []Policy, max int) {
	t.Helper()
	var graphs []*graph.Graph
	for _, l := range first {
		graphs = append(graphs, l.Graph)
	}
	cur := slices.Clone(graphs)
	for round := 0; ; round++ {
		in := make([]Limited, len(cur))
		for i, g := range cur {
			in[i] = Limited{Build(g, pols[i], testNow), g}
		}
		got := Limit(in, max)
		deleted, deferred := 0, 0
		for i, p := range got {
			deleted += p.Counts().DeletedManifests
			deferred += len(p.DeferredDigests())
			cur[i] = applyTo(cur[i], p)
		}
		if deleted == 0 {
			if deferred > 0 {
				return // only images larger than max are left
			}
			break
		}
		if round > 100 {
			t.Errorf("limit mode did not converge in 100 runs")
			return
		}
	}
	for i, g := range graphs {
		if floatingRanks(first[i]) {
			continue
		}
		once := applyTo(g, first[i].Plan)
		if !reflect.DeepEqual(once.Tags, cur[i].Tags) || !reflect.DeepEqual(slices.Sorted(maps.Keys(once.Manifests)), slices.Sorted(maps.Keys(cur[i].Manifests))) {
			t.Errorf("repository %d: batches end at\n%s\none unlimited run at\n%s", i, dumpGraph(cur[i]), dumpGraph(once))
		}
	}
}
