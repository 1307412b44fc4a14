package settings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/plan"
)

const examplePolicy = `rules:
  - name: branches
    tags: ['sha-*']
    group-by: '^sha-(.+)-[0-9a-f]{7}$'
    keep-latest: 3
  - name: releases
    tags: ['v*']
    keep-latest: 10
  - name: pull requests
    tags: 'pr-*'
    older-than: 14d
    age-from: created
    pulled-within: 30d
    repositories: [team/*]
  - name: untagged
    untagged: true
    keep-latest: 5
  - tags: ['^rc-[0-9]+$']
    use-regex: true
    exclude-tags: ['^rc-1$']
keep: [latest, stable, 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef']
`

func TestPolicyInline(t *testing.T) {
	s, _, err := load(t, map[string]string{"GITHUB_ACTIONS": "true", "INPUT_REPOSITORY": "registry.example.com/app", "INPUT_POLICY": examplePolicy,
		// The runner fills every default: these say nothing.
		"INPUT_KEEP-LATEST": "0", "INPUT_UNTAGGED": "false", "INPUT_USE-REGEX": "false"})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Policy
	if len(p.Rules) != 5 {
		t.Fatalf("%d rules", len(p.Rules))
	}
	br, rel, pr, un, rc := p.Rules[0], p.Rules[1], p.Rules[2], p.Rules[3], p.Rules[4]
	if br.Name != "branches" || br.KeepLatest != 3 || br.GroupBy == nil || !br.Include.Match("sha-main-abcdef0") || br.Include.Match("v1") {
		t.Errorf("branches: %+v", br)
	}
	if rel.KeepLatest != 10 || !rel.Include.Match("v1.2.3") {
		t.Errorf("releases: %+v", rel)
	}
	if pr.OlderThan != 14*24*time.Hour || pr.AgeFrom != plan.AgeFromCreated || pr.PulledWithin != 30*24*time.Hour || !pr.Include.Match("pr-7") || !pr.Repositories.Match("team/app") || pr.Repositories.Match("app") {
		t.Errorf("pull requests: %+v", pr)
	}
	if !un.Untagged || un.KeepLatest != 5 || un.Include != nil {
		t.Errorf("untagged: %+v", un)
	}
	if !rc.Include.Match("rc-12") || rc.Include.Match("xrc-1") || !rc.Exclude.Match("rc-1") {
		t.Errorf("regex rule: %+v", rc)
	}
	if !p.Keep.Match("latest") || !p.Keep.Match("stable") || p.Keep.Match("v1") || len(p.KeepDigests) != 1 {
		t.Errorf("keep: %v %v", p.Keep.Patterns(), p.KeepDigests)
	}
	if !p.ProtectLatest || !p.DeleteReferrers || p.Include != nil {
		t.Errorf("policy: %+v", p)
	}
}

func TestPolicyFromFileAndOtherCIs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "retention.yml")
	if err := os.WriteFile(path, []byte(examplePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string]map[string]string{
		"cli flag":       nil,
		"github path":    {"GITHUB_ACTIONS": "true", "INPUT_POLICY": path},
		"gitlab":         {"GITLAB_CI": "true", "REGSWEEP_POLICY": path},
		"woodpecker map": {"CI_SYSTEM_NAME": "woodpecker", "PLUGIN_POLICY": `{"rules":[{"tags":["pr-*"],"older-than":"14d"}],"keep":["stable"]}`},
	} {
		t.Run(name, func(t *testing.T) {
			m := map[string]string{"REGSWEEP_REPOSITORY": "registry.example.com/app"}
			for k, v := range env {
				m[k] = v
			}
			var args []string
			if env == nil {
				args = []string{"--policy", path}
			}
			s, _, err := load(t, m, args...)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Policy.Rules) == 0 || !s.Policy.Keep.Match("stable") {
				t.Errorf("policy not read: %+v", s.Policy)
			}
		})
	}
}

