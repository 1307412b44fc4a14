package plan

import (
	"slices"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

// TestRankImages: keep-latest counts images (an index with the platform
// manifests it lists, every tag on one digest), ranks them by version when
// any candidate is one (partial versions as the newest release of their
// line), and says how it ranked.
func TestRankImages(t *testing.T) {
	hour := func(n int) time.Time { return testNow.Add(-time.Duration(n) * time.Hour) }
	tests := []struct {
		name        string
		graph       func() *graph.Graph
		policy      func(t testing.TB) Policy
		want        expect
		ranking     string
		ignored     []string
		noInvariant bool
	}{
		{
			// Both indexes tie on age with their newest child; before, the
			// tie went to the greatest tag name, a child's, so only
			// sha-2222222-arm64 was kept.
			name: "multi-arch images with per-platform tags are one image each",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).
					img("old-amd64", hour(50), "sha-1111111-amd64").img("old-arm64", hour(49), "sha-1111111-arm64").
					index("old", time.Time{}, []string{"old-amd64", "old-arm64"}, "sha-1111111").
					img("new-amd64", hour(2), "sha-2222222-amd64").img("new-arm64", hour(1), "sha-2222222-arm64").
					index("new", time.Time{}, []string{"new-amd64", "new-arm64"}, "sha-2222222").
					done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: mustMatcher(t, "sha-*"), KeepLatest: 1} },
			want: expect{
				"t:sha-2222222": "keep/keep-latest", "t:sha-2222222-amd64": "keep/keep-latest", "t:sha-2222222-arm64": "keep/keep-latest",
				"m:new": "keep", "m:new-amd64": "keep", "m:new-arm64": "keep",
				"m:old": "delete", "m:old-amd64": "delete", "m:old-arm64": "delete",
			},
			ranking: RankCreated,
		},
		{
			name: "a per-platform tag is not a second release",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).
					img("v2-amd64", daysAgo(1), "v2.0.0-amd64").img("v2-arm64", daysAgo(1)).
					index("v2", time.Time{}, []string{"v2-amd64", "v2-arm64"}, "v2.0.0").
					img("v1-amd64", daysAgo(9)).index("v1", time.Time{}, []string{"v1-amd64"}, "v1.0.0").
					img("v0", daysAgo(20), "v0.9.0").
					done()
			},
			policy:  func(t testing.TB) Policy { return Policy{Include: mustMatcher(t, "v*"), KeepLatest: 2} },
			want:    expect{"m:v2": "keep", "t:v2.0.0-amd64": "keep/keep-latest", "m:v1": "keep", "t:v1.0.0": "keep/keep-latest", "m:v0": "delete"},
			ranking: RankVersion,
		},
		{
			// docker/metadata-action: the backport v1.2.4 is pushed after
			// v2.0.0 and moves v1 and v1.2; before, `v2` did not parse and
			// the whole set ranked by date, keeping the backport.
			name: "floating version tags and a backport",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).
					img("r200", daysAgo(10), "v2.0.0", "v2.0", "v2").
					img("r124", daysAgo(1), "v1.2.4", "v1.2", "v1").
					img("r123", daysAgo(20), "v1.2.3").
					done()
			},
			policy:  func(t testing.TB) Policy { return Policy{Include: mustMatcher(t, "v*"), KeepLatest: 1} },
			want:    expect{"t:v2": "keep/keep-latest", "t:v2.0": "keep/keep-latest", "t:v2.0.0": "keep/keep-latest", "m:r124": "delete", "m:r123": "delete"},
			ranking: RankVersion,
		},
		{
			name: "{{version}} tags without v, with bare majors",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).
					img("a", daysAgo(1), "1.2.4", "1.2", "1").
					img("b", daysAgo(10), "2.0.0", "2.0", "2").
					img("c", daysAgo(5), "1.2.3").
					done()
			},
			policy:  func(t testing.TB) Policy { return Policy{Include: mustMatcher(t, "*"), KeepLatest: 2} },
			want:    expect{"m:b": "keep", "t:2": "keep/keep-latest", "m:a": "keep", "t:1": "keep/keep-latest", "m:c": "delete"},
			ranking: RankVersion,
		},
		{
			name: "a floating tag alone ranks as the newest release of its line",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).
					img("a", daysAgo(1), "v1.9.0").img("b", daysAgo(30), "v2").img("c", daysAgo(2), "v1.10.0").
					done()
			},
			policy:  func(t testing.TB) Policy { return Policy{Include: mustMatcher(t, "v*"), KeepLatest: 1} },
			want:    expect{"t:v2": "keep/keep-latest", "m:a": "delete", "m:c": "delete"},
			ranking: RankVersion,
		},
		{
			// Before, one tag that is not a version (a leading zero, a
			// name) switched the whole set to creation times, silently.
			name: "tags that are not versions are reported and kept; the rest rank by version",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).
					img("a", daysAgo(10), "v2.0.0").img("b", daysAgo(1), "v1.0.0").img("c", daysAgo(20), "v0.9.0").
					img("n", daysAgo(30), "nightly").img("z", daysAgo(40), "01.2.3").
					img("d", daysAgo(50), "v0.1.0", "sha-abc").
					done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: mustMatcher(t, "*"), KeepLatest: 1} },
			want: expect{
				"t:v2.0.0": "keep/keep-latest", "m:b": "delete", "m:c": "delete",
				"t:nightly": "keep/not-a-version", "t:01.2.3": "keep/not-a-version", "t:sha-abc": "delete",
			},
			ranking: RankVersion,
			ignored: []string{"01.2.3", "nightly", "sha-abc"},
		},
		{
			name: "a build number or date is not a version without a release of it",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(1), "20240101").img("b", daysAgo(2), "v1.0.0").img("c", daysAgo(3), "v0.9.0").done()
			},
			policy:  func(t testing.TB) Policy { return Policy{Include: mustMatcher(t, "*"), KeepLatest: 1} },
			want:    expect{"t:20240101": "keep/not-a-version", "t:v1.0.0": "keep/keep-latest", "m:c": "delete"},
			ranking: RankVersion,
			ignored: []string{"20240101"},
		},
		{
			name: "equal rank: the multi-arch image wins, never by a child's tag",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).
					img("lone", daysAgo(1), "zz-lone").
					img("kid", daysAgo(1), "zz-kid-zzz").index("ix", time.Time{}, []string{"kid"}, "aa-index").
					done()
			},
			policy:  func(t testing.TB) Policy { return Policy{Include: mustMatcher(t, "*"), KeepLatest: 1} },
			want:    expect{"t:aa-index": "keep/keep-latest", "t:zz-kid-zzz": "keep/keep-latest", "m:lone": "delete"},
			ranking: RankCreated,
		},
		{
			name: "a 1970 image pushed now is unknown, kept and not ranked",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("ko", time.Unix(0, 0).UTC(), "ko-1").img("b", daysAgo(1), "ko-2").img("c", daysAgo(2), "ko-3").done()
			},
			policy:  func(t testing.TB) Policy { return Policy{Include: mustMatcher(t, "ko-*"), KeepLatest: 1} },
			want:    expect{"t:ko-1": "keep/age-unknown", "t:ko-2": "keep/keep-latest", "m:c": "delete"},
			ranking: RankCreated,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Build(tt.graph(), tt.policy(t), testNow)
			checkExpect(t, p, tt.want)
			if p.Ranking != tt.ranking || !slices.Equal(p.IgnoredTags, tt.ignored) {
				t.Errorf("ranking %q ignoring %q, want %q ignoring %q", p.Ranking, p.IgnoredTags, tt.ranking, tt.ignored)
			}
			checkInvariants(t, tt.graph(), tt.policy(t), p)
			if t.Failed() {
				t.Log("\n" + p.String())
			}
		})
	}
}

