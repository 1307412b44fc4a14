package ghpackages_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/backend"
	gh "github.com/regsweep/regsweep/internal/backend/ghpackages"
	"github.com/regsweep/regsweep/internal/graph"
	fake "github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
)

const token = "ghp_s3cretTOKENvalue"

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	fake *fake.Fake
	srv  *httptest.Server
	host string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	f := fake.New(token)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &env{fake: f, srv: srv, host: u.Host}
}

func (e *env) opts(owner, pkg string) gh.Options {
	return gh.Options{
		Registry:       e.host,
		Owner:          owner,
		Package:        pkg,
		Token:          token,
		APIURL:         e.srv.URL,
		RegistryScheme: "http",
		DeleteRate:     -1, // no pacing: tests must be fast
	}
}

// errs collects every error of a test so that none may carry the token.
type errs []error

func (es *errs) add(err error) error {
	if err != nil {
		*es = append(*es, err)
	}
	return err
}

func (es errs) check(t *testing.T) {
	t.Helper()
	for _, err := range es {
		if strings.Contains(err.Error(), token) {
			t.Errorf("error leaks the token: %v", err)
		}
	}
}

func newBackend(t *testing.T, e *env, o gh.Options) *gh.Backend {
	t.Helper()
	b, err := gh.New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

func snapGraph(t *testing.T, e *env, g *graph.Graph) {
	t.Helper()
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	snaps.MatchJSON(t, strings.ReplaceAll(string(b), e.host, "HOST"))
}

func TestDiscoverAndDeleteOwners(t *testing.T) {
	tests := []struct {
		name       string
		kind       fake.OwnerKind
		owner, pkg string
		apiPrefix  string
		ownerGets  int // requests to find the owner kind
	}{
		{"org", fake.Org, "acme", "app", "", 1},
		{"user", fake.User, "octocat", "app", "", 2},
		{"org package with slash", fake.Org, "acme", "team/app", "", 1},
		{"GHES API URL", fake.Org, "acme", "app", "/api/v3", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.AddPackage(tt.kind, tt.owner, tt.pkg)
			keep := e.fake.AddImage(tt.owner, tt.pkg, "keep", []string{"latest", "pr-1"}, t0)
			del := e.fake.AddImage(tt.owner, tt.pkg, "del", []string{"pr-2"}, t0.Add(time.Hour))
			untagged := e.fake.AddImage(tt.owner, tt.pkg, "old", nil, t0.Add(-time.Hour))

			o := e.opts(tt.owner, tt.pkg)
			o.APIURL = e.srv.URL + tt.apiPrefix
			b := newBackend(t, e, o)
			if got := len(e.fake.Requests()); got != tt.ownerGets {
				t.Errorf("owner detection took %d requests, want %d", got, tt.ownerGets)
			}
			g, err := b.Discover(context.Background(), backend.DiscoverOptions{Untagged: true})
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if g.Tags["latest"] != keep || g.Tags["pr-1"] != keep || g.Tags["pr-2"] != del {
				t.Errorf("tags = %v", g.Tags)
			}
			for _, d := range []string{keep, del, untagged} {
				m := g.Manifests[d]
				if m == nil || !m.Listed || m.ID == "" || m.Pushed.IsZero() || !m.Created.IsZero() {
					t.Errorf("manifest %s = %+v, want listed with id and push time (the creation time is read only for age-from: created)", d, m)
				}
			}
			if !g.Capabilities.DeleteManifest || !g.Capabilities.ListUntagged || g.Capabilities.Untag != graph.No || !g.Capabilities.PushTimes || g.Capabilities.PullTimes {
				t.Errorf("capabilities = %+v", g.Capabilities)
			}
			for _, d := range []string{del, untagged} {
				if err := b.DeleteManifest(context.Background(), g.Manifests[d]); err != nil {
					t.Fatalf("DeleteManifest(%s): %v", d, err)
				}
			}
			if got, want := e.fake.Digests(tt.owner, tt.pkg), []string{keep}; !slices.Equal(got, want) {
				t.Errorf("versions left = %v, want %v", got, want)
			}
			if got := e.fake.Tags(tt.owner, tt.pkg); len(got) != 2 || got["latest"] != keep {
				t.Errorf("tags left = %v", got)
			}
			// Deleting again: already gone, reported as ErrNotFound.
			err = b.DeleteManifest(context.Background(), g.Manifests[del])
			if !errors.Is(err, backend.ErrNotFound) {
				t.Errorf("second delete: %v, want ErrNotFound", err)
			}
			tags, err := b.ListTags(context.Background())
			if err != nil || len(tags) != 2 || tags["pr-1"] != keep {
				t.Errorf("ListTags = %v, %v", tags, err)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	for _, n := range []int{1, 100, 101, 250} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e := newEnv(t)
			e.fake.AddPackage(fake.Org, "acme", "app")
			for i := range n {
				e.fake.AddImage("acme", "app", fmt.Sprint(i), []string{fmt.Sprintf("v%d", i)}, t0.Add(time.Duration(i)*time.Minute))
			}
			b := newBackend(t, e, e.opts("acme", "app"))
			g, err := b.Discover(context.Background(), backend.DiscoverOptions{Match: func(string) bool { return false }})
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Manifests) != n || len(g.Tags) != n {
				t.Errorf("got %d manifests, %d tags, want %d", len(g.Manifests), len(g.Tags), n)
			}
			lists := e.fake.Count(http.MethodGet, "/versions")
			if want := (n + 99) / 100; lists != want {
				t.Errorf("list requests = %d, want %d", lists, want)
			}
			if reads := e.fake.Count(http.MethodGet, "/manifests/"); reads != 0 {
				t.Errorf("read %d manifests though nothing matched", reads)
			}
		})
	}
}

