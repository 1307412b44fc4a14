package hostedtest

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
)

// TestGitHubPackagesRefusals: GitHub refuses to delete a public version
// with more than 5000 downloads, and a package's last tagged version (400
// and its message). Each refused version is kept and named with GitHub's
// words, a refused index keeps its children, the run goes on and deletes
// the rest, warns, counts it in refused-count, and exits 0.
func TestGitHubPackagesRefusals(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
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
	// The download rule is learned only from the refusal, after the
	// signature (deleted before its image) or the index (before its
	// children) is gone: those are pushed back through the registry.
	t.Run("public-version-with-5000-downloads-keeps-its-signature", func(t *testing.T) {
		f, host, env := github(t)
		f.AddPackage(ghpackages.Org, "acme", "app")
		popular := f.AddImage("acme", "app", "pr-1", []string{"pr-1"}, day)
		sig := f.AddSignature("acme", "app", popular, day)
		f.AddImage("acme", "app", "pr-2", []string{"pr-2"}, day)
		pr2 := f.Tags("acme", "app")["pr-2"]
		f.AddSignature("acme", "app", pr2, day)
		latest := f.AddImage("acme", "app", "main", []string{"latest"}, day)
		f.SetRefused("acme", "app", popular)
		res := sweepRefused(t, host, env, "pr-*", 1)
		want := map[string]string{"pr-1": popular, strings.Replace(popular, ":", "-", 1) + ".sig": sig, "latest": latest}
		if got := f.Tags("acme", "app"); !reflect.DeepEqual(got, want) {
			t.Fatalf("tags left %v, want the refused image, its signature and latest %v\n%s", got, want, res.Log)
		}
		if got := f.Digests("acme", "app"); len(got) != 3 {
			t.Errorf("versions left %v, want 3", got)
		}
		wantReason(t, res, "pr-1", "5000 downloads")
	})
	t.Run("public-child-with-5000-downloads-keeps-its-index", func(t *testing.T) {
		f, host, env := github(t)
		f.AddPackage(ghpackages.Org, "acme", "app")
		idx, children := f.AddIndex("acme", "app", "pr-1", []string{"pr-1"}, day, "linux/amd64", "linux/arm64")
		f.AddIndex("acme", "app", "pr-3", []string{"pr-3"}, day, "linux/amd64", "linux/arm64")
		latest := f.AddImage("acme", "app", "main", []string{"latest"}, day)
		f.SetRefused("acme", "app", children[1])
		res := sweepRefused(t, host, env, "pr-*", 1)
		if got, want := f.Digests("acme", "app"), sorted(append([]string{idx, latest}, children...)...); !reflect.DeepEqual(got, want) {
			t.Fatalf("versions left %v, want pr-1's index, both its children and latest %v\n%s", got, want, res.Log)
		}
		if got := f.Tags("acme", "app"); got["pr-1"] != idx {
			t.Errorf("tags left %v, want pr-1 on its index", got)
		}
	})
	// GitHub's last-tagged-version rule is known from the listing: the
	// plan keeps the newest tagged version whole (platform manifests and
	// signature), so nothing is refused and nothing is lost.
	t.Run("last-tagged-version", func(t *testing.T) {
		f, host, env := github(t)
		f.AddPackage(ghpackages.Org, "acme", "app")
		f.AddImage("acme", "app", "pr-1", []string{"pr-1"}, day)
		idx, children := f.AddIndex("acme", "app", "pr-2", []string{"pr-2"}, day.Add(time.Hour), "linux/amd64", "linux/arm64")
		sig := f.AddSignature("acme", "app", idx, day.Add(time.Hour))
		f.RefuseLastTagged(true)
		res := sweepRefused(t, host, env, "pr-*", 0)
		if got, want := f.Digests("acme", "app"), sorted(append([]string{idx, sig}, children...)...); !reflect.DeepEqual(got, want) {
			t.Fatalf("versions left %v, want the newest tagged version pr-2, its children and signature %v\n%s", got, want, res.Log)
		}
		var kept []struct{ Tag, Rule, Reason string }
		res.JSON(t, "kept-tags", &kept)
		if len(kept) != 1 || kept[0].Tag != "pr-2" || kept[0].Rule != "undeletable" || !strings.Contains(kept[0].Reason, "last tagged version") {
			t.Errorf("kept-tags = %+v, want pr-2 kept by GitHub's last-tagged-version rule", kept)
		}
		if got := res.Strings(t, "deleted-digests"); len(got) != 1 {
			t.Errorf("deleted-digests = %v, want pr-1 alone", got)
		}
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
