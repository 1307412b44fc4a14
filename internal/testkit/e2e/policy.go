package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// policyRuleSet: one run with a rule set. Branch builds keep the 2 newest
// per branch (group-by), crossed with older-than; releases keep the 2
// newest; PR images 14 days; everything else 60 days; keep names tags and
// a digest. A tag goes only when every rule covering it would delete it.
func policyRuleSet(t *testing.T, reg *Registry, _ *snaps.Config) {
	repo := reg.Host + "/policy"
	p := pusher(t, repo)
	at := func(tag string, day int) string {
		t.Helper()
		d, err := p.Image(context.Background(), tag, seed.Image("policy-"+tag, day0.Add(time.Duration(day)*24*time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	now := day0.Add(100 * 24 * time.Hour)
	d := map[string]string{}
	for tag, day := range map[string]int{
		"sha-main-000000a": 10, "sha-main-000000b": 72, "sha-main-000000c": 80, "sha-main-000000d": 90,
		"sha-dev-000000e": 15, "sha-dev-000000f": 25,
		"v0.9.0": 3, "v1.0.0": 5, "v1.1.0": 6, "v2.0.0": 7,
		"pr-1": 1, "pr-2": 95, "latest": 2, "stable": 2, "nightly": 3,
	} {
		d[tag] = at(tag, day)
	}
	policy := `rules:
  - name: branches
    tags: ['sha-*']
    group-by: '^sha-(.+)-[0-9a-f]{7}$'
    keep-latest: 2
    older-than: 30d
  - name: releases
    tags: ['v*']
    keep-latest: 2
  - name: pull requests
    tags: ['pr-*']
    older-than: 14d
  - tags: ['*']
    older-than: 60d
keep: [stable, '` + d["v1.0.0"] + `']
`
	res := RunActionAt(t, now, map[string]string{"repository": repo, "policy": policy})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	gone := map[string]bool{"sha-main-000000a": true, "v0.9.0": true, "pr-1": true, "nightly": true}
	after := State(t, repo)
	for tag, dg := range d {
		switch _, ok := after[tag]; {
		case gone[tag] && (ok || Exists(t, repo, dg)):
			t.Errorf("%s still there", tag)
		case !gone[tag] && after[tag] != dg:
			t.Errorf("%s kept by the policy was deleted or moved", tag)
		}
	}
	if got := res.Outputs["deleted-count"]; got != "4" {
		t.Errorf("deleted-count = %s, want 4", got)
	}
	var kept []report.KeptTag
	res.JSON(t, "kept-tags", &kept)
	want := map[string]string{ // tag -> rule, by
		"sha-main-000000b": "older-than rule 1 (branches)",
		"sha-main-000000c": "keep-latest rule 1 (branches)",
		"sha-main-000000d": "keep-latest rule 1 (branches)",
		"sha-dev-000000e":  "keep-latest rule 1 (branches)",
		"sha-dev-000000f":  "keep-latest rule 1 (branches)",
		"v1.0.0":           "keep ",
		"v1.1.0":           "keep-latest rule 2 (releases)",
		"v2.0.0":           "keep-latest rule 2 (releases)",
		"pr-2":             "older-than rule 3 (pull requests)",
		"stable":           "keep ",
		"latest":           "protect-latest rule 4",
	}
	got := map[string]string{}
	for _, k := range kept {
		got[k.Tag] = k.Rule + " " + k.By
	}
	for tag, w := range want {
		if got[tag] != w {
			t.Errorf("kept-tags %s: %q, want %q", tag, got[tag], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("kept-tags = %v, want %v", got, want)
	}
	if !strings.Contains(res.Summary, "rule 1 (branches)") {
		t.Errorf("the summary does not name the rule that kept each tag:\n%s", res.Summary)
	}
}
