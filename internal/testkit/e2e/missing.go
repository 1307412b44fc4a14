package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
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

// absentChild: an index whose child the registry no longer has before the
// run. Deleting the index finds the child absent: it is reported as already
// absent, never as deleted by this run.
func absentChild(t *testing.T, reg *Registry, _ *snaps.Config) {
	repo := reg.Host + "/absent-child"
	p := pusher(t, repo)
	amd := seed.ImagePlatform("absent-child-amd64", day0, "linux", "amd64")
	arm := seed.ImagePlatform("absent-child-arm64", day0, "linux", "arm64")
	idx, err := p.Index(context.Background(), "pr-1", seed.Index(amd, arm))
	if err != nil {
		t.Fatal(err)
	}
	gone, err := arm.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest(repo+"@"+gone.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(ref); err != nil {
		t.Fatal(err)
	}
	kept, err := amd.Digest()
	if err != nil {
		t.Fatal(err)
	}

	res := RunAction(t, map[string]string{"repository": repo, "tags": "pr-*"})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	want := []string{idx.String(), kept.String()}
	slices.Sort(want)
	if got := res.Strings(t, "deleted-digests"); !slices.Equal(got, want) {
		t.Fatalf("deleted-digests = %v, want the index and its present child %v", got, want)
	}
	if res.Outputs["deleted-count"] != "2" {
		t.Fatalf("deleted-count = %s, want 2", res.Outputs["deleted-count"])
	}
	if !strings.Contains(res.Log, "1 already absent") {
		t.Fatalf("the log does not report the absent child:\n%s", res.Log)
	}
}
