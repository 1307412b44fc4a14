package plan

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

// ruleSetFx is a repository with every family of tag a rule set is asked
// about: branch builds, releases, PR images, floating tags and untagged
// manifests of several ages.
func ruleSetFx() *fx {
	f := newFx(graph.Capabilities{DeleteManifest: true, Untag: graph.Yes, ListUntagged: true})
	for i, br := range []string{"main", "main", "main", "main", "dev", "dev"} {
		f.img(br+string(rune('0'+i)), daysAgo(40-i), "sha-"+br+"-000000"+string(rune('0'+i)))
	}
	f.img("v1", daysAgo(200), "v1.0.0").img("v2", daysAgo(150), "v1.1.0").img("v3", daysAgo(100), "v2.0.0")
	f.img("pr1", daysAgo(30), "pr-1").img("pr2", daysAgo(3), "pr-2")
	f.img("lat", daysAgo(300), "latest").img("st", daysAgo(300), "stable")
	f.listed("u1", daysAgo(50)).listed("u2", daysAgo(20)).listed("u3", daysAgo(2)).listed("u4", time.Time{})
	return f
}

func rule(t testing.TB, name string, tags ...string) RetentionRule {
	return RetentionRule{Name: name, Include: mustMatcher(t, tags...)}
}

func TestRuleSets(t *testing.T) {
	branch := regexp.MustCompile(`^sha-(.+)-[0-9a-f]{7}$`)
	tests := []struct {
		name   string
		policy func(t testing.TB) Policy
		want   expect
		by     map[string]string // tag or "m:name" -> RuleRef.By()
		warn   string
	}{
		{
			name: "keep 2 per branch",
			policy: func(t testing.TB) Policy {
				r := rule(t, "branches", "sha-*")
				r.GroupBy, r.KeepLatest = branch, 2
				return Policy{Rules: []RetentionRule{r}, ProtectLatest: true}
			},
			want: expect{
				"t:sha-main-0000003": "keep/keep-latest", "t:sha-main-0000002": "keep/keep-latest",
				"t:sha-main-0000001": "delete/match", "t:sha-main-0000000": "delete/match",
				"t:sha-dev-0000005": "keep/keep-latest", "t:sha-dev-0000004": "keep/keep-latest",
				"t:v1.0.0": "keep/no-match", "m:u1": "keep/untagged-off",
			},
			by: map[string]string{"sha-main-0000003": "rule 1 (branches)", "sha-main-0000000": "rule 1 (branches)", "v1.0.0": ""},
		},
		{
			name: "a tag group-by does not match is kept",
			policy: func(t testing.TB) Policy {
				r := rule(t, "", "*")
				r.GroupBy, r.KeepLatest = branch, 1
				return Policy{Rules: []RetentionRule{r}, ProtectLatest: true}
			},
			want: expect{"t:pr-1": "keep/no-group", "t:sha-main-0000000": "delete/match", "t:latest": "keep/protect-latest"},
			by:   map[string]string{"pr-1": "rule 1"},
		},
		{
			name: "a keep rule wins over a delete rule, whatever the order",
			policy: func(t testing.TB) Policy {
				old := rule(t, "old", "*")
				old.OlderThan = 90 * 24 * time.Hour
				rel := rule(t, "releases", "v*")
				rel.KeepLatest = 2
				return Policy{Rules: []RetentionRule{old, rel}}
			},
			want: expect{
				"t:v2.0.0": "keep/keep-latest", "t:v1.1.0": "keep/keep-latest", "t:v1.0.0": "delete/match",
				"t:latest": "delete/match", "t:sha-main-0000000": "keep/older-than",
			},
			by: map[string]string{"v2.0.0": "rule 2 (releases)", "v1.0.0": "rule 1 (old)", "sha-main-0000000": "rule 1 (old)"},
		},
		{
			name: "exclude-tags takes a tag out of one rule, another rule decides",
			policy: func(t testing.TB) Policy {
				all := rule(t, "all", "*")
				all.Exclude = mustMatcher(t, "v*")
				all.OlderThan = 10 * 24 * time.Hour
				rel := rule(t, "releases", "v*")
				rel.KeepLatest = 1
				return Policy{Rules: []RetentionRule{all, rel}}
			},
			want: expect{"t:v2.0.0": "keep/keep-latest", "t:v1.0.0": "delete/match", "t:pr-1": "delete/match", "t:pr-2": "keep/older-than"},
			by:   map[string]string{"v1.0.0": "rule 2 (releases)"},
		},
		{
			name: "a tag excluded by every rule covering it is kept as excluded",
			policy: func(t testing.TB) Policy {
				r := rule(t, "", "pr-*")
				r.Exclude = mustMatcher(t, "pr-2")
				return Policy{Rules: []RetentionRule{r}}
			},
			want: expect{"t:pr-2": "keep/exclude-tags", "t:pr-1": "delete/match", "t:v1.0.0": "keep/no-match"},
		},
		{
			name: "keep by tag and by digest",
			policy: func(t testing.TB) Policy {
				return Policy{
					Rules:       []RetentionRule{rule(t, "", "*")},
					Keep:        mustMatcher(t, "stable", "pr-1"),
					KeepDigests: []string{dg("v1")},
				}
			},
			want: expect{
				"t:stable": "keep/keep", "m:st": "keep/keep", "t:pr-1": "keep/keep",
				"t:v1.0.0": "keep/keep", "m:v1": "keep/keep", "t:v1.1.0": "delete/match", "t:latest": "delete/match",
			},
		},
		{
			name: "keep the newest untagged",
			policy: func(t testing.TB) Policy {
				r := RetentionRule{Name: "untagged", Untagged: true, KeepLatest: 1}
				return Policy{Rules: []RetentionRule{r}}
			},
			want: expect{"m:u3": "keep/keep-latest", "m:u4": "keep/age-unknown", "m:u2": "delete/untagged", "m:u1": "delete/untagged", "t:pr-1": "keep/no-match"},
			by:   map[string]string{"m:u3": "rule 1 (untagged)", "m:u1": "rule 1 (untagged)"},
		},
		{
			name: "untagged: every covering rule must agree",
			policy: func(t testing.TB) Policy {
				a := RetentionRule{Untagged: true, KeepLatest: 1}
				b := RetentionRule{Untagged: true, OlderThan: 30 * 24 * time.Hour}
				return Policy{Rules: []RetentionRule{a, b}}
			},
			want: expect{"m:u3": "keep/keep-latest", "m:u2": "keep/older-than", "m:u1": "delete/untagged", "m:u4": "keep/age-unknown"},
			by:   map[string]string{"m:u2": "rule 2"},
		},
		{
			name: "repositories limits a rule to the repositories it names",
			policy: func(t testing.TB) Policy {
				a := rule(t, "elsewhere", "*")
				a.Repositories = mustMatcher(t, "team/*")
				b := rule(t, "here", "pr-*")
				b.Repositories = mustMatcher(t, "app", "other")
				return Policy{Rules: []RetentionRule{a, b}}
			},
			want: expect{"t:pr-1": "delete/match", "t:v1.0.0": "keep/no-match"},
			by:   map[string]string{"pr-1": "rule 2 (here)"},
		},
		{
			name: "protect-latest applies per rule",
			policy: func(t testing.TB) Policy {
				return Policy{Rules: []RetentionRule{rule(t, "", "*"), rule(t, "", "latest")}, ProtectLatest: true}
			},
			want: expect{"t:latest": "keep/protect-latest", "t:pr-1": "delete/match"},
		},
		{
			name: "a pattern that matches nothing is named with its rule",
			policy: func(t testing.TB) Policy {
				return Policy{Rules: []RetentionRule{rule(t, "", "pr-*"), rule(t, "typo", "rc-*")}}
			},
			want: expect{"t:pr-1": "delete/match"},
			warn: `rule 2 (typo): tags pattern "rc-*" matches no tag`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := ruleSetFx()
			f.g.Repository = "registry.test/app"
			p := Build(f.done(), tc.policy(t), testNow)
			checkExpect(t, p, tc.want)
			for k, want := range tc.by {
				var got string
				if name, ok := strings.CutPrefix(k, "m:"); ok {
					md, _ := manifestByName(p, name)
					got = md.By()
				} else {
					td, _ := tagByName(p, k)
					got = td.By()
				}
				if got != want {
					t.Errorf("%s: by %q, want %q", k, got, want)
				}
			}
			if tc.warn != "" && !containsSub(p.Warnings, tc.warn) {
				t.Errorf("no warning containing %q in %q", tc.warn, p.Warnings)
			}
		})
	}
}