func TestMultiArchAndReferrers(t *testing.T) {
	e := newEnv(t)
	e.fake.AddPackage(fake.Org, "acme", "app")
	idx, children := e.fake.AddIndex("acme", "app", "multi", []string{"latest", "v1"}, t0, "linux/amd64", "linux/arm64")
	oldIdx, oldChildren := e.fake.AddIndex("acme", "app", "old", []string{"pr-7"}, t0.Add(-time.Hour), "linux/amd64", "linux/arm64")
	sig := e.fake.AddSignature("acme", "app", idx, t0)
	b := newBackend(t, e, e.opts("acme", "app"))
	g, err := b.Discover(context.Background(), backend.DiscoverOptions{Untagged: true, Match: func(tag string) bool { return tag == "pr-7" }})
	if err != nil {
		t.Fatal(err)
	}
	if m := g.Manifests[idx]; m.Kind != graph.KindIndex || !slices.Equal(m.Children, children) {
		t.Errorf("index = %+v, want children %v", m, children)
	}
	if m := g.Manifests[oldIdx]; !slices.Equal(m.Children, oldChildren) {
		t.Errorf("old index children = %v, want %v", m.Children, oldChildren)
	}
	for i, c := range children {
		m := g.Manifests[c]
		if !m.Listed || len(m.Tags) != 0 || m.Kind != graph.KindImage || m.Platform != []string{"linux/amd64", "linux/arm64"}[i] {
			t.Errorf("child %s = %+v", c, m)
		}
	}
	if m := g.Manifests[sig]; m.Kind != graph.KindReferrer || m.Subject != idx {
		t.Errorf("signature = %+v, want referrer of %s", m, idx)
	}
	// One manifest GET per tagged non-signature version (answered 200; the
	// first attempts may meet the 401 challenge), one token exchange.
	ok := 0
	for _, r := range e.fake.Requests() {
		if r.Method == http.MethodGet && strings.Contains(r.Path, "/manifests/") && r.Status == http.StatusOK {
			ok++
		}
	}
	if ok != 2 {
		t.Errorf("manifest reads = %d, want 2 (one per tagged index, none for signatures)", ok)
	}
	if got := e.fake.Count(http.MethodGet, "/token"); got != 1 {
		t.Errorf("token exchanges = %d, want 1", got)
	}
	snapGraph(t, e, g)

	// Delete the old index and its children (what a plan would do); the kept
	// index stays complete.
	for _, d := range append([]string{oldIdx}, oldChildren...) {
		if err := b.DeleteManifest(context.Background(), g.Manifests[d]); err != nil {
			t.Fatal(err)
		}
	}
	want := append([]string{idx, sig}, children...)
	slices.Sort(want)
	if got := e.fake.Digests("acme", "app"); !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
}

func TestDeleteErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *fake.Fake, digest string)
		want    error
		mention string
	}{
		{"permission", func(f *fake.Fake, _ string) { f.SetForbidden(true) }, backend.ErrForbidden, "permissions: packages: write"},
		{"public with downloads", func(f *fake.Fake, d string) { f.SetRefused("acme", "app", d) }, backend.ErrRefused, "5000 downloads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var es errs
			defer es.check(t)
			e := newEnv(t)
			e.fake.AddPackage(fake.Org, "acme", "app")
			d := e.fake.AddImage("acme", "app", "x", []string{"pr-1"}, t0)
			b := newBackend(t, e, e.opts("acme", "app"))
			g, err := b.Discover(context.Background(), backend.DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tt.setup(e.fake, d)
			err = es.add(b.DeleteManifest(context.Background(), g.Manifests[d]))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("err = %v, want %v mentioning %q", err, tt.want, tt.mention)
			}
			if errors.Is(tt.want, backend.ErrForbidden) && !backend.Fatal(err) {
				t.Errorf("permission error must be fatal")
			}
			var herr *backend.HTTPError
			if !errors.As(err, &herr) {
				t.Errorf("err %v does not carry the HTTP answer", err)
			}
			if got := e.fake.Digests("acme", "app"); len(got) != 1 {
				t.Errorf("versions = %v, want the one kept", got)
			}
		})
	}
}

