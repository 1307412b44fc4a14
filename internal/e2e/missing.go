package e2e

import (
	"strings"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"
)

// missingRepository: a repository named explicitly that the registry does
// not know is an error naming it (exit 1), not an empty sweep; one emptied
// by an earlier run is still swept quietly, and a wildcard matching nothing
// stays a warning.
func missingRepository(t *testing.T, reg *Registry, _ *snaps.Config) {
	missing := reg.Host + "/no-such-repo"
	res := RunAction(t, map[string]string{"repository": missing, "tags": "pr-*"})
	t.Log(res.Log)
	if res.Code != 1 {
		t.Fatalf("missing repository: exit %d, want 1\n%s", res.Code, res.Log)
	}
	if !strings.Contains(res.Log, missing+": the repository does not exist") || !strings.Contains(res.Log, "spelling") {
		t.Fatalf("the log does not name the missing repository with the fix:\n%s", res.Log)
	}

	// A repository whose every tag an earlier run deleted.
	emptied := reg.Host + "/emptied"
	p := pusher(t, emptied)
	push(t, p, "pr-1", "emptied-pr-1")
	if res := RunAction(t, map[string]string{"repository": emptied, "tags": "pr-*"}); res.Code != 0 || res.Outputs["deleted-count"] != "1" {
		t.Fatalf("emptying: exit %d, deleted-count %s\n%s", res.Code, res.Outputs["deleted-count"], res.Log)
	}
	res = RunAction(t, map[string]string{"repository": emptied, "tags": "pr-*"})
	if res.Code != 0 {
		t.Fatalf("emptied repository: exit %d, want 0\n%s", res.Code, res.Log)
	}

	// A wildcard matching nothing stays a warning.
	res = RunAction(t, map[string]string{"repository": reg.Host + "/nothing-here/*", "tags": "pr-*"})
	if res.Code != 0 || !strings.Contains(res.Log, "matches no repository") {
		t.Fatalf("empty wildcard: exit %d, want 0 and a warning\n%s", res.Code, res.Log)
	}
}
