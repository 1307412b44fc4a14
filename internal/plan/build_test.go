package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

// expect maps "m:<name>" (manifest dg(name)) or "t:<tag>" to "action" or
// "action/rule".
type expect map[string]string

func checkExpect(t *testing.T, p *Plan, want expect) {
	t.Helper()
	for k, w := range want {
		kind, name, _ := strings.Cut(k, ":")
		var action Action
		var rule Rule
		var reason string
		switch kind {
		case "m":
			m, ok := manifestByName(p, name)
			if !ok {
				t.Errorf("no decision for manifest %s", name)
				continue
			}
			action, rule, reason = m.Action, m.Rule, m.Reason
		case "t":
			td, ok := tagByName(p, name)
			if !ok {
				t.Errorf("no decision for tag %s", name)
				continue
			}
			action, rule, reason = td.Action, td.Rule, td.Reason
		default:
			t.Fatalf("bad key %q", k)
		}
		wa, wr, hasRule := strings.Cut(w, "/")
		if string(action) != wa || (hasRule && string(rule) != wr) {
			t.Errorf("%s: got %s/%s (%s), want %s", k, action, rule, reason, w)
		}
	}
}

func TestBuildRules(t *testing.T) {
	prs := func(t testing.TB) Matcher { return mustMatcher(t, "pr-*") }
	tests := []struct {
		name     string
		graph    func() *graph.Graph
		policy   func(t testing.TB) Policy
		want     expect
		warn     string // a substring one warning must contain
		probe    bool   // NeedsUntagProbe
		noDelOps bool   // no OpDelete at all
		cyclic   bool   // a hostile graph no order can satisfy
	}{
		{
			name: "matching tags go, others stay",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(1), "pr-1").img("b", daysAgo(1), "latest").done()
			},
			policy: func(t testing.TB) Policy {
				return Policy{Include: prs(t)}
			},
			want: expect{"m:a": "delete/match", "t:pr-1": "delete/match", "m:b": "keep/tagged", "t:latest": "keep/no-match"},
		},
		{
			name:   "nil include matches nothing",
			graph:  func() *graph.Graph { return newFx(capsOCI3).img("a", daysAgo(1), "pr-1").done() },
			policy: func(t testing.TB) Policy { return Policy{} },
			want:   expect{"m:a": "keep", "t:pr-1": "keep/no-match"},
		},
		{
			name:  "two matching tags on one digest",
			graph: func() *graph.Graph { return newFx(capsOCI3).img("a", daysAgo(1), "pr-1", "pr-1-abc").done() },
			policy: func(t testing.TB) Policy {
				return Policy{Include: prs(t)}
			},
			want: expect{"m:a": "delete", "t:pr-1": "delete", "t:pr-1-abc": "delete"},
		},
		{
			name: "exclude wins over include",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(1), "pr-1").img("b", daysAgo(1), "pr-2").done()
			},
			policy: func(t testing.TB) Policy {
				return Policy{Include: prs(t), Exclude: mustMatcher(t, "pr-2")}
			},
			want: expect{"m:a": "delete", "m:b": "keep/exclude-tags", "t:pr-2": "keep/exclude-tags"},
		},
		{
			name:  "shared digest with latest, registry can untag",
			graph: func() *graph.Graph { return newFx(capsOCI3).img("a", daysAgo(1), "latest", "pr-7").done() },
			policy: func(t testing.TB) Policy {
				return Policy{Include: prs(t)}
			},
			want: expect{"m:a": "keep/tagged", "t:pr-7": "untag/shared-digest", "t:latest": "keep/no-match"},
		},
		{
			name:  "shared digest with latest, registry cannot untag",
			graph: func() *graph.Graph { return newFx(capsOCI2).img("a", daysAgo(1), "latest", "pr-7").done() },
			policy: func(t testing.TB) Policy {
				return Policy{Include: prs(t)}
			},
			want: expect{"m:a": "keep/tagged", "t:pr-7": "keep/cannot-untag", "t:latest": "keep"},
		},
		{
			name: "shared digest, untag unknown asks for a probe",
			graph: func() *graph.Graph {
				return newFx(graph.Capabilities{DeleteManifest: true}).img("a", daysAgo(1), "latest", "pr-7").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t)} },
			want:   expect{"t:pr-7": "untag/shared-digest"},
			probe:  true,
		},
		{
			name:  "github placeholder workaround allows untag",
			graph: func() *graph.Graph { return newFx(capsGitHub).img("a", daysAgo(1), "latest", "pr-7").done() },
			policy: func(t testing.TB) Policy {
				return Policy{Include: prs(t), UntagWithPlaceholder: true}
			},
			want: expect{"t:pr-7": "untag/shared-digest", "m:a": "keep"},
		},
		{
			name: "older-than with known, recent and unknown ages",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(40), "pr-1").img("b", daysAgo(10), "pr-2").img("c", time.Time{}, "pr-3").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t), OlderThan: 30 * 24 * time.Hour} },
			want:   expect{"m:a": "delete", "m:b": "keep/older-than", "t:pr-2": "keep/older-than", "m:c": "keep/age-unknown", "t:pr-3": "keep/age-unknown"},
		},
		{
			name: "index age is its newest child",
			graph: func() *graph.Graph {
				f := newFx(capsOCI3).
					img("i1-amd", daysAgo(40)).img("i1-arm", daysAgo(5)).index("i1", time.Time{}, []string{"i1-amd", "i1-arm"}, "pr-1").
					img("i2-amd", daysAgo(40)).img("i2-arm", daysAgo(35)).index("i2", time.Time{}, []string{"i2-amd", "i2-arm", "i2-att"}, "pr-2")
				att := f.g.Manifests[dg("i2-att")] // a buildx attestation: no time of its own
				att.Kind, att.Subject = graph.KindReferrer, dg("i2-amd")
				return f.done()
			},
			policy: func(t testing.TB) Policy {
				return Policy{Include: prs(t), OlderThan: 30 * 24 * time.Hour, DeleteReferrers: true}
			},
			want: expect{
				"m:i1": "keep/older-than", "m:i1-amd": "keep/child-of-kept-index", "m:i1-arm": "keep/child-of-kept-index",
				"m:i2": "delete/match", "m:i2-amd": "delete/child-of-deleted", "m:i2-arm": "delete/child-of-deleted", "m:i2-att": "delete",
			},
		},
		{
			name: "child shared with a kept index stays",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).index("v1", daysAgo(3), []string{"x", "y"}, "v1.0.0").index("pr", daysAgo(3), []string{"y", "z"}, "pr-3").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t)} },
			want: expect{
				"m:pr": "delete/match", "m:z": "delete/child-of-deleted", "m:y": "keep/child-of-kept-index",
				"m:x": "keep/child-of-kept-index", "m:v1": "keep/tagged",
			},
		},
		{
			name: "child with its own kept tag stays",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("x", daysAgo(1), "amd64-only").index("i", daysAgo(1), []string{"x", "w"}, "pr-1").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t)} },
			want:   expect{"m:i": "delete", "m:x": "keep/tagged", "m:w": "delete/child-of-deleted"},
		},
		{
			name: "matching tag on a child of a kept index is only untagged",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("x", daysAgo(1), "pr-1-amd64").index("i", daysAgo(1), []string{"x"}, "latest").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t)} },
			want:   expect{"m:x": "keep/child-of-kept-index", "t:pr-1-amd64": "untag/child-of-kept-index"},
		},
		{
			name: "child of deleted index not deleted without digest deletion",
			graph: func() *graph.Graph {
				return newFx(capsHub).index("i", daysAgo(1), []string{"x"}, "pr-1").done()
			},
			policy:   func(t testing.TB) Policy { return Policy{Include: prs(t)} },
			want:     expect{"m:i": "delete", "t:pr-1": "delete", "m:x": "keep/cannot-delete"},
			noDelOps: true,
		},
		{
			name: "referrers of a deleted image go with it",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(1), "pr-1").sig("s", "a").ref("r", "a").ref("r2", "r").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t), DeleteReferrers: true} },
			want: expect{
				"m:a": "delete/match", "m:s": "delete/referrer-of-deleted", "t:" + sigTag("a", ".sig"): "delete/referrer-of-deleted",
				"m:r": "delete/referrer-of-deleted", "m:r2": "delete/referrer-of-deleted",
			},
		},
		{
			name: "referrers kept when delete-referrers is off, with a warning",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(1), "pr-1").sig("s", "a").ref("r", "a").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t)} },
			want:   expect{"m:a": "delete", "m:s": "keep/delete-referrers-off", "m:r": "keep/delete-referrers-off"},
			warn:   "delete-referrers is off: 2 referrer(s)",
		},
		{
			name: "a referrer tag never protects its subject nor matches",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(1), "latest").sig("s", "a").img("b", daysAgo(1), "pr-1").sig("s2", "b").done()
			},
			policy: func(t testing.TB) Policy {
				return Policy{Include: mustMatcher(t, "*"), Exclude: mustMatcher(t, "latest"), DeleteReferrers: true}
			},
			want: expect{
				"m:a": "keep", "m:s": "keep/referrer-of-kept", "t:" + sigTag("a", ".sig"): "keep/referrer-of-kept",
				"m:b": "delete/match", "m:s2": "delete/referrer-of-deleted",
			},
		},
		{
			name: "orphan referrers deleted with delete-referrers",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).sig("s", "gone").ref("r", "gone2").img("a", daysAgo(1), "latest").
					absent("gone", "s").absent("gone2", "r").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t), DeleteReferrers: true} },
			want:   expect{"m:s": "delete/orphan-referrer", "m:r": "delete/orphan-referrer", "m:a": "keep"},
		},
		{
			name: "orphan referrers kept without delete-referrers",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).sig("s", "gone").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t)} },
			want:   expect{"m:s": "keep/delete-referrers-off"},
		},
		{
			name: "orphan referrer matching exclude stays",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).sig("s", "gone").done()
			},
			policy: func(t testing.TB) Policy {
				return Policy{Include: prs(t), Exclude: mustMatcher(t, "*.sig"), DeleteReferrers: true}
			},
			want: expect{"m:s": "keep/exclude-tags", "t:" + sigTag("gone", ".sig"): "keep/exclude-tags"},
		},
		{
			name: "an excluded signature keeps its subject (no dangling referrer)",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(1), "pr-1").sig("s", "a").done()
			},
			policy: func(t testing.TB) Policy {
				return Policy{Include: prs(t), Exclude: mustMatcher(t, "*.sig"), DeleteReferrers: true}
			},
			want: expect{"m:a": "keep/subject-of-kept-referrer", "t:pr-1": "untag", "m:s": "keep/exclude-tags"},
		},
		{
			// Docker Hub shows a manifest through its tags: once this run
			// removes pr-2, no tag reaches r (its index has none), so the
			// next run would not see r and would delete a; this run does.
			name: "tags-only: a referrer left unreachable by this run's untags does not keep its subject",
			graph: func() *graph.Graph {
				return newFx(capsHub).img("a", daysAgo(1), "pr-1").ref("r", "a", "pr-2").index("i", daysAgo(1), []string{"r"}).done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t), DeleteReferrers: true} },
			want:   expect{"m:a": "delete/match", "m:r": "keep/child-of-kept-index", "t:pr-2": "untag", "m:i": "keep/cannot-delete"},
		},
		{
			name: "tags-only: an untagged referrer a kept tagged index lists keeps its subject",
			graph: func() *graph.Graph {
				return newFx(capsHub).img("a", daysAgo(1), "pr-1").ref("r", "a").index("i", daysAgo(1), []string{"r"}, "latest").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t), DeleteReferrers: true} },
			want:   expect{"m:a": "keep/subject-of-kept-referrer", "t:pr-1": "untag", "m:r": "keep"},
		},
		{
			name: "referrers fallback index goes with its subject",
			graph: func() *graph.Graph {
				f := newFx(capsOCI3).img("a", daysAgo(1), "pr-1").ref("r1", "a").ref("r2", "a")
				fb := f.add("fallback", graph.KindIndex, time.Time{}, sigTag("a", ""))
				fb.Children = []string{dg("r1"), dg("r2")}
				return f.done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t), DeleteReferrers: true} },
			want:   expect{"m:a": "delete", "m:fallback": "delete/referrer-of-deleted", "m:r1": "delete", "m:r2": "delete"},
		},
		{
			name: "untagged manifests where the registry lists them",
			graph: func() *graph.Graph {
				return newFx(capsGitHub).listed("u1", daysAgo(5)).listed("u2", daysAgo(5)).listed("u3", daysAgo(5)).
					index("i", daysAgo(5), []string{"u2"}, "latest").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t), Untagged: true} },
			want:   expect{"m:u1": "delete/untagged", "m:u2": "keep/child-of-kept-index", "m:i": "keep"},
		},
		{
			name: "untagged off keeps untagged manifests",
			graph: func() *graph.Graph {
				return newFx(capsGitHub).listed("u1", daysAgo(5)).done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t)} },
			want:   expect{"m:u1": "keep/untagged-off"},
		},
		{
			name: "untagged obeys older-than",
			graph: func() *graph.Graph {
				return newFx(capsGitHub).listed("old", daysAgo(50)).listed("new", daysAgo(1)).listed("unknown", time.Time{}).done()
			},
			policy: func(t testing.TB) Policy { return Policy{Untagged: true, OlderThan: 7 * 24 * time.Hour} },
			want:   expect{"m:old": "delete/untagged", "m:new": "keep/older-than", "m:unknown": "keep/age-unknown"},
		},
		{
			name: "untagged on a registry that cannot list them warns",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(1), "pr-1").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t), Untagged: true} },
			want:   expect{"m:a": "delete"},
			warn:   "untagged: this registry cannot list untagged manifests",
		},
		{
			name: "undeletable versions are kept",
			graph: func() *graph.Graph {
				f := newFx(capsGitHub)
				f.add("a", graph.KindImage, daysAgo(1), "pr-1").Undeletable = "public version with more than 5000 downloads"
				return f.done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t)} },
			want:   expect{"m:a": "keep/undeletable", "t:pr-1": "keep/cannot-untag"},
		},
		{
			name: "registry that cannot delete manifests deletes nothing",
			graph: func() *graph.Graph {
				return newFx(graph.Capabilities{Untag: graph.No}).img("a", daysAgo(1), "pr-1").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t)} },
			want:   expect{"m:a": "keep/cannot-delete", "t:pr-1": "keep/cannot-untag"},
			warn:   "cannot delete manifests",
		},
		{
			name: "docker hub: tags are the unit of deletion",
			graph: func() *graph.Graph {
				return newFx(capsHub).img("a", daysAgo(1), "pr-1", "pr-1b").img("b", daysAgo(1), "latest", "pr-2").sig("s", "a").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t), DeleteReferrers: true} },
			want: expect{
				"m:a": "delete", "t:pr-1": "delete", "t:pr-1b": "delete", "m:b": "keep",
				"t:pr-2": "untag/shared-digest", "m:s": "delete/referrer-of-deleted",
			},
			noDelOps: true,
		},
		{
			name: "hostile cycles do not hang",
			graph: func() *graph.Graph {
				f := newFx(capsOCI3)
				f.add("i1", graph.KindIndex, daysAgo(1), "pr-1").Children = []string{dg("i2"), dg("i1")}
				f.add("i2", graph.KindIndex, daysAgo(1)).Children = []string{dg("i1")}
				r := f.add("r", graph.KindReferrer, time.Time{}, "pr-r")
				r.Subject = r.Digest
				return f.done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: prs(t), DeleteReferrers: true} },
			want:   expect{"m:i1": "delete", "m:i2": "delete", "m:r": "keep/referrer-of-kept"},
			cyclic: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Build(tt.graph(), tt.policy(t), testNow)
			checkExpect(t, p, tt.want)
			if tt.warn != "" && !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, tt.warn) }) {
				t.Errorf("no warning containing %q in %q", tt.warn, p.Warnings)
			}
			if got := p.NeedsUntagProbe(); got != tt.probe {
				t.Errorf("NeedsUntagProbe = %v, want %v", got, tt.probe)
			}
			for _, ph := range p.Phases {
				for _, op := range ph {
					if tt.noDelOps && op.Kind == OpDelete && !slices.Contains(p.DeletedDigests(), op.Digest) {
						t.Errorf("unexpected %v", op)
					}
				}
			}
			if !tt.cyclic {
				checkInvariants(t, tt.graph(), tt.policy(t), p)
			}
			if t.Failed() {
				t.Log("\n" + p.String())
			}
		})
	}
}

