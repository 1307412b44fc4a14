// Package hostedtest runs the action against the fakes of the hosted APIs
// that cannot run here (GitHub Packages, Docker Hub), built to their
// documented behaviour, and checks each fake's final state. It also holds
// the randomized trial of GitHub Packages (trial_test.go, internal/testkit/trial
// RunGitHub): untagged indexes, indexes of indexes and changes during the
// run; REGSWEEP_TRIALS sets the number of trials (default 60),
// REGSWEEP_TRIAL_SEED replays a run, REGSWEEP_TRIAL_WORKERS sets the
// concurrency.
package hostedtest

import (
	"net/http/httptest"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/fakes/dockerhub"
	"github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
)

const token = "ghp_fake-token-for-tests-0123456789"

var day = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func github(t *testing.T) (*ghpackages.Fake, string, map[string]string) {
	t.Helper()
	f := ghpackages.New(token)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	return f, host, map[string]string{"GITHUB_API_URL": srv.URL}
}

// The same step, with only repository (and backend, since the fake is not
// on ghcr.io) changed, sweeps a GHCR package: PR images go, the multi-arch
// release and every one of its untagged children stay.
func TestGitHubPackagesSweep(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "team/app")
	rel, relChildren := f.AddIndex("acme", "team/app", "release", []string{"v1.0.0", "latest"}, day, "linux/amd64", "linux/arm64")
	pr, prChildren := f.AddIndex("acme", "team/app", "pr-1", []string{"pr-1"}, day, "linux/amd64", "linux/arm64")
	pr2 := f.AddImage("acme", "team/app", "pr-2", []string{"pr-2"}, day)
	sig := f.AddSignature("acme", "team/app", pr2, day)
	keptSig := f.AddSignature("acme", "team/app", rel, day)
	stray := f.AddImage("acme", "team/app", "stray", nil, day) // untagged, referenced by nothing

	res := e2e.RunWith(t, e2e.Options{Env: env}, map[string]string{
		"repository":   host + "/acme/team/app",
		"backend":      "github",
		"tags":         "pr-*",
		"untagged":     "true",
		"github-token": token,
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	left := f.Digests("acme", "team/app")
	sort.Strings(left)
	want := append([]string{rel, keptSig}, relChildren...)
	sort.Strings(want)
	if !reflect.DeepEqual(left, want) {
		t.Fatalf("versions left %v, want the release index, its children and its signature %v", left, want)
	}
	gone := append([]string{pr, pr2, sig, stray}, prChildren...)
	sort.Strings(gone)
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, gone) {
		t.Fatalf("deleted-digests = %v, want %v", got, gone)
	}
	if got := f.Tags("acme", "team/app"); got["latest"] != rel || got["v1.0.0"] != rel {
		t.Fatalf("release tags moved or lost: %v", got)
	}
	for where, text := range map[string]string{"log": withoutMasks(res.Log), "summary": res.Summary, "outputs": strings.Join(values(res.Outputs), "\n")} {
		if i := strings.Index(text, token); i >= 0 {
			t.Fatalf("the token leaked into the %s: %q", where, text[max(0, i-200):i])
		}
	}
}

// An index of indexes on GHCR: the kept v2 names an untagged index, which
// names two untagged images. An untagged sweep keeps all of them.
func TestGitHubPackagesNestedIndex(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "app")
	inner, children := f.AddIndex("acme", "app", "inner", nil, day, "linux/amd64", "linux/arm64")
	outer := f.AddIndexOf("acme", "app", []string{"v2"}, day, inner)
	stray := f.AddImage("acme", "app", "stray", nil, day)
	res := e2e.RunWith(t, e2e.Options{Env: env}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "tags": "pr-*", "untagged": "true", "github-token": token,
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	want := append([]string{outer, inner}, children...)
	sort.Strings(want)
	if got := f.Digests("acme", "app"); !reflect.DeepEqual(got, want) {
		t.Fatalf("versions left %v, want v2, its inner index and their images %v", got, want)
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, []string{stray}) {
		t.Fatalf("deleted-digests = %v, want only the stray %s", got, stray)
	}
}

