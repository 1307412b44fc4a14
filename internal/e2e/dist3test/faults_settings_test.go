package dist3test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

// TestEnvDryRunBeatsActionDefault: inside the action the runner sets
// INPUT_DRY-RUN=false from action.yml's default; REGSWEEP_DRY_RUN=true in
// the step's env makes it a dry run (nothing deleted), and a dry-run input
// the user wrote that disagrees with REGSWEEP_DRY_RUN stops the run with
// exit 2 before any request.
func TestEnvDryRunBeatsActionDefault(t *testing.T) {
	r := startFaultsRegistry(t, false)
	f := seedFixture(t, r, "app", 3)

	res := e2e.RunWith(t, e2e.Options{Env: map[string]string{"REGSWEEP_DRY_RUN": "true"}}, withCreds(map[string]string{"repository": f.repo, "tags": "pr-*"}))
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if res.Outputs["dry-run"] != "true" {
		t.Errorf("dry-run output %q, want true", res.Outputs["dry-run"])
	}
	if got := f.state(t); !reflect.DeepEqual(got, f.before) {
		t.Fatalf("a dry run changed the registry: %v, was %v", got, f.before)
	}
	if !strings.Contains(res.Log, "dry-run: using REGSWEEP_DRY_RUN; INPUT_DRY-RUN only carries action.yml's default") {
		t.Errorf("the log does not say which value was taken:\n%s", res.Log)
	}

	res = e2e.RunWith(t, e2e.Options{Env: map[string]string{"REGSWEEP_DRY_RUN": "false"}}, withCreds(map[string]string{"repository": f.repo, "tags": "pr-*", "dry-run": "true"}))
	if res.Code != 2 {
		t.Fatalf("exit %d, want 2\n%s", res.Code, res.Log)
	}
	if got := f.state(t); !reflect.DeepEqual(got, f.before) {
		t.Fatalf("a conflicting dry-run changed the registry: %v, was %v", got, f.before)
	}
}

// TestPatternWarnings: a tags or exclude-tags pattern that matches no tag
// is a warning in the summary, and braces in a glob get a hint naming the
// patterns to write; the run itself goes on with what matched.
func TestPatternWarnings(t *testing.T) {
	r := startFaultsRegistry(t, false)
	f := seedFixture(t, r, "app", 3)
	res := e2e.RunWith(t, e2e.Options{}, withCreds(map[string]string{"repository": f.repo, "tags": "pr-*\nrc-{1,2}", "exclude-tags": "v9"}))
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	for _, want := range []string{
		`::warning::tags: "rc-{1,2}" was split at its comma: globs have no {a,b} alternatives and list entries are separated by commas; write each alternative as its own pattern: rc-1, rc-2`,
	} {
		if !strings.Contains(res.Log, want) {
			t.Errorf("the log lacks %q:\n%s", want, res.Log)
		}
	}
	for _, want := range []string{
		`tags pattern "rc-{1" matches no tag in this repository`,
		`tags pattern "2}" matches no tag in this repository`,
		`exclude-tags pattern "v9" matches no tag in this repository: it protects nothing here`,
	} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("the summary lacks %q:\n%s", want, res.Summary)
		}
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, f.planned) {
		t.Errorf("deleted-digests = %v, want %v", got, f.planned)
	}
}