func TestKeepLatest(t *testing.T) {
	type tg struct {
		img     string
		tag     string
		created time.Time
	}
	tests := []struct {
		name string
		keep int
		tags []tg
		want []string // tags kept by keep-latest
	}{
		{"semver newest by version not time", 2, []tg{
			{"a", "v1.0.0", daysAgo(1)}, {"b", "v1.0.3", daysAgo(9)}, {"c", "v1.0.2", daysAgo(3)}, {"d", "v1.0.1", daysAgo(2)},
		}, []string{"v1.0.2", "v1.0.3"}},
		{"pre-releases order before their release", 2, []tg{
			{"a", "1.0.0-rc.1", daysAgo(3)}, {"b", "1.0.0-rc.2", daysAgo(2)}, {"c", "1.0.0", daysAgo(4)}, {"d", "0.9.0", daysAgo(1)},
		}, []string{"1.0.0", "1.0.0-rc.2"}},
		{"rc.10 after rc.2", 1, []tg{
			{"a", "1.0.0-rc.10", daysAgo(3)}, {"b", "1.0.0-rc.2", daysAgo(2)},
		}, []string{"1.0.0-rc.10"}},
		{"v prefix and short versions mix", 1, []tg{
			{"a", "v1.2.0", daysAgo(1)}, {"b", "1.10", daysAgo(5)}, {"c", "1.9.0", daysAgo(2)},
		}, []string{"1.10"}},
		{"no version at all ranks by creation time", 2, []tg{
			{"a", "sha-1", daysAgo(1)}, {"b", "sha-2", daysAgo(5)}, {"c", "nightly", daysAgo(2)},
		}, []string{"nightly", "sha-1"}},
		{"bare numbers are not versions", 1, []tg{
			{"a", "20240202", daysAgo(9)}, {"b", "20240101", daysAgo(1)},
		}, []string{"20240101"}},
		{"keep 0 is off", 0, []tg{
			{"a", "x1", daysAgo(1)}, {"b", "x2", daysAgo(2)},
		}, nil},
		{"keep N equal to count keeps all", 3, []tg{
			{"a", "x1", daysAgo(1)}, {"b", "x2", daysAgo(2)}, {"c", "x3", daysAgo(3)},
		}, []string{"x1", "x2", "x3"}},
		{"keep N above count keeps all", 10, []tg{
			{"a", "x1", daysAgo(1)}, {"b", "x2", daysAgo(2)},
		}, []string{"x1", "x2"}},
		{"keep N one below count deletes exactly the oldest", 2, []tg{
			{"a", "x1", daysAgo(1)}, {"b", "x2", daysAgo(2)}, {"c", "x3", daysAgo(3)},
		}, []string{"x1", "x2"}},
		{"two tags on one digest are one image", 2, []tg{
			{"a", "1.0.0", daysAgo(1)}, {"a", "1.0", daysAgo(1)}, {"b", "0.9.0", daysAgo(2)}, {"c", "0.8.0", daysAgo(3)},
		}, []string{"0.9.0", "1.0", "1.0.0"}},
		{"created ties break on tag name descending", 1, []tg{
			{"a", "a-build", daysAgo(1)}, {"b", "b-build", daysAgo(1)},
		}, []string{"b-build"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFx(capsOCI3)
			for _, x := range tt.tags {
				f.img(x.img, x.created, x.tag)
			}
			p := Build(f.done(), Policy{Include: mustMatcher(t, "*"), KeepLatest: tt.keep}, testNow)
			var kept []string
			for _, td := range p.Tags {
				if td.Rule == RuleKeepLatest {
					kept = append(kept, td.Tag)
					if td.Action != Keep {
						t.Errorf("%s has rule keep-latest but action %s", td.Tag, td.Action)
					}
				} else if td.Action != Delete {
					t.Errorf("%s: %s/%s, want delete", td.Tag, td.Action, td.Rule)
				}
			}
			if !slices.Equal(kept, tt.want) {
				t.Errorf("kept %q, want %q\n%s", kept, tt.want, p)
			}
		})
	}
}

