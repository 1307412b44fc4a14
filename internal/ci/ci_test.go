package ci

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/testkit/ciparse"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"github", map[string]string{"GITHUB_ACTIONS": "true"}, "github"},
		{"gitlab", map[string]string{"GITLAB_CI": "true"}, "gitlab"},
		{"woodpecker", map[string]string{"CI_SYSTEM_NAME": "woodpecker", "DRONE": "true"}, "woodpecker"},
		{"woodpecker CI var", map[string]string{"CI": "woodpecker"}, "woodpecker"},
		{"drone", map[string]string{"DRONE": "true", "CI": "true"}, "drone"},
		{"terminal", map[string]string{}, "terminal"},
		{"github false", map[string]string{"GITHUB_ACTIONS": "false"}, "terminal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if got := Detect(envMap(tt.env), &out, &out).Name(); got != tt.want {
				t.Errorf("Detect = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		env      map[string]string
		setting  string
		want     string
		wantOK   bool
	}{
		{"github dash kept", "github", map[string]string{"INPUT_DRY-RUN": "true"}, "dry-run", "true", true},
		{"github underscore", "github", map[string]string{"INPUT_DRY_RUN": "yes"}, "dry-run", "yes", true},
		{"github empty is unset", "github", map[string]string{"INPUT_DRY-RUN": ""}, "dry-run", "", false},
		{"github REGSWEEP in a run step", "github", map[string]string{"REGSWEEP_DRY_RUN": "true"}, "dry-run", "true", true},
		{"github input beats REGSWEEP", "github", map[string]string{"INPUT_DRY-RUN": "false", "REGSWEEP_DRY_RUN": "true"}, "dry-run", "false", true},
		{"gitlab", "gitlab", map[string]string{"REGSWEEP_KEEP_LATEST": "3"}, "keep-latest", "3", true},
		{"woodpecker plugin", "woodpecker", map[string]string{"PLUGIN_EXCLUDE_TAGS": "a,b", "REGSWEEP_EXCLUDE_TAGS": "c"}, "exclude-tags", "a,b", true},
		{"woodpecker fallback", "woodpecker", map[string]string{"REGSWEEP_EXCLUDE_TAGS": "c"}, "exclude-tags", "c", true},
		{"drone plugin", "drone", map[string]string{"PLUGIN_REPOSITORY": "r"}, "repository", "r", true},
		{"terminal", "terminal", map[string]string{"REGSWEEP_REPOSITORY": "r"}, "repository", "r", true},
		{"terminal not INPUT", "terminal", map[string]string{"INPUT_REPOSITORY": "r"}, "repository", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(tt.provider, envMap(tt.env), &bytes.Buffer{})
			got, ok := p.Lookup(tt.setting)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.setting, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func newProvider(name string, env func(string) string, out *bytes.Buffer) Provider {
	switch name {
	case "github":
		return NewGitHub(env, out, out)
	case "gitlab":
		return NewGitLab(env, out, out)
	case "woodpecker":
		return NewWoodpecker(env, out, out)
	case "drone":
		return NewDrone(env, out, out)
	default:
		return NewTerminal(env, out, out)
	}
}

// TestGitLabDefaults: inside a GitLab job with no REGSWEEP_ variable, the
// repository and credentials come from the CI_* variables GitLab sets.
func TestGitLabDefaults(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{
			name: "registry user and password",
			env: map[string]string{
				"GITLAB_CI": "true", "CI_REGISTRY": "registry.gitlab.com",
				"CI_REGISTRY_IMAGE": "registry.gitlab.com/group/project",
				"CI_REGISTRY_USER":  "gitlab-ci-token", "CI_REGISTRY_PASSWORD": "s3cret", "CI_JOB_TOKEN": "job",
			},
			want: map[string]string{"repository": "registry.gitlab.com/group/project", "username": "gitlab-ci-token", "password": "s3cret"},
		},
		{
			name: "job token only",
			env:  map[string]string{"GITLAB_CI": "true", "CI_REGISTRY_IMAGE": "gl.example:5050/g/p", "CI_JOB_TOKEN": "job"},
			want: map[string]string{"repository": "gl.example:5050/g/p", "username": "gitlab-ci-token", "password": "job"},
		},
		{
			name: "no registry",
			env:  map[string]string{"GITLAB_CI": "true"},
			want: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Detect(envMap(tt.env), &bytes.Buffer{}, &bytes.Buffer{})
			for _, name := range []string{"repository", "username", "password", "tags"} {
				if _, ok := p.Lookup(name); ok {
					t.Errorf("Lookup(%q) found a value without REGSWEEP_ variables", name)
				}
				got, ok := p.Default(name)
				want, wantOK := tt.want[name]
				if got != want || ok != wantOK {
					t.Errorf("Default(%q) = %q, %v; want %q, %v", name, got, ok, want, wantOK)
				}
			}
		})
	}
}

func TestGitHubOutputs(t *testing.T) {
	dir := t.TempDir()
	outFile := filepath.Join(dir, "output")
	// The runner creates the file; something else may have written first.
	if err := os.WriteFile(outFile, []byte("earlier=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	g := NewGitHub(envMap(map[string]string{"GITHUB_OUTPUT": outFile}), &log, &log)
	want := map[string]string{
		"earlier":         "1",
		"deleted-count":   "3",
		"deleted-tags":    "pr-1\npr-2",
		"evil":            "x\nEOF\ninjected=1\nghadelimiter_\n_GitHubActionsFileCommandDelimeter_",
		"empty":           "",
		"trailing":        "a\n",
		"deleted-digests": `["sha256:aa","sha256:bb"]`,
	}
	for _, k := range []string{"deleted-count", "deleted-tags", "evil", "empty", "trailing", "deleted-digests"} {
		if err := g.SetOutput(Output{Name: k, Value: want[k]}); err != nil {
			t.Fatalf("SetOutput(%s): %v", k, err)
		}
	}
	data, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ciparse.GitHubEnvFile(data)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, data)
	}
	if !equalMaps(got, want) {
		t.Errorf("read back %q\nwant %q", got, want)
	}
	if log.Len() != 0 {
		t.Errorf("outputs written to the log too: %q", log.String())
	}
}

func TestGitHubOutputBadName(t *testing.T) {
	g := NewGitHub(envMap(map[string]string{"GITHUB_OUTPUT": filepath.Join(t.TempDir(), "o")}), &bytes.Buffer{}, &bytes.Buffer{})
	for _, name := range []string{"", "a=b", "a<<b", "a\nb", "a b"} {
		if err := g.SetOutput(Output{Name: name, Value: "v"}); err == nil {
			t.Errorf("SetOutput(%q) accepted a bad name", name)
		}
	}
}

func TestGitHubOutputWithoutFile(t *testing.T) {
	var log bytes.Buffer
	g := NewGitHub(envMap(nil), &log, &log)
	if err := g.SetOutput(Output{Name: "deleted-count", Value: "2"}); err != nil {
		t.Fatal(err)
	}
	if err := g.SetOutput(Output{Name: "x", Value: "::error::boom"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "deleted-count<<ghadelimiter_") || !strings.Contains(log.String(), "\n2\n") {
		t.Errorf("printed output missing: %q", log.String())
	}
	if strings.Contains(log.String(), "\n::error::") {
		t.Errorf("printed output issues a workflow command: %q", log.String())
	}
}

func FuzzGitHubOutput(f *testing.F) {
	f.Add("deleted-tags", "a\nb")
	f.Add("x", "v\r\nEOF\r")
	f.Add("y", "ghadelimiter_0\n")
	f.Add("z", "\xff\xfe")
	f.Fuzz(func(t *testing.T, name, value string) {
		path := filepath.Join(t.TempDir(), "output")
		g := NewGitHub(envMap(map[string]string{"GITHUB_OUTPUT": path}), &bytes.Buffer{}, &bytes.Buffer{})
		if err := g.SetOutput(Output{Name: name, Value: value}); err != nil {
			if checkOutputName(name) == nil {
				t.Fatalf("SetOutput(%q) with a valid name: %v", name, err)
			}
			return
		}
		// A second output after the first must survive whatever the first held.
		if err := g.SetOutput(Output{Name: "after", Value: "ok"}); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ciparse.GitHubEnvFile(data)
		if err != nil {
			t.Fatalf("runner would fail: %v\n%q", err, data)
		}
		want := map[string]string{name: normalizeValue(value), "after": "ok"}
		if name == "after" {
			want = map[string]string{"after": "ok"}
		}
		if !equalMaps(got, want) {
			t.Fatalf("read back %q, want %q", got, want)
		}
	})
}

func TestGitHubMaskAndCommands(t *testing.T) {
	var log bytes.Buffer
	g := NewGitHub(envMap(nil), &log, &log)
	g.Mask("p@ss%word")
	g.Mask("line1\nline2")
	g.Mask("")
	g.Group("Discover registry.example.com/app")
	g.Infof("plain %d", 1)
	g.Infof("::error::from a registry body")
	g.EndGroup()
	g.Warningf("50%% done\nnext line: %s", "x")
	g.Errorf("failed\r\n%s", "bad")
	want := "::add-mask::p@ss%25word\n" +
		"::add-mask::line1%0Aline2\n::add-mask::line1\n::add-mask::line2\n" +
		"::group::Discover registry.example.com/app\n" +
		"plain 1\n" +
		":\u200b:error::from a registry body\n" +
		"::endgroup::\n" +
		"::warning::50%25 done%0Anext line: x\n" +
		"::error::failed%0D%0Abad\n"
	if log.String() != want {
		t.Errorf("log =\n%q\nwant\n%q", log.String(), want)
	}
}

func TestSummaryAppends(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		p    func(*bytes.Buffer) Provider
		file string
	}{
		{"github", func(b *bytes.Buffer) Provider {
			return NewGitHub(envMap(map[string]string{"GITHUB_STEP_SUMMARY": filepath.Join(dir, "gh.md")}), b, b)
		}, filepath.Join(dir, "gh.md")},
		{"gitlab explicit", func(b *bytes.Buffer) Provider {
			return NewGitLab(envMap(map[string]string{"REGSWEEP_SUMMARY_FILE": filepath.Join(dir, "gl.md")}), b, b)
		}, filepath.Join(dir, "gl.md")},
		{"gitlab project dir", func(b *bytes.Buffer) Provider {
			return NewGitLab(envMap(map[string]string{"CI_PROJECT_DIR": dir}), b, b)
		}, filepath.Join(dir, "regsweep-summary.md")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(tt.file, []byte("# Earlier step\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			p := tt.p(&log)
			// Markdown must arrive as written: no HTML escaping.
			for _, md := range []string{"## regsweep\n", "| tag | <b>x</b> & y |"} {
				if err := p.Summary(md); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			want := "# Earlier step\n## regsweep\n| tag | <b>x</b> & y |\n"
			if string(got) != want {
				t.Errorf("summary file = %q, want %q", got, want)
			}
		})
	}
}

func TestGitLabDotenv(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	g := NewGitLab(envMap(map[string]string{"CI_PROJECT_DIR": dir}), &log, &log)
	outs := [][2]string{
		{"deleted-count", "2"},
		{"deleted-tags", "pr-1\npr-2\n"},
		{"deleted-digests", `["sha256:aa","sha256:bb"]`},
		{"deleted-count", "3"}, // set twice: the last value wins, once
		{"crlf", "a\r\nb=c"},
	}
	for _, o := range outs {
		if err := g.SetOutput(Output{Name: o[0], Value: o[1]}); err != nil {
			t.Fatal(err)
		}
	}
	// A list output stays out of the dotenv report (GitLab caps its size).
	if err := g.SetOutput(Output{Name: "kept-tags", Value: `["x"]`, List: true}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "regsweep.env"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 4 {
		t.Errorf("dotenv has %d lines, want 4:\n%s", n, data)
	}
	got, err := ciparse.Dotenv(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"REGSWEEP_OUT_DELETED_COUNT":   "3",
		"REGSWEEP_OUT_DELETED_TAGS":    "pr-1,pr-2",
		"REGSWEEP_OUT_DELETED_DIGESTS": `["sha256:aa","sha256:bb"]`,
		"REGSWEEP_OUT_CRLF":            "a,b=c",
	}
	if !equalMaps(got, want) {
		t.Errorf("dotenv = %q, want %q", got, want)
	}
	if log.Len() != 0 {
		t.Errorf("unexpected log: %q", log.String())
	}
}

func FuzzDotenvValue(f *testing.F) {
	f.Add("a\nb\r\nc")
	f.Add("x=y\rz")
	f.Fuzz(func(t *testing.T, v string) {
		data := renderDotenv(map[string]string{"k": v})
		if strings.Count(string(data), "\n") != 1 || strings.ContainsRune(string(data), '\r') {
			t.Fatalf("value %q broke the one-line rule: %q", v, data)
		}
		got, err := ciparse.Dotenv(data)
		if err != nil || len(got) != 1 {
			t.Fatalf("parse %q: %v %q", data, err, got)
		}
		if !strings.Contains(v, "\n") && !strings.Contains(v, "\r") && got[dotenvKey("k")] != strings.ToValidUTF8(v, "\uFFFD") {
			t.Fatalf("single-line value changed: %q -> %q", v, got[dotenvKey("k")])
		}
	})
}

func TestGitLabSectionsAndLog(t *testing.T) {
	var log bytes.Buffer
	g := NewGitLab(envMap(nil), &log, &log)
	g.now = func() time.Time { return time.Unix(1700000000, 0) }
	g.Mask("secret") // no-op: must not print the secret
	g.Group("Discover registry.gitlab.com/g/p")
	g.Infof("found %d tags", 4)
	g.EndGroup()
	g.EndGroup() // unbalanced: ignored
	g.Warningf("careful")
	g.Errorf("broken")
	want := "\x1b[0Ksection_start:1700000000:regsweep_1_discover_registry.gitlab.com_g_p[collapsed=true]\r\x1b[0KDiscover registry.gitlab.com/g/p\n" +
		"found 4 tags\n" +
		"\x1b[0Ksection_end:1700000000:regsweep_1_discover_registry.gitlab.com_g_p\r\x1b[0K\n" +
		"\x1b[0;33mWARNING: careful\x1b[0m\n" +
		"\x1b[0;31mERROR: broken\x1b[0m\n"
	if log.String() != want {
		t.Errorf("log =\n%q\nwant\n%q", log.String(), want)
	}
}

func TestWoodpeckerOutputs(t *testing.T) {
	tests := []struct {
		file  string
		parse func([]byte) (map[string]string, error)
		want  map[string]string
	}{
		{"out.env", ciparse.Dotenv, map[string]string{"REGSWEEP_OUT_DELETED_COUNT": "2", "REGSWEEP_OUT_DELETED_TAGS": "a,b"}},
		{"out.json", parseJSON, map[string]string{"deleted-count": "2", "deleted-tags": "a\nb"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			var log bytes.Buffer
			w := NewWoodpecker(envMap(map[string]string{"REGSWEEP_OUTPUT_FILE": path}), &log, &log)
			w.Mask("secret")
			if err := w.SetOutput(Output{Name: "deleted-count", Value: "2"}); err != nil {
				t.Fatal(err)
			}
			if err := w.SetOutput(Output{Name: "deleted-tags", Value: "a\nb"}); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if !equalMaps(got, tt.want) {
				t.Errorf("file = %q, want %q", got, tt.want)
			}
			wantLog := "{\"deleted-count\":\"2\"}\n{\"deleted-tags\":\"a\\nb\"}\n"
			if log.String() != wantLog {
				t.Errorf("log = %q, want %q", log.String(), wantLog)
			}
		})
	}
}

func TestTerminal(t *testing.T) {
	var stdout, stderr bytes.Buffer
	term := NewTerminal(envMap(map[string]string{"GITHUB_TOKEN": "tok"}), &stdout, &stderr)
	if v, ok := term.Default("github-token"); v != "tok" || !ok {
		t.Errorf("Default(github-token) = %q, %v", v, ok)
	}
	term.Group("plan")
	term.Infof("hello")
	term.Warningf("w")
	_ = term.SetOutput(Output{Name: "deleted-count", Value: "1"})
	_ = term.SetOutput(Output{Name: "deleted-tags", Value: "a\nb"})
	_ = term.Summary("# sum")
	// Outputs are not printed: the terminal shows the summary.
	if got, want := stdout.String(), "# sum\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got, want := stderr.String(), "== plan\nhello\nwarning: w\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}

	stdout.Reset()
	stderr.Reset()
	term = NewTerminal(envMap(nil), &stdout, &stderr)
	term.SetJSON(true)
	_ = term.SetOutput(Output{Name: "deleted-count", Value: "1"})
	_ = term.Summary("# sum")
	if err := term.WriteJSON(map[string]any{"deleted-count": 1, "dry-run": true, "deleted-tags": []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	// Native JSON, one line: numbers, booleans and arrays as themselves.
	var got struct {
		Count int      `json:"deleted-count"`
		Dry   bool     `json:"dry-run"`
		Tags  []string `json:"deleted-tags"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || got.Count != 1 || !got.Dry || len(got.Tags) != 1 || strings.Count(stdout.String(), "\n") != 1 {
		t.Errorf("json stdout = %q (%v)", stdout.String(), err)
	}
	if got, want := stderr.String(), "# sum\n"; got != want {
		t.Errorf("json stderr = %q, want %q", got, want)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestRecordFile: where each CI puts the record, and how the output names
// it (on GitHub relative to the workspace, which the container sees at
// another path than the host's upload-artifact).
func TestRecordFile(t *testing.T) {
	ws := filepath.Join(string(filepath.Separator), "github", "workspace")
	tests := []struct {
		name                string
		p                   Provider
		given               string
		wantWrite, wantShow string
	}{
		{"github default", NewGitHub(envMap(map[string]string{"GITHUB_WORKSPACE": ws}), io.Discard, io.Discard), "", filepath.Join(ws, "regsweep-record.json"), "regsweep-record.json"},
		{"github relative", NewGitHub(envMap(map[string]string{"GITHUB_WORKSPACE": ws}), io.Discard, io.Discard), "out/r.json", "out/r.json", "out/r.json"},
		{"github absolute in workspace", NewGitHub(envMap(map[string]string{"GITHUB_WORKSPACE": ws}), io.Discard, io.Discard), filepath.Join(ws, "a", "r.json"), filepath.Join(ws, "a", "r.json"), "a/r.json"},
		{"github absolute elsewhere", NewGitHub(envMap(map[string]string{"GITHUB_WORKSPACE": ws}), io.Discard, io.Discard), "/tmp/r.json", "/tmp/r.json", "/tmp/r.json"},
		{"github without a workspace", NewGitHub(envMap(nil), io.Discard, io.Discard), "", "", ""},
		{"gitlab default", NewGitLab(envMap(map[string]string{"CI_PROJECT_DIR": "/builds/p"}), io.Discard, io.Discard), "", "/builds/p/regsweep-record.json", "/builds/p/regsweep-record.json"},
		{"woodpecker default", NewWoodpecker(envMap(map[string]string{"CI_WORKSPACE": "/woodpecker/src"}), io.Discard, io.Discard), "", "/woodpecker/src/regsweep-record.json", "/woodpecker/src/regsweep-record.json"},
		{"drone default", NewDrone(envMap(map[string]string{"DRONE_WORKSPACE": "/drone/src"}), io.Discard, io.Discard), "", "/drone/src/regsweep-record.json", "/drone/src/regsweep-record.json"},
		{"terminal: only when asked", NewTerminal(envMap(nil), io.Discard, io.Discard), "", "", ""},
		{"terminal --record", NewTerminal(envMap(nil), io.Discard, io.Discard), "r.json", "r.json", "r.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, s := tt.p.RecordFile(tt.given)
			if w != tt.wantWrite || s != tt.wantShow {
				t.Errorf("RecordFile(%q) = %q, %q; want %q, %q", tt.given, w, s, tt.wantWrite, tt.wantShow)
			}
		})
	}
}

// TestNotice: the result line is a ::notice on GitHub.
func TestNotice(t *testing.T) {
	var out bytes.Buffer
	NewGitHub(envMap(nil), &out, &out).Noticef("regsweep: %d manifests deleted", 3)
	if got := out.String(); got != "::notice::regsweep: 3 manifests deleted\n" {
		t.Errorf("notice = %q", got)
	}
}