func TestPolicyErrors(t *testing.T) {
	tests := []struct {
		name, policy string
		extra        []string // more env
		want         string
	}{
		{"unknown key", "rules:\n  - tags: [pr-*]\n    keep_latest: 3\n", nil,
			`input "policy": line 3 (rule 1): unknown key "keep_latest": a rule takes name, tags, use-regex, exclude-tags, group-by, keep-latest, older-than, age-from, pulled-within, untagged, repositories`},
		{"unknown top key", "rules:\n  - tags: [pr-*]\nkeeps: [latest]\n", nil,
			`input "policy": line 3: unknown key "keeps": a policy has rules and keep`},
		{"bad glob", "rules:\n  - tags: [pr-*]\n  - tags: ['v[1']\n", nil,
			`input "policy": line 3 (rule 2, tags): invalid glob pattern "v[1": missing closing ]`},
		{"bad regex", "rules:\n  - tags: ['^(pr-']\n    use-regex: true\n", nil,
			`input "policy": line 2 (rule 1, tags): invalid regular expression "^(pr-": missing closing )`},
		{"bad duration", "rules:\n  - tags: [pr-*]\n    older-than: 14x\n", nil,
			`input "policy": line 3 (rule 1, older-than): "14x" is not a duration`},
		{"group-by without a capture group", "rules:\n  - tags: [sha-*]\n    keep-latest: 3\n    group-by: '^sha-.+$'\n", nil,
			`input "policy": line 4 (rule 1, group-by): "^sha-.+$" has no capture group`},
		{"group-by bad", "rules:\n  - tags: [sha-*]\n    keep-latest: 3\n    group-by: '^sha-(.+$'\n", nil,
			`input "policy": line 4 (rule 1, group-by): invalid regular expression "^sha-(.+$": missing closing )`},
		{"group-by alone", "rules:\n  - tags: [sha-*]\n    group-by: '^sha-(.+)$'\n", nil,
			`input "policy": line 3 (rule 1, group-by): group-by only splits what keep-latest counts`},
		{"rule covers nothing", "rules:\n  - keep-latest: 3\n", nil,
			`input "policy": line 2 (rule 1): covers nothing: give tags, or untagged: true`},
		{"bad number", "rules:\n  - tags: [v*]\n    keep-latest: many\n", nil,
			`input "policy": line 3 (rule 1, keep-latest): "many" is not a whole number`},
		{"bad digest", "rules:\n  - tags: [v*]\nkeep: ['sha256:abc']\n", nil,
			`input "policy": line 3 (keep): "sha256:abc" is not a digest`},
		{"no rules", "keep: [latest]\n", nil,
			`input "policy": line 1 (rules): rules must be a list of at least one rule`},
		{"not yaml", "rules:\n  - tags: [pr-*\n", nil,
			`input "policy" is not valid YAML: line `},
		{"missing file", "retention.yml", nil,
			`input "policy": the file retention.yml does not exist`},
		{"with tags", "rules:\n  - tags: [pr-*]\n", []string{"INPUT_TAGS", "pr-*"},
			`input "policy": cannot be combined with tags`},
		{"with older-than", "rules:\n  - tags: [pr-*]\n", []string{"INPUT_OLDER-THAN", "3d"},
			`input "policy": cannot be combined with older-than`},
		{"with untagged", "rules:\n  - tags: [pr-*]\n", []string{"INPUT_UNTAGGED", "true"},
			`input "policy": cannot be combined with untagged`},
		{"with keep-latest", "rules:\n  - tags: [pr-*]\n", []string{"INPUT_KEEP-LATEST", "2"},
			`input "policy": cannot be combined with keep-latest`},
		{"bad age-from", "rules:\n  - tags: [pr-*]\n    older-than: 3d\n    age-from: built\n", nil,
			`input "policy": line 4 (rule 1, age-from): "built" is not one of pushed, created`},
		{"bad pulled-within", "rules:\n  - tags: [pr-*]\n    pulled-within: soon\n", nil,
			`input "policy": line 3 (rule 1, pulled-within): "soon" is not a duration`},
		{"with pulled-within", "rules:\n  - tags: [pr-*]\n", []string{"INPUT_PULLED-WITHIN", "3d"},
			`input "policy": cannot be combined with pulled-within`},
		{"with age-from", "rules:\n  - tags: [pr-*]\n", []string{"INPUT_AGE-FROM", "created"},
			`input "policy": cannot be combined with age-from`},
		{"with exclude-tags", "rules:\n  - tags: [pr-*]\n", []string{"INPUT_EXCLUDE-TAGS", "v*"},
			`input "policy": cannot be combined with exclude-tags`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			m := map[string]string{"GITHUB_ACTIONS": "true", "INPUT_REPOSITORY": "registry.example.com/app", "INPUT_POLICY": tc.policy}
			for i := 0; i < len(tc.extra); i += 2 {
				m[tc.extra[i]] = tc.extra[i+1]
			}
			_, _, err := load(t, m)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a settings error", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got  %s\nwant %s...", err, tc.want)
			}
		})
	}
}

// TestPolicyHints: likely typos in a rule's patterns warn as they do for tags.
func TestPolicyHints(t *testing.T) {
	_, log, err := load(t, map[string]string{"GITHUB_ACTIONS": "true", "INPUT_REPOSITORY": "registry.example.com/app",
		"INPUT_POLICY": "rules:\n  - tags: ['^pr-[0-9]+$']\n  - tags: ['pr-*']\n    use-regex: true\n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`policy line 2 (rule 1, tags): "^pr-[0-9]+$" reads like a regular expression`,
		`policy line 3 (rule 2, tags): use-regex is on, and "pr-*" reads like a glob`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("no warning %q in:\n%s", want, log)
		}
	}
}