func TestKeepLatestUnknownAgeIsKeptAndNotCounted(t *testing.T) {
	g := newFx(capsOCI3).img("a", time.Time{}, "x0").img("b", daysAgo(1), "x1").img("c", daysAgo(2), "x2").done()
	p := Build(g, Policy{Include: mustMatcher(t, "x*"), KeepLatest: 1}, testNow)
	checkExpect(t, p, expect{"t:x0": "keep/age-unknown", "t:x1": "keep/keep-latest", "t:x2": "delete"})
}

func TestKeepLatestIgnoresExcludedAndReferrers(t *testing.T) {
	g := newFx(capsOCI3).img("a", daysAgo(1), "v3").img("b", daysAgo(2), "v2").img("c", daysAgo(3), "v1").sig("s", "c").done()
	p := Build(g, Policy{Include: mustMatcher(t, "*"), Exclude: mustMatcher(t, "v3"), KeepLatest: 1, DeleteReferrers: true}, testNow)
	checkExpect(t, p, expect{"t:v3": "keep/exclude-tags", "t:v2": "keep/keep-latest", "t:v1": "delete", "m:s": "delete/referrer-of-deleted"})
}

func TestKeepLatestAndOlderThanBothMustAgree(t *testing.T) {
	g := newFx(capsOCI3).img("a", daysAgo(1), "b1").img("b", daysAgo(50), "b2").img("c", daysAgo(60), "b3").img("d", daysAgo(2), "b4").done()
	p := Build(g, Policy{Include: mustMatcher(t, "b*"), KeepLatest: 1, OlderThan: 30 * 24 * time.Hour}, testNow)
	checkExpect(t, p, expect{"t:b1": "keep/keep-latest", "t:b4": "keep/older-than", "t:b2": "delete", "t:b3": "delete"})
}

