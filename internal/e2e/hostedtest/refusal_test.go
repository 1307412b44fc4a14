package hostedtest

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/e2e"
	"github.com/regsweep/regsweep/internal/fakes/ghpackages"
)

// TestGitHubPackagesRefusals: GitHub refuses to delete a public version
// with more than 5000 downloads, and a package's last tagged version (400
// and its message). Each refused version is kept and named with GitHub's
// words, a refused index keeps its children, the run goes on and deletes
// the rest, warns, counts it in refused-count, and exits 0.
func TestGitHubPackagesRefusals(t *testing.T) {
	t.Run("public-version-with-5000-downloads", func(t *testing.T) {
		f, host, env := github(t)
		f.AddPackage(ghpackages.Org, "acme", "app")
		popular, popularChildren := f.AddIndex("acme", "app", "pr-1", []string{"pr-1"}, day, "linux/amd64", "linux/arm64")
		f.AddImage("acme", "app", "pr-2", []string{"pr-2"}, day)
		f.AddIndex("acme", "app", "pr-3", []string{"pr-3"}, day, "linux/amd64", "linux/arm64")
		latest := f.AddImage("acme", "app", "main", []string{"latest"}, day)
		f.SetRefused("acme", "app", popular)
		res := sweepRefused(t, host, env, "pr-*", 1)
		if got, want := f.Digests("acme", "app"), sorted(append([]string{popular, latest}, popularChildren...)...); !reflect.DeepEqual(got, want) {
			t.Fatalf("versions left %v, want the refused index, its children and latest %v\n%s", got, want, res.Log)
		}
		wantReason(t, res, "pr-1", "5000 downloads")
	})
	t.Run("last-tagged-version", func(t *testing.T) {
		f, host, env := github(t)
		f.AddPackage(ghpackages.Org, "acme", "app")
		pr1 := f.AddImage("acme", "app", "pr-1", []string{"pr-1"}, day)
		pr2 := f.AddImage("acme", "app", "pr-2", []string{"pr-2"}, day)
		f.RefuseLastTagged(true)
		res := sweepRefused(t, host, env, "pr-*", 1)
		// Whichever GitHub saw last is kept, with its reason.
		left := f.Digests("acme", "app")
		last := map[string]string{pr1: "pr-1", pr2: "pr-2"}
		if len(left) != 1 || last[left[0]] == "" {
			t.Fatalf("versions left %v, want exactly one of pr-1 %s and pr-2 %s\n%s", left, pr1, pr2, res.Log)
		}
		wantReason(t, res, last[left[0]], "last tagged version")
	})
}

// sweepRefused sweeps tags and checks what every refusal has in common:
// exit 0, refused-count, no failure, one warning per refusal, no error.
func sweepRefused(t *testing.T, host string, env map[string]string, tags string, refused int) e2e.Result {
	t.Helper()
	res := e2e.RunWith(t, e2e.Options{Env: env}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "tags": tags, "github-token": token,
	})
	if res.Code != 0 {
		t.Fatalf("exit %d, want 0 (refusals are not failures)\n%s", res.Code, res.Log)
	}
	if got := res.Outputs["refused-count"]; got != strconv.Itoa(refused) || res.Outputs["failed-count"] != "0" {
		t.Errorf("refused-count = %s, failed-count = %s; want %d and 0", got, res.Outputs["failed-count"], refused)
	}
	if n := strings.Count(res.Log, "::warning::refused"); n != refused {
		t.Errorf("%d refusal warnings, want %d:\n%s", n, refused, res.Log)
	}
	if strings.Contains(res.Log, "::error::") {
		t.Errorf("a refusal was reported as an error:\n%s", res.Log)
	}
	return res
}

func wantReason(t *testing.T, res e2e.Result, tag, reason string) {
	t.Helper()
	var kept []struct{ Tag, Rule, Reason string }
	res.JSON(t, "kept-tags", &kept)
	for _, k := range kept {
		if k.Tag == tag && k.Rule == "refused" && strings.Contains(k.Reason, reason) {
			return
		}
	}
	t.Errorf("kept-tags does not name %s as refused with %q: %+v", tag, reason, kept)
}