// TestRuleSetOfOneIsTheInputs: the inputs and a policy of the same one rule
// decide the same (only the rule reference differs).
func TestRuleSetOfOneIsTheInputs(t *testing.T) {
	pol := Policy{Include: mustMatcher(t, "*"), Exclude: mustMatcher(t, "v1.*"), KeepLatest: 2, OlderThan: 20 * 24 * time.Hour, Untagged: true, ProtectLatest: true, DeleteReferrers: true}
	set := pol
	set.Rules = []RetentionRule{{Include: pol.Include, Exclude: pol.Exclude, KeepLatest: 2, OlderThan: pol.OlderThan, Untagged: true}}
	a := Build(ruleSetFx().done(), pol, testNow)
	b := Build(ruleSetFx().done(), set, testNow)
	for i := range a.Tags {
		x, y := a.Tags[i], b.Tags[i]
		y.RuleRef = RuleRef{}
		if x != y {
			t.Errorf("tag %s: inputs %+v, policy %+v", x.Tag, x, y)
		}
	}
	for i := range a.Manifests {
		x, y := a.Manifests[i], b.Manifests[i]
		// With a rule set keep-latest also keeps the newest untagged images.
		if x.Action != y.Action && !(y.Rule == RuleKeepLatest && x.Tags == nil) {
			t.Errorf("manifest %s: inputs %s/%s, policy %s/%s", x.Digest, x.Action, x.Rule, y.Action, y.Rule)
		}
	}
}