func TestParseVersion(t *testing.T) {
	for tag, ok := range map[string]bool{
		"1.2": true, "1.2.3": true, "v1.2.3": true, "1.0.0-rc.1": true, "1.0.0+build.5": true, "v1.2-beta": true,
		"v2": true, "v2.0": true, "1.2.3-amd64": true, "1.2.3-linux-arm64": true,
		"1": false, "20240101": false, "latest": false, "1.2.3.4": false, "01.2.3": false, "v": false, "": false, "v2-rc1": false,
	} {
		if got := parseVersion(tag) != nil; got != ok {
			t.Errorf("parseVersion(%q) ok=%v, want %v", tag, got, ok)
		}
	}
}

func TestPhasesOrderReferrersAndIndexes(t *testing.T) {
	g := newFx(capsOCI3).
		img("x", daysAgo(1)).index("i", daysAgo(1), []string{"x"}, "pr-1").
		ref("sig", "i").ref("sigsig", "sig").
		img("shared", daysAgo(1), "latest", "pr-2").
		done()
	p := Build(g, Policy{Include: mustMatcher(t, "pr-*"), DeleteReferrers: true}, testNow)
	want := [][]Op{
		{{Kind: OpUntag, Digest: dg("shared"), Tag: "pr-2"}},
		{{Kind: OpDelete, Digest: dg("sigsig")}},
		{{Kind: OpDelete, Digest: dg("sig")}},
		{{Kind: OpDelete, Digest: dg("i")}},
		{{Kind: OpDelete, Digest: dg("x")}},
	}
	if !slices.EqualFunc(p.Phases, want, slices.Equal) {
		t.Errorf("phases\n got %v\nwant %v", p.Phases, want)
	}
	for name, phase := range map[string]int{"sigsig": 1, "sig": 2, "i": 3, "x": 4} {
		if m, _ := manifestByName(p, name); m.Phase != phase {
			t.Errorf("%s phase %d, want %d", name, m.Phase, phase)
		}
	}
}