func TestBadTokenAndMissingPackage(t *testing.T) {
	var es errs
	defer es.check(t)
	e := newEnv(t)
	e.fake.AddPackage(fake.Org, "acme", "app")
	o := e.opts("acme", "app")
	o.Token = "wrong-" + token
	_, err := gh.New(context.Background(), o)
	if es.add(err); !errors.Is(err, backend.ErrUnauthorized) || strings.Contains(err.Error(), o.Token) {
		t.Errorf("wrong token: %v, want ErrUnauthorized", err)
	}
	o = e.opts("acme", "nope")
	_, err = gh.New(context.Background(), o)
	if es.add(err); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing package: %v", err)
	}
	// Plain HTTP to a non-loopback API is refused before any request.
	o = e.opts("acme", "app")
	o.APIURL = "http://api.example.com"
	if _, err = gh.New(context.Background(), o); es.add(err) == nil {
		t.Error("plain HTTP to a remote API accepted")
	}
}

func TestSecondaryRateLimitRetried(t *testing.T) {
	e := newEnv(t)
	e.fake.AddPackage(fake.Org, "acme", "app")
	var ds []string
	for i := range 6 {
		ds = append(ds, e.fake.AddImage("acme", "app", fmt.Sprint(i), []string{fmt.Sprintf("pr-%d", i)}, t0))
	}
	b := newBackend(t, e, e.opts("acme", "app"))
	g, err := b.Discover(context.Background(), backend.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.fake.SetSecondaryLimitEvery(3, "0")
	for _, d := range ds {
		if err := b.DeleteManifest(context.Background(), g.Manifests[d]); err != nil {
			t.Fatalf("delete %s: %v (the transport must retry 403 + retry-after)", d, err)
		}
	}
	if got := e.fake.Versions("acme", "app"); len(got) != 0 {
		t.Errorf("left %d versions", len(got))
	}
	if got := e.fake.Count(http.MethodDelete, "/versions/"); got <= len(ds) {
		t.Errorf("DELETE requests = %d: the fake did not rate limit", got)
	}
}

func TestUntagWithPlaceholder(t *testing.T) {
	e := newEnv(t)
	e.fake.AddPackage(fake.Org, "acme", "app")
	keep := e.fake.AddImage("acme", "app", "keep", []string{"latest", "pr-1"}, t0)
	o := e.opts("acme", "app")

	b := newBackend(t, e, o)
	g, err := b.Discover(context.Background(), backend.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Untag(context.Background(), "pr-1", g.Manifests[keep]); !errors.Is(err, backend.ErrUnsupported) {
		t.Errorf("untag without workaround: %v, want ErrUnsupported", err)
	}

	o.UntagWithPlaceholder = true
	b = newBackend(t, e, o)
	if tri, _ := b.ProbeUntag(context.Background()); tri != graph.Yes {
		t.Errorf("ProbeUntag = %q", tri)
	}
	if err := b.Untag(context.Background(), "pr-1", g.Manifests[keep]); err != nil {
		t.Fatalf("Untag: %v", err)
	}
	if got := e.fake.Tags("acme", "app"); len(got) != 1 || got["latest"] != keep {
		t.Errorf("tags = %v, want only latest", got)
	}
	if got := e.fake.Digests("acme", "app"); !slices.Equal(got, []string{keep}) {
		t.Errorf("versions = %v, want only %s (placeholder deleted)", got, keep)
	}
}

func TestParseRepository(t *testing.T) {
	tests := []struct {
		in, host, owner, pkg string
		bad                  bool
	}{
		{in: "ghcr.io/acme/app", host: "ghcr.io", owner: "acme", pkg: "app"},
		{in: "ghcr.io/acme/team/app", host: "ghcr.io", owner: "acme", pkg: "team/app"},
		{in: "ghcr.io/acme", bad: true},
		{in: "ghcr.io//app", bad: true},
	}
	for _, tt := range tests {
		h, o, p, err := gh.ParseRepository(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && (h != tt.host || o != tt.owner || p != tt.pkg)) {
			t.Errorf("ParseRepository(%q) = %q %q %q %v", tt.in, h, o, p, err)
		}
	}
}

// A pagination link to another host must not receive the token.
func TestForeignLinkRefused(t *testing.T) {
	var es errs
	defer es.check(t)
	e := newEnv(t)
	e.fake.AddPackage(fake.Org, "acme", "app")
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/versions") {
			w.Header().Set("Link", `<http://evil.example.com/steal?page=2>; rel="next"`)
			_, _ = w.Write([]byte("[]"))
			return
		}
		e.fake.ServeHTTP(w, r)
	}))
	defer hostile.Close()
	o := e.opts("acme", "app")
	o.APIURL = hostile.URL
	b := newBackend(t, e, o)
	_, err := b.Discover(context.Background(), backend.DiscoverOptions{})
	if es.add(err); err == nil || !strings.Contains(err.Error(), "another host") {
		t.Errorf("err = %v, want refusal", err)
	}
}