// A user-owned package, a tag sharing its version with a kept tag (GitHub
// cannot untag: kept and reported), and pagination over 100 versions.
func TestGitHubPackagesUserOwnerSharedTag(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.User, "octocat", "app")
	shared := f.AddImage("octocat", "app", "main", []string{"latest", "pr-9"}, day)
	for i := range 150 {
		tag := "v0." + itoa(i) // kept: pagination over 100 versions
		if i%30 == 0 {
			tag = "pr-old-" + itoa(i) // 5 PR images, deleted at the paced rate
		}
		f.AddImage("octocat", "app", "old-"+itoa(i), []string{tag}, day.Add(-time.Duration(i)*time.Hour))
	}
	res := e2e.RunWith(t, e2e.Options{Env: env}, map[string]string{
		"repository": host + "/octocat/app", "backend": "github", "tags": "pr-*", "github-token": token,
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	tags := f.Tags("octocat", "app")
	if tags["latest"] != shared || tags["pr-9"] != shared {
		t.Fatalf("latest or pr-9 lost: %v", tags)
	}
	var kept []struct{ Tag, Rule, Reason string }
	res.JSON(t, "kept-tags", &kept)
	if len(kept) != 1 || kept[0].Tag != "pr-9" || !strings.Contains(kept[0].Reason, "latest") {
		t.Fatalf("kept-tags = %+v, want pr-9 kept because of latest", kept)
	}
	if res.Outputs["deleted-count"] != "5" {
		t.Fatalf("deleted-count = %s, want 5", res.Outputs["deleted-count"])
	}
	if n := len(f.Digests("octocat", "app")); n != 146 {
		t.Fatalf("%d versions left, want 146", n)
	}
}

// GitHub's primary rate limit (here 8 API requests per 3 s window): the
// answer that spends the window's last request holds every request until
// the reset, so none is refused and the sweep completes.
func TestGitHubPackagesPrimaryRateLimit(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "app")
	for i := range 12 {
		f.AddImage("acme", "app", "pr-"+itoa(i), []string{"pr-" + itoa(i)}, day)
	}
	f.AddImage("acme", "app", "release", []string{"v1"}, day)
	f.SetPrimaryLimit(8, 3*time.Second)
	res := e2e.RunWith(t, e2e.Options{Env: env}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "tags": "pr-*", "github-token": token,
	})
	if res.Code != 0 || res.Outputs["deleted-count"] != "12" {
		t.Fatalf("exit %d, deleted-count %s\n%s", res.Code, res.Outputs["deleted-count"], res.Log)
	}
	if n := f.PrimaryDenied(); n != 0 {
		t.Fatalf("%d requests refused by the primary rate limit; regsweep should have waited for the reset", n)
	}
	if got := f.Tags("acme", "app"); len(got) != 1 || got["v1"] == "" {
		t.Fatalf("tags left %v, want v1", got)
	}
	if !regexp.MustCompile(`\d+ms waiting on rate limits|[1-9][\d.]*s waiting on rate limits`).MatchString(res.Summary) {
		t.Fatalf("the summary does not show the wait:\n%s", res.Summary)
	}
}