func TestHelpers(t *testing.T) {
	g := newFx(capsOCI2).img("a", daysAgo(1), "pr-1").img("b", daysAgo(1), "latest", "pr-2").img("c", daysAgo(1), "pr-3", "pr-3b").done()
	p := Build(g, Policy{Include: mustMatcher(t, "pr-*"), Exclude: mustMatcher(t, "pr-3b")}, testNow)
	if got, want := p.DeletedDigests(), []string{dg("a")}; !slices.Equal(got, want) {
		t.Errorf("DeletedDigests %v, want %v", got, want)
	}
	if got, want := p.DeletedTags(), []string{"pr-1"}; !slices.Equal(got, want) {
		t.Errorf("DeletedTags %v, want %v", got, want)
	}
	var kept []string
	for _, td := range p.KeptMatching() {
		kept = append(kept, td.Tag+"/"+string(td.Rule))
	}
	if want := []string{"pr-2/cannot-untag", "pr-3/cannot-untag", "pr-3b/exclude-tags"}; !slices.Equal(kept, want) {
		t.Errorf("KeptMatching %v, want %v", kept, want)
	}
	if c := p.Counts(); c != (Counts{DeletedManifests: 1, DeletedTags: 1, KeptMatching: 3, KeptManifests: 2, Ops: 1}) {
		t.Errorf("Counts %+v", c)
	}
}

