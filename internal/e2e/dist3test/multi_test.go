// The multi and large tests run the action over several repositories at once: a
// `host/team/*` wildcard expanded through distribution v3's _catalog,
// repositories listed one per line, and the GitHub Packages and Docker Hub
// fakes' owner/namespace listings; it checks each registry's final state.

package dist3test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/fakes/dockerhub"
	"github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

var day = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func snap() *snaps.Config {
	return snaps.WithConfig(snaps.Dir("__snapshots__"), snaps.Filename("multi"))
}

// repoDigests is what seedRepo pushed into one repository.
type repoDigests struct {
	latest, pr1 string
}

// seedRepo pushes latest, pr-1 (its own image) and pr-2 (on latest's
// digest: deleting it by digest would take latest with it). Images depend
// on the name only, so digests are the same on every port.
func seedRepo(t *testing.T, host, name string) repoDigests {
	t.Helper()
	ctx := context.Background()
	repo := name
	p, err := seed.NewPusher(ctx, host+"/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	latest := seed.Image(repo+"/latest", day)
	dl, err := p.Image(ctx, "latest", latest)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Tag(ctx, "pr-2", latest); err != nil {
		t.Fatal(err)
	}
	d1, err := p.Image(ctx, "pr-1", seed.Image(repo+"/pr-1", day))
	if err != nil {
		t.Fatal(err)
	}
	return repoDigests{latest: dl.String(), pr1: d1.String()}
}

// startMultiRegistry runs distribution v3 with team/a, team/b and other/c;
// wrap, if set, wraps its handler.
func startMultiRegistry(t *testing.T, wrap func(http.Handler) http.Handler) (string, map[string]repoDigests) {
	t.Helper()
	r := dist3.Start(context.Background(), dist3.Options{Wrap: wrap})
	t.Cleanup(r.Close)
	seeded := map[string]repoDigests{}
	for _, name := range []string{"team/a", "team/b", "other/c"} {
		seeded[name] = seedRepo(t, r.Host, name)
	}
	return r.Host, seeded
}

// swept checks that repo lost pr-1 (and its image) and kept latest.
func swept(t *testing.T, repo string, d repoDigests) {
	t.Helper()
	want := map[string]string{"latest": d.latest}
	if got := e2e.State(t, repo); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: tags %v, want %v", repo, got, want)
	}
	if e2e.Exists(t, repo, d.pr1) {
		t.Fatalf("%s: pr-1's image %s is still there", repo, d.pr1)
	}
}

// untouched checks that repo still has every tag it was seeded with.
func untouched(t *testing.T, repo string, d repoDigests) {
	t.Helper()
	want := map[string]string{"latest": d.latest, "pr-2": d.latest, "pr-1": d.pr1}
	if got := e2e.State(t, repo); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s was not to be swept: tags %v, want %v", repo, got, want)
	}
}