// TestRuleKeepNamedBeforeGraphRule: an untagged manifest a rule keeps is
// named by that rule even when a graph rule keeps it too. Here it is first
// pushed with a deleted index (child-of-deleted) and then held back by a
// kept index or a kept referrer; the name must not depend on that history.
func TestRuleKeepNamedBeforeGraphRule(t *testing.T) {
	tests := []struct {
		name  string
		build func(f *fx)
	}{
		{"a kept index lists it too", func(f *fx) {
			f.index("kept", daysAgo(100), []string{"c"}, "stable")
		}},
		{"a kept referrer refers to it", func(f *fx) {
			f.ref("r", "c", "sbom-c")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(graph.Capabilities{DeleteManifest: true, Untag: graph.Yes, ListUntagged: true})
			f.listed("c", daysAgo(2))
			f.index("gone", daysAgo(100), []string{"c"}, "pr-1")
			tc.build(f)
			prs := rule(t, "prs", "pr-*")
			young := RetentionRule{Name: "young", Untagged: true, OlderThan: 30 * 24 * time.Hour}
			p := Build(f.done(), Policy{Rules: []RetentionRule{prs, young}, DeleteReferrers: true}, testNow)
			checkExpect(t, p, expect{"t:pr-1": "delete/match", "m:gone": "delete/match", "m:c": "keep/older-than"})
			if md, _ := manifestByName(p, "c"); md.By() != "rule 2 (young)" {
				t.Errorf("c: by %q, want %q", md.By(), "rule 2 (young)")
			}
		})
	}
}