func TestRecheck(t *testing.T) {
	pol := Policy{Include: mustMatcher(t, "pr-*"), DeleteReferrers: true}
	before := newFx(capsOCI3).img("a", daysAgo(1), "pr-1").img("b", daysAgo(1), "pr-2").img("c", daysAgo(1), "pr-3").
		img("d", daysAgo(1), "stable", "pr-4").img("e", daysAgo(1), "pr-5").sig("s", "a").done()
	// Meanwhile: latest was pushed onto b, pr-3 moved to a new image, pr-5 and e vanished.
	after := newFx(capsOCI3).img("a", daysAgo(1), "pr-1").img("b", daysAgo(1), "pr-2", "latest").img("c", daysAgo(1)).
		img("c2", daysAgo(0), "pr-3").img("d", daysAgo(1), "stable", "pr-4").sig("s", "a").done()
	orig := Build(before, pol, testNow)
	fresh := Build(after, pol, testNow)
	got := orig.Recheck(fresh)
	checkExpect(t, got, expect{
		"m:a": "delete/match", "m:s": "delete/referrer-of-deleted",
		"m:b": "keep/changed-during-run", "t:pr-2": "keep/changed-during-run",
		"m:c": "keep/changed-during-run", "t:pr-3": "keep/changed-during-run",
		"m:e":    "keep/changed-during-run",
		"t:pr-4": "untag/shared-digest",
	})
	want := [][]Op{
		{{Kind: OpUntag, Digest: dg("d"), Tag: "pr-4"}},
		{{Kind: OpDelete, Digest: dg("s")}},
		{{Kind: OpDelete, Digest: dg("a")}},
	}
	if !slices.EqualFunc(got.Phases, want, slices.Equal) {
		t.Errorf("phases\n got %v\nwant %v", got.Phases, want)
	}
	if m, _ := manifestByName(got, "a"); m.Phase != 2 {
		t.Errorf("a phase %d, want 2", m.Phase)
	}
	if !slices.ContainsFunc(got.Warnings, func(w string) bool { return strings.Contains(w, "3 planned operation(s) dropped") }) {
		t.Errorf("warnings %q", got.Warnings)
	}
	// The original is untouched.
	if m, _ := manifestByName(orig, "b"); m.Action != Delete {
		t.Error("Recheck modified its receiver")
	}
	// Identical plans intersect to themselves.
	if same := orig.Recheck(Build(before, pol, testNow)); same.String() != orig.String() {
		t.Errorf("self-intersection differs:\n%s\n%s", same, orig)
	}
}

