package settings

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/ci"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// load runs Load with a GitHub provider over env m and flags args.
func load(t *testing.T, m map[string]string, args ...string) (*Settings, string, error) {
	t.Helper()
	var log bytes.Buffer
	p := ci.Detect(env(m), &log, &log)
	s, err := Load(context.Background(), p, args)
	return s, log.String(), err
}

func TestLoadErrors(t *testing.T) {
	base := map[string]string{"GITHUB_ACTIONS": "true", "INPUT_REPOSITORY": "registry.example.com/app", "INPUT_TAGS": "pr-*"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		input string
		want  string
	}{
		{"limit without a cap", with("INPUT_MAX-DELETIONS-MODE", "limit"), nil, "max-deletions-mode",
			`input "max-deletions-mode": limit needs max-deletions, the number of manifests one run may delete: set max-deletions`},
		{"unknown max-deletions-mode", with("INPUT_MAX-DELETIONS-MODE", "batch"), nil, "max-deletions-mode",
			`input "max-deletions-mode": "batch" is not one of stop, limit`},
		{"bool", with("INPUT_DRY-RUN", "maybe"), nil, "dry-run",
			`input "dry-run": "maybe" is not a boolean (use true or false)`},
		{"bool flag", with(), []string{"--insecure=sure"}, "insecure",
			`input "insecure": "sure" is not a boolean (use true or false)`},
		{"repository missing", with("INPUT_REPOSITORY", ""), nil, "repository",
			`input "repository" is required: set it to the repository to sweep, e.g. registry.example.com/team/app`},
		{"repository blank lines", with("INPUT_REPOSITORY", " \n , \n"), nil, "repository",
			`input "repository" is required: set it to the repository to sweep, e.g. registry.example.com/team/app`},
		{"repository uppercase", with("INPUT_REPOSITORY", "registry.example.com/Team/App"), nil, "repository",
			`input "repository": "registry.example.com/Team/App" is not a repository: use lowercase letters, digits and . _ - / only (use host[:port]/path, e.g. registry.example.com/team/app)`},
		{"repository with tag", with("INPUT_REPOSITORY", "ghcr.io/o/app:latest"), nil, "repository",
			`input "repository": "ghcr.io/o/app:latest" is not a repository: drop the tag (use host[:port]/path, e.g. registry.example.com/team/app; tags are chosen with tags)`},
		{"repository with digest", with("INPUT_REPOSITORY", "ghcr.io/o/app@sha256:abc"), nil, "repository",
			`input "repository": "ghcr.io/o/app@sha256:abc" is not a repository: drop the digest (use host[:port]/path, e.g. registry.example.com/team/app; tags are chosen with tags)`},
		{"repository scheme", with("INPUT_REPOSITORY", "https://ghcr.io/o/app"), nil, "repository",
			`input "repository": "https://ghcr.io/o/app" is not a repository: drop the scheme (use host[:port]/path, e.g. registry.example.com/team/app)`},
		{"repository bare host", with("INPUT_REPOSITORY", "localhost:5000"), nil, "repository",
			`input "repository": "localhost:5000" names a registry, not a repository: add the path (use host[:port]/path, e.g. registry.example.com/team/app), or localhost:5000/* for every repository`},
		{"repository with credentials", with("INPUT_REPOSITORY", "user:s3cr3t@registry.example.com/app"), nil, "repository",
			`input "repository": "***@registry.example.com/app" is not a repository: credentials do not belong in it; drop them and set username and password (the password from a secret)`},
		{"repository with credentials and scheme", with("INPUT_REPOSITORY", "https://user:s3cr3t@registry.example.com/app"), nil, "repository",
			`input "repository": "https://***@registry.example.com/app" is not a repository: credentials do not belong in it`},
		{"repository with a token as user", with("INPUT_REPOSITORY", "ghp_s3cr3t@ghcr.io/o/app"), nil, "repository",
			`input "repository": "***@ghcr.io/o/app" is not a repository: credentials do not belong in it`},
		{"repository image and tag", with("INPUT_REPOSITORY", "app:pr-1"), nil, "repository",
			`input "repository": "app:pr-1" is not a repository: "pr-1" is a tag, and tags are chosen with tags (set repository to app with its registry host, e.g. registry.example.com/team/app, and tags to pr-1)`},
		{"repository mid wildcard", with("INPUT_REPOSITORY", "ghcr.io/o/*/x"), nil, "repository",
			`input "repository": "ghcr.io/o/*/x" is not a repository: a wildcard is only allowed as a trailing /* (use host[:port]/path, e.g. registry.example.com/team/app)`},
		{"repository double slash", with("INPUT_REPOSITORY", "ghcr.io/o//x"), nil, "repository",
			`input "repository": "ghcr.io/o//x" is not a repository: path part "" is not lowercase letters and digits joined by . _ or - (use host[:port]/path, e.g. registry.example.com/team/app)`},
		{"negative", with("INPUT_MAX-DELETIONS", "-1"), nil, "max-deletions",
			`input "max-deletions": -1 is negative (use a number from 0 to 1000000)`},
		{"absurd", with("INPUT_KEEP-LATEST", "10000000"), nil, "keep-latest",
			`input "keep-latest": 10000000 is out of range (use a number from 0 to 1000000)`},
		{"not a number", with("INPUT_KEEP-LATEST", "ten"), nil, "keep-latest",
			`input "keep-latest": "ten" is not a whole number (use a number from 0 to 1000000)`},
		{"concurrency zero", with("INPUT_CONCURRENCY", "0"), nil, "concurrency",
			`input "concurrency": 0 is out of range (use a number from 1 to 64)`},
		{"concurrency high", with("INPUT_CONCURRENCY", "65"), nil, "concurrency",
			`input "concurrency": 65 is out of range (use a number from 1 to 64)`},
		{"duration unit", with("INPUT_OLDER-THAN", "30"), nil, "older-than",
			`input "older-than": "30" is not a duration: 30 has no unit (use a number and a unit: 90m, 36h, 30d, 2w)`},
		{"duration years", with("INPUT_OLDER-THAN", "1y"), nil, "older-than",
			`input "older-than": "1y" is not a duration: years and months vary in length (use days or weeks: 365d, 4w)`},
		{"duration negative", with("INPUT_OLDER-THAN", "-2d"), nil, "older-than",
			`input "older-than": "-2d" is negative (use a positive duration such as 30d, or leave it empty)`},
		{"duration unknown unit", with(), []string{"--timeout", "5x"}, "timeout",
			`input "timeout": "5x" is not a duration: unknown unit "x" (use a number and a unit: 90m, 36h, 30d, 2w)`},
		{"enum", with("INPUT_BACKEND", "harbor"), nil, "backend",
			`input "backend": "harbor" is not one of auto, oci, github, dockerhub`},
		{"glob", with("INPUT_TAGS", "pr-[1"), nil, "tags",
			`input "tags": invalid glob pattern "pr-[1": `},
		{"regex", with("INPUT_EXCLUDE-TAGS", "v(1", "INPUT_USE-REGEX", "true"), nil, "exclude-tags",
			`input "exclude-tags": invalid regular expression "v(1": missing closing ) (fix it, or set use-regex to false for globs)`},
		{"nothing to do", with("INPUT_TAGS", ""), nil, "",
			`nothing to delete: set tags, keep-latest, older-than, pulled-within or untagged`},
		{"unknown flag", with(), []string{"--tag", "x"}, "",
			`unknown flag --tag (see regsweep --help)`},
		{"flag without value", with(), []string{"--tags"}, "",
			`flag --tags needs a value (see regsweep --help)`},
		{"positional", with(), []string{"ghcr.io/o/app"}, "",
			`unexpected argument "ghcr.io/o/app": settings are flags such as --repository or --tags (see regsweep --help)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, tt.env, tt.args...)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want *settings.Error", err, err)
			}
			if se.Input != tt.input {
				t.Errorf("Input = %q, want %q", se.Input, tt.input)
			}
			if !strings.HasPrefix(se.Error(), tt.want) {
				t.Errorf("message\n got %s\nwant %s", se.Error(), tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the secret is in the message: %s", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("one error, one line: %q", err.Error())
			}
		})
	}
}

func TestLoadSeveralErrors(t *testing.T) {
	_, _, err := load(t, map[string]string{"REGSWEEP_DRY_RUN": "perhaps", "REGSWEEP_CONCURRENCY": "100"})
	want := `input "repository" is required: set it to the repository to sweep, e.g. registry.example.com/team/app
input "dry-run": "perhaps" is not a boolean (use true or false)
input "concurrency": 100 is out of range (use a number from 1 to 64)`
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
}

func TestLoadValues(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(t *testing.T, s *Settings)
	}{
		{
			name: "github inputs as the runner sends them, unset ones empty",
			env: map[string]string{
				"GITHUB_ACTIONS": "true", "INPUT_REPOSITORY": "registry.example.com/team/app\nalpine,  myorg/tool\n",
				"INPUT_TAGS": "pr-12\npr-12-*", "INPUT_EXCLUDE-TAGS": "", "INPUT_DRY-RUN": "YES", "INPUT_CONCURRENCY": "",
				"INPUT_OLDER-THAN": "2w", "INPUT_DELETE-REFERRERS": "off", "INPUT_BACKEND": "OCI", "INPUT_TIMEOUT": "1d2h",
			},
			check: func(t *testing.T, s *Settings) {
				wantList(t, "Repositories", s.Repositories, "registry.example.com/team/app", "docker.io/library/alpine", "docker.io/myorg/tool")
				wantList(t, "Tags", s.Tags, "pr-12", "pr-12-*")
				wantList(t, "ExcludeTags", s.ExcludeTags)
				if !s.DryRun || s.Concurrency != 16 || s.DeleteReferrers || s.Backend != "oci" {
					t.Errorf("got %+v", s)
				}
				if s.OlderThan != 14*24*time.Hour || s.Timeout != 26*time.Hour {
					t.Errorf("durations %v %v", s.OlderThan, s.Timeout)
				}
				if !s.Policy.Include.Match("pr-12-abc") || s.Policy.Include.Match("pr-123") || s.Policy.OlderThan != s.OlderThan {
					t.Errorf("policy %+v", s.Policy)
				}
			},
		},
		{
			name: "defaults",
			env:  map[string]string{"REGSWEEP_REPOSITORY": "localhost:5000/app", "REGSWEEP_TAGS": "x"},
			check: func(t *testing.T, s *Settings) {
				if s.DryRun || s.UseRegex || s.Concurrency != 16 || !s.Recheck || !s.DeleteReferrers || s.Backend != "auto" || s.MaxDeletions != 0 || s.OlderThan != 0 || s.Timeout != 0 {
					t.Errorf("defaults %+v", s)
				}
				if s.Sources["concurrency"] != SourceDefault || s.Sources["repository"] != SourceCI || s.Sources["username"] != SourceUnset {
					t.Errorf("sources %v", s.Sources)
				}
			},
		},
		{
			name: "flags beat the environment; lists repeat; bare booleans",
			env:  map[string]string{"REGSWEEP_REPOSITORY": "env.example.com/app", "REGSWEEP_TAGS": "env-*", "REGSWEEP_DRY_RUN": "false"},
			args: []string{"--repository", "localhost:5000/app", "--tags", "pr-*", "--tags=rc-*", "--dry-run", "--json", "--keep-latest=3"},
			check: func(t *testing.T, s *Settings) {
				wantList(t, "Repositories", s.Repositories, "localhost:5000/app")
				wantList(t, "Tags", s.Tags, "pr-*", "rc-*")
				if !s.DryRun || !s.JSON || s.KeepLatest != 3 || s.Sources["tags"] != SourceFlag {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "regex keeps commas",
			env:  map[string]string{"REGSWEEP_REPOSITORY": "h.io/a", "REGSWEEP_TAGS": "^v[0-9]{1,3}$\npr-.*", "REGSWEEP_USE_REGEX": "1"},
			check: func(t *testing.T, s *Settings) {
				wantList(t, "Tags", s.Tags, "^v[0-9]{1,3}$", "pr-.*")
				if !s.Policy.Include.Match("v12") || s.Policy.Include.Match("v1234") {
					t.Errorf("regex policy wrong")
				}
			},
		},
		{
			name: "keep-latest alone: every tag is a candidate",
			env:  map[string]string{"REGSWEEP_REPOSITORY": "h.io/a", "REGSWEEP_KEEP_LATEST": "5"},
			check: func(t *testing.T, s *Settings) {
				wantList(t, "Tags", s.Tags)
				if !s.Policy.Include.Match("anything") || s.Policy.KeepLatest != 5 {
					t.Errorf("policy %+v", s.Policy)
				}
			},
		},
		{
			name: "batches and a plan file",
			args: []string{"--repository", "h.io/a", "--tags", "pr-*", "--max-deletions", "50", "--max-deletions-mode", "LIMIT", "--plan-out", "plan.json"},
			check: func(t *testing.T, s *Settings) {
				if s.MaxDeletions != 50 || s.MaxDeletionsMode != MaxDeletionsLimit || s.PlanOut != "plan.json" {
					t.Errorf("max-deletions %d, mode %q, plan-out %q", s.MaxDeletions, s.MaxDeletionsMode, s.PlanOut)
				}
			},
		},
		{
			name: "untagged alone matches no tag",
			env:  map[string]string{"REGSWEEP_REPOSITORY": "h.io/a", "REGSWEEP_UNTAGGED": "on"},
			check: func(t *testing.T, s *Settings) {
				if s.Policy.Include == nil || s.Policy.Include.Match("latest") || !s.Policy.Untagged {
					t.Errorf("policy %+v", s.Policy)
				}
			},
		},
		{
			name: "wildcards and duplicates",
			env:  map[string]string{"REGSWEEP_REPOSITORY": "ghcr.io/org/*,localhost:5000/*,myns/*,h.io/a,h.io/a", "REGSWEEP_TAGS": "x"},
			check: func(t *testing.T, s *Settings) {
				wantList(t, "Repositories", s.Repositories, "ghcr.io/org/*", "localhost:5000/*", "docker.io/myns/*", "h.io/a")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := load(t, tt.env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func wantList(t *testing.T, name string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func TestLoadMasksSecrets(t *testing.T) {
	s, log, err := load(t, map[string]string{
		"GITHUB_ACTIONS": "true", "INPUT_REPOSITORY": "ghcr.io/o/app", "INPUT_TAGS": "pr-*",
		"INPUT_USERNAME": "bot", "INPUT_PASSWORD": "hunter2\n", "INPUT_GITHUB-TOKEN": "ghs_abc",
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Password != "hunter2" || s.GitHubToken != "ghs_abc" {
		t.Errorf("secrets %q %q", s.Password, s.GitHubToken)
	}
	for _, want := range []string{"::add-mask::hunter2%0A\n", "::add-mask::hunter2\n", "::add-mask::ghs_abc\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "bot") {
		t.Errorf("username masked or logged: %s", log)
	}

	// A secret given with a bad setting elsewhere is still masked first.
	_, log, _ = load(t, map[string]string{"GITHUB_ACTIONS": "true", "INPUT_PASSWORD": "s3cr3t", "INPUT_DRY-RUN": "x"})
	if !strings.Contains(log, "::add-mask::s3cr3t") {
		t.Errorf("secret not masked on error: %s", log)
	}
}

// TestLoadGitLabZeroConfig: a GitLab job with no REGSWEEP_ variable but the
// tags sweeps its own project's registry with the job's credentials; the
// credentials never go to another registry.
func TestLoadGitLabZeroConfig(t *testing.T) {
	gl := map[string]string{
		"GITLAB_CI": "true", "CI_REGISTRY": "registry.gitlab.com", "CI_REGISTRY_IMAGE": "registry.gitlab.com/group/project",
		"CI_REGISTRY_USER": "gitlab-ci-token", "CI_REGISTRY_PASSWORD": "glcbt-x", "CI_JOB_TOKEN": "glcbt-x",
		"REGSWEEP_TAGS": "mr-7",
	}
	s, log, err := load(t, gl)
	if err != nil {
		t.Fatal(err)
	}
	wantList(t, "Repositories", s.Repositories, "registry.gitlab.com/group/project")
	if s.Username != "gitlab-ci-token" || s.Password != "glcbt-x" || s.Sources["repository"] != SourceCIDef {
		t.Errorf("got %q %q %v", s.Username, s.Password, s.Sources)
	}
	if strings.Contains(log, "glcbt-x") {
		t.Errorf("secret printed: %q", log)
	}

	gl["REGSWEEP_REPOSITORY"] = "registry.gitlab.com/group/project/sub,docker.io/me/app"
	s, log, err = load(t, gl)
	if err != nil {
		t.Fatal(err)
	}
	if s.Username != "" || s.Password != "" {
		t.Errorf("job credentials kept for another registry: %q %q", s.Username, s.Password)
	}
	if !strings.Contains(log, "Not using the gitlab job's registry credentials: docker.io/me/app is not on the job's registry registry.gitlab.com.") {
		t.Errorf("log = %q", log)
	}

	gl["REGSWEEP_PASSWORD"] = "mine"
	s, _, err = load(t, gl)
	if err != nil {
		t.Fatal(err)
	}
	if s.Username != "" || s.Password != "mine" {
		t.Errorf("explicit password dropped or default user kept: %q %q", s.Username, s.Password)
	}
}

func TestLoadWoodpecker(t *testing.T) {
	s, _, err := load(t, map[string]string{
		"CI_SYSTEM_NAME": "woodpecker", "PLUGIN_REPOSITORY": "registry.example.com/app",
		"PLUGIN_TAGS": "pr-1,pr-2", "PLUGIN_DRY_RUN": "true", "REGSWEEP_DRY_RUN": "false", "REGSWEEP_KEEP_LATEST": "2",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantList(t, "Tags", s.Tags, "pr-1", "pr-2")
	if !s.DryRun || s.KeepLatest != 2 {
		t.Errorf("got %+v", s)
	}

	// A YAML list under use-regex arrives comma-joined too: one expression
	// per item, and a comma inside braces stays in its expression.
	s, _, err = load(t, map[string]string{
		"DRONE": "true", "PLUGIN_REPOSITORY": "registry.example.com/app",
		"PLUGIN_TAGS": "^pr-[0-9]{1,4}$,^rc-.*$", "PLUGIN_USE_REGEX": "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantList(t, "Tags", s.Tags, "^pr-[0-9]{1,4}$", "^rc-.*$")
	if !s.Policy.Include.Match("rc-1") || !s.Policy.Include.Match("pr-12") {
		t.Errorf("a list item was lost: %q", s.Policy.Include.Patterns())
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--repository", "x", "-help"}} {
		if _, _, err := load(t, nil, args...); !errors.Is(err, ErrHelp) {
			t.Errorf("%v: err = %v, want ErrHelp", args, err)
		}
	}
	if _, _, err := load(t, nil, "--version"); !errors.Is(err, ErrVersion) {
		t.Errorf("--version: err = %v", err)
	}
	snaps.MatchSnapshot(t, Usage())
	snaps.MatchSnapshot(t, MarkdownTable())
}

func TestUsageNamesEveryFlag(t *testing.T) {
	u := Usage()
	for _, d := range Definitions() {
		if !strings.Contains(u, "--"+d.Name+" ") && !strings.Contains(u, "--"+d.Name+"\n") {
			t.Errorf("--help lacks --%s", d.Name)
		}
	}
}

// TestLoadInputDefaultVersusEnv: inside the action the runner sets every
// INPUT_* that action.yml gives a default, so an explicit REGSWEEP_* beside
// an input equal to its default wins; two values the user wrote conflict
// and stop the run (exit 2), never silently picking the real deletion.
func TestLoadInputDefaultVersusEnv(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"GITHUB_ACTIONS": "true", "INPUT_REPOSITORY": "registry.example.com/app", "INPUT_TAGS": "pr-*",
			"INPUT_DRY-RUN": "false", "INPUT_CONCURRENCY": "16", "INPUT_BACKEND": "auto", "INPUT_GITHUB-TOKEN": "ghs_default"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	t.Run("explicit env beats the action default", func(t *testing.T) {
		s, log, err := load(t, base("REGSWEEP_DRY_RUN", "true", "REGSWEEP_CONCURRENCY", "4", "REGSWEEP_BACKEND", "oci"))
		if err != nil {
			t.Fatal(err)
		}
		if !s.DryRun || s.Concurrency != 4 || s.Backend != "oci" {
			t.Errorf("dry-run %v concurrency %d backend %q: REGSWEEP_* lost to action.yml's defaults", s.DryRun, s.Concurrency, s.Backend)
		}
		if !strings.Contains(log, "dry-run: using REGSWEEP_DRY_RUN; INPUT_DRY-RUN only carries action.yml's default") {
			t.Errorf("log does not say which value was taken:\n%s", log)
		}
	})
	t.Run("same value twice is no conflict", func(t *testing.T) {
		s, _, err := load(t, base("REGSWEEP_DRY_RUN", "no", "REGSWEEP_TAGS", "pr-*"))
		if err != nil || s.DryRun {
			t.Fatalf("err %v, dry-run %v", err, s != nil && s.DryRun)
		}
	})
	conflicts := []struct {
		name  string
		env   map[string]string
		input string
		want  string
	}{
		{"input written by the user", base("INPUT_DRY-RUN", "true", "REGSWEEP_DRY_RUN", "false"), "dry-run",
			`input "dry-run" is set twice, to different values: INPUT_DRY-RUN=true (the step's with:) and REGSWEEP_DRY_RUN=false; remove one of them`},
		{"list", base("REGSWEEP_TAGS", "rc-*"), "tags",
			`input "tags" is set twice, to different values: INPUT_TAGS=pr-* (the step's with:) and REGSWEEP_TAGS=rc-*; remove one of them`},
		{"secret values are not shown", base("REGSWEEP_GITHUB_TOKEN", "ghp_other"), "github-token",
			`input "github-token" is set twice, to different values: INPUT_GITHUB-TOKEN (the step's with:) and REGSWEEP_GITHUB_TOKEN; remove one of them`},
	}
	for _, tt := range conflicts {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, tt.env)
			var se *Error
			if !errors.As(err, &se) || se.Input != tt.input || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "ghp_other") || strings.Contains(err.Error(), "ghs_default") {
				t.Errorf("secret in the message: %s", err)
			}
		})
	}
}