// `host/team/*` sweeps team/a and team/b, never other/c; outputs carry
// full references and the summary has a section per repository.
func TestWildcardCatalog(t *testing.T) {
	host, seeded := startMultiRegistry(t, nil)
	res := e2e.RunWith(t, e2e.Options{}, map[string]string{
		"repository": host + "/team/*",
		"tags":       "pr-*",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	swept(t, host+"/team/a", seeded["team/a"])
	swept(t, host+"/team/b", seeded["team/b"])
	untouched(t, host+"/other/c", seeded["other/c"])

	wantImages := sorted(host+"/team/a@"+seeded["team/a"].pr1, host+"/team/b@"+seeded["team/b"].pr1)
	if got := res.Strings(t, "deleted-images"); !reflect.DeepEqual(got, wantImages) {
		t.Fatalf("deleted-images = %v, want %v", got, wantImages)
	}
	wantTags := sorted(host+"/team/a:pr-1", host+"/team/a:pr-2", host+"/team/b:pr-1", host+"/team/b:pr-2")
	if got := res.Strings(t, "deleted-tags"); !reflect.DeepEqual(got, wantTags) {
		t.Fatalf("deleted-tags = %v, want %v", got, wantTags)
	}
	for _, repo := range []string{"team/a", "team/b"} {
		if !strings.Contains(res.Summary, "### `"+host+"/"+repo+"`") {
			t.Fatalf("the summary has no section for %s:\n%s", repo, res.Summary)
		}
	}
	if strings.Contains(res.Summary, "other/c") || strings.Contains(res.Log, "other/c") {
		t.Fatalf("other/c showed up in the run:\n%s", res.Log)
	}
	expansion := host + "/team/* expands to 2 repositories: " + host + "/team/a, " + host + "/team/b"
	if !strings.Contains(res.Log, expansion) {
		t.Fatalf("the log does not show the expansion %q:\n%s", expansion, res.Log)
	}
	snap().MatchSnapshot(t, e2e.Normalize(res.Summary))
}

// Repositories listed one per line (one twice, one through a wildcard
// too) are each swept once.
func TestRepositoriesOnePerLine(t *testing.T) {
	host, seeded := startMultiRegistry(t, nil)
	res := e2e.RunWith(t, e2e.Options{}, map[string]string{
		"repository": host + "/team/a\n" + host + "/other/c\n" + host + "/team/a\n",
		"tags":       "pr-*",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	swept(t, host+"/team/a", seeded["team/a"])
	swept(t, host+"/other/c", seeded["other/c"])
	untouched(t, host+"/team/b", seeded["team/b"])
	wantImages := sorted(host+"/team/a@"+seeded["team/a"].pr1, host+"/other/c@"+seeded["other/c"].pr1)
	if got := res.Strings(t, "deleted-images"); !reflect.DeepEqual(got, wantImages) {
		t.Fatalf("deleted-images = %v, want %v", got, wantImages)
	}
	if n := strings.Count(res.Summary, "### `"+host+"/team/a`"); n != 1 {
		t.Fatalf("team/a has %d summary sections, want 1:\n%s", n, res.Summary)
	}
}

// `host/*` is the whole registry; a wildcard overlapping a listed
// repository does not sweep it twice.
func TestWholeRegistryWildcard(t *testing.T) {
	host, seeded := startMultiRegistry(t, nil)
	res := e2e.RunWith(t, e2e.Options{}, map[string]string{
		"repository": host + "/other/c\n" + host + "/*",
		"tags":       "pr-*",
		"dry-run":    "true",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	for name, d := range seeded {
		untouched(t, host+"/"+name, d) // dry run
	}
	want := sorted(host+"/team/a@"+seeded["team/a"].pr1, host+"/team/b@"+seeded["team/b"].pr1, host+"/other/c@"+seeded["other/c"].pr1)
	if got := res.Strings(t, "deleted-images"); !reflect.DeepEqual(got, want) {
		t.Fatalf("deleted-images = %v, want %v", got, want)
	}
	if n := strings.Count(res.Summary, "### `"+host+"/other/c`"); n != 1 {
		t.Fatalf("other/c has %d summary sections, want 1:\n%s", n, res.Summary)
	}
}

// A wildcard matching nothing is a warning and a run with nothing to do.
func TestWildcardMatchesNothing(t *testing.T) {
	host, seeded := startMultiRegistry(t, nil)
	res := e2e.RunWith(t, e2e.Options{}, map[string]string{
		"repository": host + "/nothing/*",
		"tags":       "pr-*",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if !strings.Contains(res.Log, "::warning::"+host+"/nothing/* matches no repository") {
		t.Fatalf("no warning for the empty wildcard:\n%s", res.Log)
	}
	for name, d := range seeded {
		untouched(t, host+"/"+name, d)
	}
}

// A registry that does not serve _catalog: one clear error naming the
// cause (401: the credentials), exit 1, nothing below the wildcard deleted;
// the repository listed by name next to it is still swept, and the outputs
// and the summary are still written.
func TestWildcardWithoutCatalog(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			var refused atomic.Int64
			noCatalog := func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/v2/_catalog" {
						refused.Add(1)
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(status)
						_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"catalog is off"}]}`))
						return
					}
					h.ServeHTTP(w, r)
				})
			}
			host, seeded := startMultiRegistry(t, noCatalog)
			res := e2e.RunWith(t, e2e.Options{}, map[string]string{
				"repository": host + "/other/c\n" + host + "/team/*",
				"tags":       "pr-*",
			})
			if res.Code != 1 {
				t.Fatalf("exit %d, want 1\n%s", res.Code, res.Log)
			}
			if refused.Load() == 0 {
				t.Fatal("the catalog was never asked")
			}
			wants := []string{"::error::" + host + "/team/*: list the repositories: wildcards need the registry's catalog API", "list the repositories one per line"}
			if status == http.StatusUnauthorized {
				wants = []string{"::error::" + host + "/team/*: list the repositories: ", "set the username and password inputs"}
			}
			for _, want := range wants {
				if !strings.Contains(res.Log, want) {
					t.Fatalf("the log lacks %q:\n%s", want, res.Log)
				}
			}
			for name, d := range seeded {
				if name != "other/c" {
					untouched(t, host+"/"+name, d)
				}
			}
			if e2e.Exists(t, host+"/other/c", seeded["other/c"].pr1) {
				t.Errorf("the repository named next to the failed wildcard was not swept")
			}
			if res.Outputs["deleted-count"] == "" || res.Outputs["failed-count"] != "1" || !strings.Contains(res.Summary, host+"/team/&#42;") {
				t.Errorf("outputs %v or summary missing:\n%s", res.Outputs, res.Summary)
			}
		})
	}
}

const multiGHToken = "ghp_fake-token-for-multi-0123456789"

// `acme/*` on the GitHub backend sweeps each of acme's container packages,
// one with a slash in its name, and no other owner's.
func TestGitHubOwnerWildcard(t *testing.T) {
	f := ghpackages.New(multiGHToken)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	type seeded struct{ latest, pr string }
	pkgs := map[string]seeded{}
	for _, owner := range []string{"acme", "zeta"} {
		for _, name := range []string{"web", "api", "team/app"} {
			if owner == "zeta" && name != "web" {
				continue
			}
			f.AddPackage(ghpackages.Org, owner, name)
			pkgs[owner+"/"+name] = seeded{
				latest: f.AddImage(owner, name, owner+name+"latest", []string{"latest"}, day),
				pr:     f.AddImage(owner, name, owner+name+"pr", []string{"pr-1"}, day),
			}
		}
	}
	res := e2e.RunWith(t, e2e.Options{Env: map[string]string{"GITHUB_API_URL": srv.URL}}, map[string]string{
		"repository":   host + "/acme/*",
		"backend":      "github",
		"tags":         "pr-*",
		"github-token": multiGHToken,
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	var wantImages []string
	for _, name := range []string{"web", "api", "team/app"} {
		d := pkgs["acme/"+name]
		if got := f.Digests("acme", name); !reflect.DeepEqual(got, []string{d.latest}) {
			t.Fatalf("acme/%s: versions %v, want only latest's %s", name, got, d.latest)
		}
		wantImages = append(wantImages, host+"/acme/"+name+"@"+d.pr)
		if !strings.Contains(res.Summary, "### `"+host+"/acme/"+name+"`") {
			t.Fatalf("no summary section for acme/%s:\n%s", name, res.Summary)
		}
	}
	if got := f.Digests("zeta", "web"); len(got) != 2 {
		t.Fatalf("zeta/web was swept: %v", got)
	}
	sort.Strings(wantImages)
	if got := res.Strings(t, "deleted-images"); !reflect.DeepEqual(got, wantImages) {
		t.Fatalf("deleted-images = %v, want %v", got, wantImages)
	}
	listings := 0
	for _, r := range f.Requests() {
		if r.Path == "/orgs/acme/packages" || r.Path == "/users/acme/packages" {
			listings++
		}
	}
	if listings != 1 { // an org: one page, no user lookup
		t.Fatalf("%d package listings, want 1", listings)
	}
	// ::add-mask:: lines are how the token is hidden; anywhere else it leaked.
	log := regexp.MustCompile(`(?m)^::add-mask::.*$`).ReplaceAllString(res.Log, "")
	if strings.Contains(log, multiGHToken) || strings.Contains(res.Summary, multiGHToken) {
		t.Fatal("the token leaked")
	}
}

// `docker.io/alice/*` sweeps alice's repositories (private ones too, with
// credentials), never another namespace's.
func TestDockerHubNamespaceWildcard(t *testing.T) {
	f := dockerhub.New("alice", "dckr_pat_secret")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	dg := func(s string) string { return "sha256:" + strings.Repeat(s, 64) }
	for _, r := range []struct {
		ns, name string
		private  bool
	}{{"alice", "web", false}, {"alice", "api", true}, {"bob", "web", false}} {
		f.AddRepository(r.ns, r.name, r.private)
		f.AddTag(r.ns, r.name, "latest", dg("a"), day)
		f.AddTag(r.ns, r.name, "pr-1", dg("b"), day)
		f.AddTag(r.ns, r.name, "pr-2", dg("a"), day) // shares latest's digest
	}
	res := e2e.RunWith(t, e2e.Options{DockerHubURL: srv.URL}, map[string]string{
		"repository": "docker.io/alice/*",
		"tags":       "pr-*",
		"username":   "alice",
		"password":   "dckr_pat_secret",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	for _, name := range []string{"web", "api"} {
		if got, want := f.Tags("alice", name), map[string]string{"latest": dg("a")}; !reflect.DeepEqual(got, want) {
			t.Fatalf("alice/%s: tags %v, want %v", name, got, want)
		}
		if !strings.Contains(res.Summary, "### `docker.io/alice/"+name+"`") {
			t.Fatalf("no summary section for alice/%s:\n%s", name, res.Summary)
		}
	}
	if got := f.Tags("bob", "web"); len(got) != 3 {
		t.Fatalf("bob/web was swept: %v", got)
	}
	want := sorted("docker.io/alice/api:pr-1", "docker.io/alice/api:pr-2", "docker.io/alice/web:pr-1", "docker.io/alice/web:pr-2")
	if got := res.Strings(t, "deleted-tags"); !reflect.DeepEqual(got, want) {
		t.Fatalf("deleted-tags = %v, want %v", got, want)
	}
	if !strings.Contains(res.Log, "docker.io/alice/* expands to 2 repositories: docker.io/alice/api, docker.io/alice/web") {
		t.Fatalf("the log does not show the expansion:\n%s", res.Log)
	}
}

// Wildcards a registry family cannot list say how to write them, before
// any request: bad input, exit 2.
func TestWildcardNeedsOwner(t *testing.T) {
	tests := []struct{ repo, backend, want string }{
		{"ghcr.io/*", "auto", `::error::input "repository": ghcr.io/*: a GitHub wildcard needs an owner: write ghcr.io/OWNER/*`},
		{"docker.io/*", "auto", `::error::input "repository": docker.io/*: a Docker Hub wildcard names one namespace: write docker.io/NAMESPACE/*`},
	}
	for _, tt := range tests {
		t.Run(tt.repo, func(t *testing.T) {
			res := e2e.RunWith(t, e2e.Options{}, map[string]string{"repository": tt.repo, "backend": tt.backend, "tags": "pr-*", "github-token": multiGHToken})
			if res.Code != 2 || !strings.Contains(res.Log, tt.want) {
				t.Fatalf("exit %d, want 2 and %q in\n%s", res.Code, tt.want, res.Log)
			}
		})
	}
}

// max-deletions holds for the whole run: three repositories of one
// deletion each under max-deletions 2 delete nothing anywhere, with one
// error naming the run's total; each alone is under the cap.
func TestMaxDeletionsPerRun(t *testing.T) {
	host, seeded := startMultiRegistry(t, nil)
	res := e2e.RunWith(t, e2e.Options{}, map[string]string{
		"repository":    host + "/team/*\n" + host + "/other/c",
		"tags":          "pr-*",
		"max-deletions": "2",
	})
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Log)
	}
	for name, d := range seeded {
		untouched(t, host+"/"+name, d)
	}
	if n := strings.Count(res.Log, "::error::"); n != 1 || !strings.Contains(res.Log, "the plan deletes 3 manifests over 3 repositories, more than max-deletions (2)") {
		t.Errorf("want one error naming the run's total, got %d:\n%s", n, res.Log)
	}
	if res.Outputs["deleted-count"] != "0" || res.Outputs["failed-count"] != "1" || res.Outputs["not-attempted-count"] == "0" {
		t.Errorf("outputs: %v", res.Outputs)
	}
}

// expand-only over `ghcr.io/OWNER/*` balances the shards by the version
// counts the package listing carries (no request more): the package of 6
// versions gets a shard of its own, where counting repositories would pair
// it with another. Nothing is deleted.
func TestGitHubExpandBalancesByVersions(t *testing.T) {
	f := ghpackages.New(multiGHToken)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	versions := map[string]int{"big": 6, "a": 2, "b": 2, "c": 2}
	for name, n := range versions {
		f.AddPackage(ghpackages.Org, "acme", name)
		for i := range n {
			f.AddImage("acme", name, fmt.Sprint(name, i), []string{fmt.Sprint("pr-", i)}, day)
		}
	}
	res := e2e.RunWith(t, e2e.Options{Env: map[string]string{"GITHUB_API_URL": srv.URL}}, map[string]string{
		"repository":   host + "/acme/*",
		"backend":      "github",
		"github-token": multiGHToken,
		"expand-only":  "true",
		"shards":       "2",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	var shards [][]string
	res.JSON(t, "shards", &shards)
	want := [][]string{{host + "/acme/big"}, {host + "/acme/a", host + "/acme/b", host + "/acme/c"}}
	if !reflect.DeepEqual(shards, want) {
		t.Fatalf("shards = %v, want %v", shards, want)
	}
	if got := res.Strings(t, "repositories"); len(got) != 4 {
		t.Fatalf("repositories = %v", got)
	}
	for name, n := range versions {
		if got := f.Digests("acme", name); len(got) != n {
			t.Fatalf("expand-only deleted from acme/%s: %d versions left, want %d", name, len(got), n)
		}
	}
}