// TestAges: an index is as young as its youngest part (an old annotation
// of its own never hides a new child); a child of unknown age (other than an
// attestation) makes it unknown; a time before 2013 or more than a day ahead
// is unknown.
func TestAges(t *testing.T) {
	older := func(t testing.TB) Policy {
		return Policy{Include: mustMatcher(t, "*"), OlderThan: 30 * 24 * time.Hour}
	}
	withAtt := func(f *fx, index, child string) *fx {
		m := f.add(index+"-att", graph.KindReferrer, time.Time{})
		m.Subject = dg(child)
		ix := f.g.Manifests[dg(index)]
		ix.Children = append(ix.Children, m.Digest)
		return f
	}
	tests := []struct {
		name  string
		graph func() *graph.Graph
		want  expect
	}{
		{
			name: "an old annotation on the index does not hide a new child",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("kid", testNow.Add(-5*time.Minute)).
					index("ix", time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), []string{"kid"}, "app-1").done()
			},
			want: expect{"t:app-1": "keep/older-than", "m:ix": "keep", "m:kid": "keep"},
		},
		{
			name: "an index younger than its children is as young as itself (a push time)",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("kid", daysAgo(90)).index("ix", daysAgo(1), []string{"kid"}, "app-1").done()
			},
			want: expect{"t:app-1": "keep/older-than", "m:ix": "keep", "m:kid": "keep"},
		},
		{
			name: "old children and an old index go",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("kid", daysAgo(90)).index("ix", daysAgo(60), []string{"kid"}, "app-1").done()
			},
			want: expect{"t:app-1": "delete", "m:ix": "delete", "m:kid": "delete"},
		},
		{
			name: "a child without a time makes the index's age unknown",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("kid", daysAgo(90)).img("kid2", time.Time{}).
					index("ix", daysAgo(90), []string{"kid", "kid2"}, "app-1").done()
			},
			want: expect{"t:app-1": "keep/age-unknown", "m:ix": "keep"},
		},
		{
			name: "an attestation without a time does not",
			graph: func() *graph.Graph {
				f := newFx(capsOCI3).img("kid", daysAgo(90)).index("ix", time.Time{}, []string{"kid"}, "app-1")
				return withAtt(f, "ix", "kid").done()
			},
			want: expect{"t:app-1": "delete", "m:ix": "delete", "m:kid": "delete", "m:ix-att": "keep"},
		},
		{
			name: "ko, Bazel and nix write 1970: unknown, kept",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("ko", time.Unix(0, 0).UTC(), "ko-1").
					img("kid", time.Unix(0, 0).UTC()).index("ix", time.Time{}, []string{"kid"}, "ko-2").done()
			},
			want: expect{"t:ko-1": "keep/age-unknown", "t:ko-2": "keep/age-unknown", "m:kid": "keep"},
		},
		{
			name: "2012 is too early, more than a day ahead too late; 2013 and an hour ahead are fine",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).
					img("a", time.Date(2012, 12, 31, 23, 0, 0, 0, time.UTC), "t-2012").
					img("b", testNow.Add(25*time.Hour), "t-future").
					img("c", time.Date(2013, 1, 1, 0, 0, 0, 0, time.UTC), "t-2013").
					img("d", testNow.Add(time.Hour), "t-soon").
					done()
			},
			want: expect{"t:t-2012": "keep/age-unknown", "t:t-future": "keep/age-unknown", "t:t-2013": "delete", "t:t-soon": "keep/older-than"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Build(tt.graph(), older(t), testNow)
			checkExpect(t, p, tt.want)
			checkInvariants(t, tt.graph(), older(t), p)
			if t.Failed() {
				t.Log("\n" + p.String())
			}
		})
	}
}