// TestPatternWarnings: every tags or exclude-tags pattern that matches no
// tag is named in a warning; a repository without tags gets one warning.
func TestPatternWarnings(t *testing.T) {
	g := newFx(capsOCI3).img("a", daysAgo(1), "pr-1").img("b", daysAgo(1), "v1.0.0").done()
	tests := []struct {
		name string
		g    *graph.Graph
		pol  Policy
		want []string
	}{
		{"all match", g, Policy{Include: mustMatcher(t, "pr-*"), Exclude: mustMatcher(t, "v1.*")}, nil},
		{"typos", g, Policy{Include: mustMatcher(t, "pr-*", "pr-{1", "2}"), Exclude: mustMatcher(t, "v2.*")}, []string{
			`tags pattern "pr-{1" matches no tag in this repository`,
			`tags pattern "2}" matches no tag in this repository`,
			`exclude-tags pattern "v2.*" matches no tag in this repository: it protects nothing here`,
		}},
		{"no tags at all", newFx(capsOCI3).listed("u", daysAgo(1)).done(), Policy{Include: mustMatcher(t, "*"), KeepLatest: 2},
			[]string{"this repository has no tags: no tags pattern can match"}},
		{"untagged alone has no patterns", g, Policy{Include: mustMatcher(t), Untagged: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Build(tt.g, tt.pol, testNow)
			var got []string
			for _, w := range p.Warnings {
				if strings.Contains(w, "pattern") {
					got = append(got, w)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("warnings\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestDecisions: every decision is found by its key, and a key the plan
// does not hold finds nothing.
func TestDecisions(t *testing.T) {
	p := &Plan{
		Manifests: []ManifestDecision{{Digest: "sha256:aa", Action: Delete}, {Digest: "sha256:bb", Action: Keep}},
		Tags:      []TagDecision{{Tag: "v1", Digest: "sha256:bb", Action: Keep}, {Tag: "pr-1", Digest: "sha256:aa", Action: Delete}},
	}
	man, tag := p.Decisions()
	if len(man) != 2 || man["sha256:aa"].Action != Delete || man["sha256:bb"].Action != Keep {
		t.Errorf("manifests by digest: %v", man)
	}
	if len(tag) != 2 || tag["v1"].Digest != "sha256:bb" || tag["pr-1"].Action != Delete {
		t.Errorf("tags by tag: %v", tag)
	}
	if _, ok := man["sha256:cc"]; ok {
		t.Error("a digest the plan does not hold was found")
	}
}