func TestMain(m *testing.M) {
	v := m.Run()
	snaps.Clean(m)
	os.Exit(v)
}

// Concurrent deletions (as apply runs them) under a secondary limit: every
// version goes exactly once, the kept index stays complete.
func TestConcurrentDeletes(t *testing.T) {
	e := newEnv(t)
	e.fake.AddPackage(fake.Org, "acme", "app")
	idx, children := e.fake.AddIndex("acme", "app", "keep", []string{"latest"}, t0, "linux/amd64", "linux/arm64")
	var del []string
	for i := range 40 {
		del = append(del, e.fake.AddImage("acme", "app", fmt.Sprint(i), []string{fmt.Sprintf("pr-%d", i)}, t0))
	}
	b := newBackend(t, e, e.opts("acme", "app"))
	g, err := b.Discover(context.Background(), backend.DiscoverOptions{Untagged: true})
	if err != nil {
		t.Fatal(err)
	}
	e.fake.SetDelay(time.Millisecond)
	e.fake.SetSecondaryLimitEvery(7, "0")
	errc := make(chan error, len(del))
	sem := make(chan struct{}, 8)
	for _, d := range del {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errc <- b.DeleteManifest(context.Background(), g.Manifests[d])
		}()
	}
	for range del {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	want := append([]string{idx}, children...)
	slices.Sort(want)
	if got := e.fake.Digests("acme", "app"); !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
}

// Reading many manifests says how far it is.
func TestReadProgress(t *testing.T) {
	e := newEnv(t)
	e.fake.AddPackage(fake.Org, "acme", "app")
	for i := range 20 {
		e.fake.AddImage("acme", "app", fmt.Sprint("img-", i), []string{fmt.Sprint("pr-", i)}, time.Now())
	}
	e.fake.SetDelay(5 * time.Millisecond)
	var mu sync.Mutex
	var lines []string
	o := e.opts("acme", "app")
	o.Concurrency = 1
	o.ProgressEvery = 10 * time.Millisecond
	o.Logf = func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(f, a...))
	}
	if _, err := newBackend(t, e, o).Discover(context.Background(), backend.DiscoverOptions{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, l := range lines {
		if strings.Contains(l, "/20 manifests read, ") {
			return
		}
	}
	t.Fatalf("no progress line in %q", lines)
}

// Ages: every version carries its push time (updated_at, else created_at);
// the images' own creation times are read from their configs only when
// age-from: created asks, one blob GET per image, and a config the registry
// does not serve leaves the time unknown.
func TestPushAndCreationTimes(t *testing.T) {
	e := newEnv(t)
	e.fake.AddPackage(fake.Org, "acme", "app")
	built := time.Date(2019, 3, 1, 0, 0, 0, 0, time.UTC)
	migrated := e.fake.AddImageBuilt("acme", "app", "migrated", []string{"v1"}, t0.Add(-time.Hour), built)
	e.fake.AddVersion("acme", "app", migrated, []string{"v1-again"}, t0, nil, "")
	noConfig := e.fake.AddImage("acme", "app", "no-config", []string{"v2"}, t0) // its config is not served
	for _, imageCreated := range []bool{false, true} {
		b := newBackend(t, e, e.opts("acme", "app"))
		before := e.fake.Count(http.MethodGet, "/blobs/")
		g, err := b.Discover(context.Background(), backend.DiscoverOptions{Created: true, ImageCreated: imageCreated})
		if err != nil {
			t.Fatal(err)
		}
		m := g.Manifests[migrated]
		if !m.Pushed.Equal(t0) {
			t.Errorf("migrated pushed %v, want updated_at %v (a push added v1-again)", m.Pushed, t0)
		}
		reads := e.fake.Count(http.MethodGet, "/blobs/") - before
		if imageCreated {
			if !m.Created.Equal(built) || !g.Manifests[noConfig].Created.IsZero() || reads != 2 {
				t.Errorf("age-from created: migrated created %v (want %v), no-config created %v (want unknown), %d blob reads (want 2)", m.Created, built, g.Manifests[noConfig].Created, reads)
			}
		} else if !m.Created.IsZero() || reads != 0 {
			t.Errorf("default: created %v, %d blob reads; want no config read", m.Created, reads)
		}
	}
}