// TestLoadGitLabCredentialScope: the job's credentials go to CI_REGISTRY
// exactly (host and port), not to the host of CI_REGISTRY_IMAGE.
func TestLoadGitLabCredentialScope(t *testing.T) {
	tests := []struct {
		name, registry, image, repo string
		keep                        bool
	}{
		{"image elsewhere", "registry.gitlab.com", "mirror.example.com/g/p", "", false},
		{"same host, with port", "registry.example.com:5050", "registry.example.com:5050/g/p", "", true},
		{"same host, other port", "registry.example.com:5050", "registry.example.com:5050/g/p", "registry.example.com/g/p", false},
		{"case differs", "Registry.Example.com", "registry.example.com/g/p", "", true},
		{"no CI_REGISTRY", "", "registry.example.com/g/p", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{"GITLAB_CI": "true", "CI_REGISTRY": tt.registry, "CI_REGISTRY_IMAGE": tt.image,
				"CI_JOB_TOKEN": "glcbt-x", "REGSWEEP_TAGS": "mr-7", "REGSWEEP_REPOSITORY": tt.repo}
			s, log, err := load(t, m)
			if err != nil {
				t.Fatal(err)
			}
			if kept := s.Password != ""; kept != tt.keep {
				t.Errorf("job token kept = %v, want %v (log %q)", kept, tt.keep, log)
			}
		})
	}
}

