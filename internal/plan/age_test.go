package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

var (
	capsGitHubPushed = graph.Capabilities{DeleteManifest: true, Untag: graph.No, ListUntagged: true, PushTimes: true}
	capsHubTimes     = graph.Capabilities{TagsOnly: true, Untag: graph.Yes, PushTimes: true, PullTimes: true}
)

// pushed sets a manifest's push time; pulled its last pull.
func (f *fx) pushed(name string, t time.Time) *fx { f.g.Manifest(dg(name)).Pushed = t; return f }
func (f *fx) pulled(name string, t time.Time) *fx { f.g.Manifest(dg(name)).Pulled = t; return f }

// TestAgeFromAndPulledWithin: which time is an age, and what pulled-within
// keeps, on backends that report push and pull times and on those that
// do not (where nothing is guessed: kept, one warning).
func TestAgeFromAndPulledWithin(t *testing.T) {
	all := func(t testing.TB) Matcher { return mustMatcher(t, "*") }
	// A migrated image: built long ago (its config says 2019), copied to
	// this registry yesterday.
	migrated := func(caps graph.Capabilities) func() *graph.Graph {
		return func() *graph.Graph {
			return newFx(caps).img("m", daysAgo(2000), "v1").pushed("m", daysAgo(1)).done()
		}
	}
	tests := []struct {
		name   string
		graph  func() *graph.Graph
		policy func(t testing.TB) Policy
		want   expect
		reason string // a substring of tag v1's (or pr-1's) reason
		warn   string // a substring of exactly one warning
		age    AgeSource
	}{
		{
			name:   "migrated image: default reads the push time where the backend reports it",
			graph:  migrated(capsGitHubPushed),
			policy: func(t testing.TB) Policy { return Policy{Include: all(t), OlderThan: 30 * day} },
			want:   expect{"t:v1": "keep/older-than", "m:m": "keep"},
			reason: "pushed 2025-05-31T12:00:00Z (registry), less than 30d ago",
			age:    SourcePushed,
		},
		{
			name:   "migrated image: age-from pushed keeps it",
			graph:  migrated(capsGitHubPushed),
			policy: func(t testing.TB) Policy { return Policy{Include: all(t), OlderThan: 30 * day, AgeFrom: AgeFromPushed} },
			want:   expect{"t:v1": "keep/older-than", "m:m": "keep"},
			age:    SourcePushed,
		},
		{
			name:  "migrated image: age-from created deletes it",
			graph: migrated(capsGitHubPushed),
			policy: func(t testing.TB) Policy {
				return Policy{Include: all(t), OlderThan: 30 * day, AgeFrom: AgeFromCreated}
			},
			want: expect{"t:v1": "delete/match", "m:m": "delete/match"},
			age:  SourceCreated,
		},
		{
			name:   "default on a registry without push times reads the creation time",
			graph:  migrated(capsOCI3),
			policy: func(t testing.TB) Policy { return Policy{Include: all(t), OlderThan: 30 * day} },
			want:   expect{"t:v1": "delete/match", "m:m": "delete/match"},
			age:    SourceCreated,
		},
		{
			name:   "age-from pushed where pushes are not reported: unknown, kept, said once",
			graph:  migrated(capsOCI3),
			policy: func(t testing.TB) Policy { return Policy{Include: all(t), OlderThan: 30 * day, AgeFrom: AgeFromPushed} },
			want:   expect{"t:v1": "keep/age-unknown", "m:m": "keep"},
			reason: "does not report push times",
			warn:   "age-from pushed: this registry does not report push times",
			age:    SourceUnknown,
		},
		{
			name: "an index is as young as its youngest push",
			graph: func() *graph.Graph {
				return newFx(capsGitHubPushed).index("i", daysAgo(900), []string{"c1", "c2"}, "v1").
					pushed("i", daysAgo(100)).pushed("c1", daysAgo(100)).pushed("c2", daysAgo(2)).done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: all(t), OlderThan: 30 * day} },
			want:   expect{"t:v1": "keep/older-than", "m:i": "keep", "m:c2": "keep"},
			reason: "pushed 2025-05-30T12:00:00Z (registry)",
			age:    SourcePushed,
		},
		{
			name: "a 1970 push time is unknown",
			graph: func() *graph.Graph {
				return newFx(capsGitHubPushed).img("m", daysAgo(2000), "v1").pushed("m", time.Unix(0, 0)).done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: all(t), OlderThan: 30 * day} },
			want:   expect{"t:v1": "keep/age-unknown"},
			reason: "its push time 1970-01-01T00:00:00Z is not plausible",
			age:    SourceUnknown,
		},
		{
			name: "pulled-within keeps a recently pulled tag and not the others",
			graph: func() *graph.Graph {
				return newFx(capsHubTimes).img("a", daysAgo(400), "pr-1").pulled("a", daysAgo(3)).
					img("b", daysAgo(400), "pr-2").pulled("b", daysAgo(90)).
					img("c", daysAgo(400), "pr-3").done() // never pulled
			},
			policy: func(t testing.TB) Policy { return Policy{Include: all(t), PulledWithin: 30 * day} },
			want: expect{"t:pr-1": "keep/pulled-within", "m:a": "keep",
				"t:pr-2": "delete/match", "m:b": "delete", "t:pr-3": "delete/match", "m:c": "delete"},
			reason: "pulled 2025-05-29T12:00:00Z (registry), less than 30d ago (pulled-within)",
		},
		{
			name: "a multi-arch image is pulled when one of its platforms is",
			graph: func() *graph.Graph {
				return newFx(capsHubTimes).index("i", daysAgo(400), []string{"c1", "c2"}, "pr-1").
					pulled("c2", daysAgo(1)).done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: all(t), PulledWithin: 30 * day} },
			want:   expect{"t:pr-1": "keep/pulled-within", "m:i": "keep", "m:c1": "keep", "m:c2": "keep"},
		},
		{
			// A referrer in the index (buildx's attestation, or a manifest
			// with a cosign tag) is no platform: reading it is not pulling
			// the image.
			name: "a referrer listed in a multi-arch image does not make it pulled",
			graph: func() *graph.Graph {
				f := newFx(capsHubTimes).index("i", daysAgo(400), []string{"c1", "att", "s"}, "pr-1").
					ref("att", "i").sig("s", "c1")
				return f.pulled("att", daysAgo(1)).pulled("s", daysAgo(1)).done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: all(t), PulledWithin: 30 * day} },
			want:   expect{"t:pr-1": "delete/match"},
		},
		{
			name: "pulled-within where pulls are not reported: kept, never guessed, said once",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).img("a", daysAgo(400), "pr-1").img("b", daysAgo(400), "pr-2").done()
			},
			policy: func(t testing.TB) Policy { return Policy{Include: all(t), PulledWithin: 30 * day, OlderThan: day} },
			want:   expect{"t:pr-1": "keep/pulls-unknown", "m:a": "keep", "t:pr-2": "keep/pulls-unknown", "m:b": "keep"},
			reason: "does not report pulls",
			warn:   "pulled-within: this registry does not report pulls",
		},
		{
			name: "pulled-within keeps an untagged manifest pulled by digest",
			graph: func() *graph.Graph {
				// No registry lists untagged manifests and reports pulls
				// today; the plan does not depend on which one would.
				f := newFx(graph.Capabilities{DeleteManifest: true, Untag: graph.Yes, ListUntagged: true, PullTimes: true}).listed("u", daysAgo(400)).listed("v", daysAgo(400))
				return f.pulled("u", daysAgo(2)).done()
			},
			policy: func(t testing.TB) Policy { return Policy{Untagged: true, PulledWithin: 30 * day} },
			want:   expect{"m:u": "keep/pulled-within", "m:v": "delete/untagged"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Build(tt.graph(), tt.policy(t), testNow)
			checkExpect(t, p, tt.want)
			if tt.reason != "" {
				tag := "v1"
				if _, ok := tagByName(p, tag); !ok {
					tag = "pr-1"
				}
				if td, _ := tagByName(p, tag); !strings.Contains(td.Reason, tt.reason) {
					t.Errorf("reason of %s = %q, want it to contain %q", tag, td.Reason, tt.reason)
				}
			}
			n := 0
			for _, w := range p.Warnings {
				if tt.warn != "" && strings.Contains(w, tt.warn) {
					n++
				}
			}
			if tt.warn != "" && n != 1 {
				t.Errorf("%d warnings contain %q, want 1: %q", n, tt.warn, p.Warnings)
			}
			if tt.age != "" {
				name := "m"
				if _, ok := manifestByName(p, "i"); ok {
					name = "i"
				}
				if md, _ := manifestByName(p, name); md.AgeSource != tt.age || (tt.age == SourceUnknown) != md.Age.IsZero() {
					t.Errorf("manifest %s: age %v from %q, want from %q", name, md.Age, md.AgeSource, tt.age)
				}
			}
			checkInvariants(t, tt.graph(), tt.policy(t), p)
			if t.Failed() {
				t.Log("\n" + p.String())
			}
		})
	}
	if !slices.Contains(AgeFroms(), string(AgeFromPushed)) || !slices.Contains(AgeFroms(), string(AgeFromCreated)) {
		t.Errorf("AgeFroms() = %q", AgeFroms())
	}
}

const day = 24 * time.Hour