// A private user package, which GitHub serves under /user/ to its owner's
// personal token only: found there and swept. The same token used for
// another user's private package must not fall back onto the token user's
// own package of the same name: nothing is deleted and the error says why.
func TestGitHubPackagesPrivateUserPackage(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	t.Run("owner's token", func(t *testing.T) {
		f, host, env := github(t)
		f.AddPackage(ghpackages.User, "octocat", "app")
		f.AddImage("octocat", "app", "pr", []string{"pr-1"}, day)
		rel := f.AddImage("octocat", "app", "rel", []string{"v1"}, day)
		f.SetPrivate("octocat", "app")
		f.SetTokenUser("octocat")
		res := e2e.RunWith(t, e2e.Options{Env: env}, map[string]string{
			"repository": host + "/octocat/app", "backend": "github", "tags": "pr-*", "github-token": token,
		})
		if res.Code != 0 || res.Outputs["deleted-count"] != "1" {
			t.Fatalf("exit %d, deleted-count %s\n%s", res.Code, res.Outputs["deleted-count"], res.Log)
		}
		if got := f.Digests("octocat", "app"); !reflect.DeepEqual(got, []string{rel}) {
			t.Fatalf("versions left %v, want v1 only", got)
		}
	})
	t.Run("another user's token", func(t *testing.T) {
		f, host, env := github(t)
		f.AddPackage(ghpackages.User, "octocat", "app")
		f.AddImage("octocat", "app", "pr", []string{"pr-1"}, day)
		f.SetPrivate("octocat", "app")
		f.AddPackage(ghpackages.User, "mallory", "app")
		f.AddImage("mallory", "app", "pr", []string{"pr-1"}, day)
		f.SetTokenUser("mallory")
		res := e2e.RunWith(t, e2e.Options{Env: env}, map[string]string{
			"repository": host + "/octocat/app", "backend": "github", "tags": "pr-*", "github-token": token,
		})
		if res.Code != 1 || !strings.Contains(res.Log, "personal access token of its owner") {
			t.Fatalf("exit %d, want 1 with the hint\n%s", res.Code, res.Log)
		}
		if len(f.Digests("octocat", "app")) != 1 || len(f.Digests("mallory", "app")) != 1 {
			t.Fatal("something was deleted")
		}
	})
}

// Permission denied: exit 1, one sentence naming the fix, nothing deleted.
func TestGitHubPackagesForbidden(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "app")
	f.AddImage("acme", "app", "pr", []string{"pr-1"}, day)
	f.AddImage("acme", "app", "main", []string{"latest"}, day) // not the last tagged version
	f.SetForbidden(true)
	res := e2e.RunWith(t, e2e.Options{Env: env}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "tags": "pr-*", "github-token": token,
	})
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Log)
	}
	if !strings.Contains(res.Log, "packages: write") {
		t.Fatalf("the error does not name the permission:\n%s", res.Log)
	}
	if len(f.Digests("acme", "app")) != 2 {
		t.Fatal("something was deleted")
	}
}

// Docker Hub: tags are deleted through the Hub API; a tag sharing its image
// with latest goes alone, latest stays; 429s are waited out.
func TestDockerHubSweep(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f := dockerhub.New("alice", "dckr_pat_secret")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.AddRepository("alice", "web", false)
	f.AddTag("alice", "web", "latest", digest("a"), day)
	f.AddTag("alice", "web", "pr-1", digest("a"), day)
	f.AddTag("alice", "web", "pr-2", digest("b"), day)
	f.AddTag("alice", "web", "v1", digest("c"), day)
	f.Set429Every(3, "0")
	res := e2e.RunWith(t, e2e.Options{DockerHubURL: srv.URL}, map[string]string{
		"repository": "docker.io/alice/web", "tags": "pr-*", "username": "alice", "password": "dckr_pat_secret",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	want := map[string]string{"latest": digest("a"), "v1": digest("c")}
	if got := f.Tags("alice", "web"); !reflect.DeepEqual(got, want) {
		t.Fatalf("tags left %v, want %v\n%s\n%s", got, want, res.Log, res.Summary)
	}
	if got := res.Tags(t, "deleted-tags"); !reflect.DeepEqual(got, []string{"pr-1", "pr-2"}) {
		t.Fatalf("deleted-tags = %v", got)
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, []string{digest("b")}) {
		t.Fatalf("deleted-digests = %v, want only pr-2's image (pr-1's is kept by latest)", got)
	}
	if strings.Contains(withoutMasks(res.Log)+res.Summary, "dckr_pat_secret") {
		t.Fatal("the password leaked")
	}
}

func digest(s string) string { return "sha256:" + strings.Repeat(s, 64) }

func itoa(i int) string {
	const d = "0123456789"
	if i < 10 {
		return d[i : i+1]
	}
	return itoa(i/10) + d[i%10:i%10+1]
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// withoutMasks drops ::add-mask:: lines: the mask itself is how the runner
// hides a secret, the one place it must appear.
func withoutMasks(log string) string {
	return regexp.MustCompile(`(?m)^::add-mask::.*$`).ReplaceAllString(log, "")
}