// TestLoadPatternHints: patterns that are valid but almost surely typos
// load, with one warning each that names the fix.
func TestLoadPatternHints(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // one warning line each, in order
	}{
		{"braces split at the comma", map[string]string{"REGSWEEP_TAGS": "pr-{1,2}, rc-*"},
			[]string{`tags: "pr-{1,2}" was split at its comma: globs have no {a,b} alternatives and list entries are separated by commas; write each alternative as its own pattern: pr-1, pr-2`}},
		{"a brace alone", map[string]string{"REGSWEEP_EXCLUDE_TAGS": "v{1}", "REGSWEEP_TAGS": "x"},
			[]string{`exclude-tags: "v{1}" contains a brace, which globs do not expand and no tag contains: it matches nothing`}},
		{"a regex without use-regex", map[string]string{"REGSWEEP_TAGS": "^pr-[0-9]+$"},
			[]string{`tags: "^pr-[0-9]+$" reads like a regular expression, which no tag can match as a glob: set use-regex to true, or write it as a glob (*, ?, [...])`}},
		{"a glob under use-regex", map[string]string{"REGSWEEP_TAGS": "pr-*\nv[0-9]+\\.[0-9]+", "REGSWEEP_USE_REGEX": "true"},
			[]string{`tags: use-regex is on, and "pr-*" reads like a glob: as a regular expression a * repeats the character before it; write "pr-.*" for any run of characters, or set use-regex to false`}},
		{"plain patterns", map[string]string{"REGSWEEP_TAGS": "pr-*, v1.?, [a-c]*", "REGSWEEP_EXCLUDE_TAGS": "latest"}, nil},
		{"plain regex", map[string]string{"REGSWEEP_TAGS": "^v[0-9]{1,3}$,pr-.*", "REGSWEEP_USE_REGEX": "true"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["REGSWEEP_REPOSITORY"] = "h.io/a"
			_, log, err := load(t, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range strings.Split(log, "\n") {
				if w, ok := strings.CutPrefix(l, "warning: "); ok {
					got = append(got, w)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("warnings\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
