package dist3test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/settings"
	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

// TestCLIArgs covers the runs that end before any request: help, version
// and bad input.
func TestCLIArgs(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{name: "help", args: []string{"--help"}, wantCode: 0, wantStdout: "--repository"},
		{name: "help short", args: []string{"-h"}, wantCode: 0, wantStdout: "--dry-run"},
		{name: "version", args: []string{"--version"}, wantCode: 0, wantStdout: "regsweep " + binVersion + " (" + binRevision + ")\n"},
		{name: "unknown flag", args: []string{"--no-such-flag"}, wantCode: 2, wantStderr: "unknown flag --no-such-flag"},
		{name: "flag without value", args: []string{"--repository"}, wantCode: 2, wantStderr: "--repository"},
		{name: "stray argument", args: []string{"--repository", "127.0.0.1:1/a", "extra"}, wantCode: 2, wantStderr: `"extra"`},
		{name: "no repository", wantCode: 2, wantStderr: "repository"},
		{name: "bad number", args: []string{"--repository", "127.0.0.1:1/a", "--concurrency", "0"}, wantCode: 2, wantStderr: "concurrency"},
		{name: "bad env value", env: map[string]string{"REGSWEEP_REPOSITORY": "127.0.0.1:1/a", "REGSWEEP_DRY_RUN": "maybe"}, wantCode: 2, wantStderr: "dry-run"},
		{name: "bad duration", args: []string{"--repository", "127.0.0.1:1/a", "--older-than", "soon"}, wantCode: 2, wantStderr: "older-than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, tt.env, tt.args...)
			if r.Code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s", r.Code, tt.wantCode, r.Log())
			}
			if !strings.Contains(r.Stdout, tt.wantStdout) {
				t.Errorf("stdout does not contain %q:\n%s", tt.wantStdout, r.Stdout)
			}
			if !strings.Contains(r.Stderr, tt.wantStderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantStderr, r.Stderr)
			}
			if tt.wantCode != 0 && r.Stdout != "" {
				t.Errorf("a refused run printed on stdout:\n%s", r.Stdout)
			}
		})
	}
}

// TestCLIHelpListsEverySetting checks that --help names every setting.
func TestCLIHelpListsEverySetting(t *testing.T) {
	r := runBinary(t, nil, "--help")
	for _, d := range settings.Definitions() {
		if !strings.Contains(r.Stdout, "--"+d.Name) {
			t.Errorf("--help does not list --%s", d.Name)
		}
	}
}

// TestCLI runs flags (dry run, then real), --json and REGSWEEP_* variables
// against a registry that wants credentials.
func TestCLI(t *testing.T) {
	c := creds{User: "cli-user", Pass: "cli-S3cret-registry-PASS"}
	reg := startRegistry(t, c)
	repo := reg.Host + "/team/app"
	reg.seedDemo(t, repo)
	before := reg.state(t, repo)
	credEnv := map[string]string{"REGSWEEP_USERNAME": c.User, "REGSWEEP_PASSWORD": c.Pass}

	dry := runBinary(t, credEnv, "--repository", repo, "--tags", "pr-*", "--dry-run")
	if dry.Code != 0 {
		t.Fatalf("dry run exit %d\n%s", dry.Code, dry.Log())
	}
	checkFinal(t, before, reg.state(t, repo), nil)
	if !strings.Contains(dry.Stdout, "pr-1") {
		t.Errorf("dry run summary on stdout does not name pr-1:\n%s", dry.Stdout)
	}

	// --json: stdout is exactly one JSON object; the tags come from a flag
	// given twice and the environment supplies the rest.
	js := runBinary(t, credEnv, "--repository", repo, "--tags", "pr-1", "--tags", "pr-3", "--json")
	if js.Code != 0 {
		t.Fatalf("--json run exit %d\n%s", js.Code, js.Log())
	}
	rec := decodeOneObject(t, js.Stdout)
	after := reg.state(t, repo)
	checkFinal(t, before, after, []string{"pr-1", "pr-3"})
	if rec.DeletedCount != 2 || rec.DryRun || len(rec.DeletedDigests) != 2 {
		t.Errorf("--json record: %+v", rec)
	}
	sameStrings(t, "deleted-tags", e2e.BareTags(t, rec.DeletedTags), []string{"pr-1", "pr-3"})
	snaps.MatchJSON(t, normalize(js.Stdout))

	// Everything from REGSWEEP_*; a flag beats the variable.
	env := map[string]string{"REGSWEEP_REPOSITORY": repo, "REGSWEEP_TAGS": "pr-*", "REGSWEEP_EXCLUDE_TAGS": "pr-4"}
	for k, v := range credEnv {
		env[k] = v
	}
	real := runBinary(t, env, "--exclude-tags", "pr-2")
	if real.Code != 0 {
		t.Fatalf("real run exit %d\n%s", real.Code, real.Log())
	}
	pr2Sig := "sha256-" + strings.TrimPrefix(before["pr-2"], "sha256:") + ".sig"
	final := reg.state(t, repo)
	checkFinal(t, after, final, []string{"pr-4", "pr-5"})
	if _, ok := final[pr2Sig]; !ok {
		t.Errorf("the signature of kept pr-2 was deleted")
	}
	if reg.Wrong() > 0 {
		t.Errorf("%d requests carried other credentials", reg.Wrong())
	}
	for _, r := range []result{dry, js, real} {
		checkNoSecret(t, c.Pass, map[string]string{"stdout": r.Stdout, "stderr": r.Stderr})
	}
}

// decodeOneObject decodes stdout as exactly one JSON object, the run's
// record, with native values: numbers, booleans, arrays (a string where a
// number belongs fails to decode).
func decodeOneObject(t *testing.T, stdout string) report.Record {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	var m report.Record
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, stdout)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON value (%v):\n%s", err, stdout)
	}
	if rest := bytes.TrimSpace([]byte(stdout)); rest[0] != '{' {
		t.Fatalf("stdout does not start with the object:\n%s", stdout)
	}
	return m
}