// TestProtectLatest: `latest` stays unless a tags pattern names it, or
// protect-latest is off (GitLab's cleanup policies never delete it).
func TestProtectLatest(t *testing.T) {
	g := func() *graph.Graph {
		return newFx(capsOCI3).img("a", daysAgo(9), "latest").img("b", daysAgo(5), "main").img("c", daysAgo(1), "edge").done()
	}
	tests := []struct {
		name     string
		patterns []string
		regex    bool
		protect  bool
		want     string
	}{
		{"every tag a candidate", []string{"*"}, false, true, "keep/protect-latest"},
		{"a glob that happens to match", []string{"lat*"}, false, true, "keep/protect-latest"},
		{"named literally", []string{"pr-*", "latest"}, false, true, "delete/match"},
		{"named by an anchored regex", []string{`^latest$`}, true, true, "delete/match"},
		{"matched by a regex", []string{`.*`}, true, true, "keep/protect-latest"},
		{"protect-latest off", []string{"*"}, false, false, "delete/match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc, err := CompilePatterns(tt.patterns, tt.regex)
			if err != nil {
				t.Fatal(err)
			}
			pol := Policy{Include: inc, ProtectLatest: tt.protect}
			p := Build(g(), pol, testNow)
			checkExpect(t, p, expect{"t:latest": tt.want})
			if td, _ := tagByName(p, "latest"); !td.Matched {
				t.Errorf("latest matched the patterns; Matched=false")
			}
		})
	}
	// keep-latest does not count a protected latest.
	p := Build(g(), Policy{Include: mustMatcher(t, "*"), KeepLatest: 1, ProtectLatest: true}, testNow)
	checkExpect(t, p, expect{"t:latest": "keep/protect-latest", "t:edge": "keep/keep-latest", "t:main": "delete"})
}

// TestKeepLatestKeepsAnUntaggedIndexWithItsImage: an untagged index listing
// tagged manifests makes them one image for keep-latest; when that image is
// kept, the index stays with it. Deleting it as untagged let the next run
// rank its manifests apart and delete one that this run kept as #2.
func TestKeepLatestKeepsAnUntaggedIndexWithItsImage(t *testing.T) {
	f := newFx(graph.Capabilities{DeleteManifest: true, Untag: graph.Yes, ListUntagged: true})
	f.img("p4", daysAgo(35), "pr-4")
	f.img("p12", daysAgo(41), "pr-12")
	f.img("p5", daysAgo(65), "pr-5")
	f.index("u", daysAgo(67), []string{"p12", "p5"})
	f.g.Manifests[dg("u")].Listed = true
	f.listed("old", daysAgo(90))
	g := f.done()
	pol := Policy{Include: mustMatcher(t, "pr-*"), KeepLatest: 2, OlderThan: 5 * 24 * time.Hour, Untagged: true}
	first := Build(g, pol, testNow)
	checkExpect(t, first, expect{
		"t:pr-4": "keep/keep-latest", "t:pr-12": "keep/keep-latest", "t:pr-5": "keep/keep-latest",
		"m:u": "keep/keep-latest", "m:old": "delete/untagged",
	})
	if again := Build(applyTo(g, first), pol, testNow); again.Counts().DeletedManifests != 0 || again.Counts().DeletedTags != 0 {
		t.Errorf("a second run deletes more:\n%s", again)
	}
}
