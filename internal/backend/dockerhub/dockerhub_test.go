package dockerhub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/backend"
	hub "github.com/regsweep/regsweep/internal/backend/dockerhub"
	"github.com/regsweep/regsweep/internal/graph"
	fake "github.com/regsweep/regsweep/internal/testkit/fakes/dockerhub"
)

const (
	user = "alice"
	pat  = "dckr_pat_S3CRETvalue"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func dg(s string) string { return "sha256:" + strings.Repeat(s, 64)[:64] }

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
		if strings.Contains(err.Error(), pat) || strings.Contains(err.Error(), "hubjwt-") {
			t.Errorf("error leaks a secret: %v", err)
		}
	}
}

func setup(t *testing.T, h func(*fake.Fake) http.Handler) (*fake.Fake, string) {
	t.Helper()
	f := fake.New(user, pat)
	var handler http.Handler = f
	if h != nil {
		handler = h(f)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func opts(base, ns, repo string) hub.Options {
	return hub.Options{Namespace: ns, Repository: repo, Username: user, Password: pat, BaseURL: base}
}

func TestDiscoverUntagDelete(t *testing.T) {
	var es errs
	defer es.check(t)
	f, base := setup(t, nil)
	f.AddRepository("acme", "app", true)
	f.AddTag("acme", "app", "latest", dg("a"), t0)
	f.AddTag("acme", "app", "pr-1", dg("a"), t0.Add(time.Hour)) // shares latest's digest
	f.AddTag("acme", "app", "pr-2", dg("b"), t0.Add(-time.Hour))
	f.AddTag("acme", "app", "pr-3", dg("b"), t0.Add(-2*time.Hour))
	f.AddTag("acme", "app", "multi", dg("c"), t0,
		fake.Image{OS: "linux", Architecture: "amd64", Digest: dg("d")},
		fake.Image{OS: "linux", Architecture: "arm64", Variant: "v8", Digest: dg("e")})

	b, err := hub.New(context.Background(), opts(base, "acme", "app"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := b.Discover(context.Background(), backend.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := g.Capabilities; c.DeleteManifest || !c.TagsOnly || c.Untag != graph.Yes || c.ListUntagged {
		t.Errorf("capabilities = %+v", c)
	}
	if m := g.Manifests[dg("c")]; m.Kind != graph.KindIndex || !slices.Equal(m.Children, []string{dg("d"), dg("e")}) || g.Manifests[dg("e")].Platform != "linux/arm64/v8" {
		t.Errorf("multi-arch = %+v", m)
	}
	// The plan takes an index's age from its children: they need times.
	if c := g.Manifests[dg("d")]; !c.Pushed.Equal(t0) || !c.Created.IsZero() {
		t.Errorf("platform image of multi: pushed %v, created %v, want pushed %v and no creation time (Hub gives none)", c.Pushed, c.Created, t0)
	}
	if m := g.Manifests[dg("a")]; !slices.Equal(m.Tags, []string{"latest", "pr-1"}) || !m.Pushed.Equal(t0.Add(time.Hour)) {
		t.Errorf("shared digest manifest = %+v", m)
	}
	b2, _ := json.MarshalIndent(g, "", "  ")
	snaps.MatchJSON(t, string(b2))

	// Untag the PR tag that shares latest's digest: latest stays.
	if err := es.add(b.Untag(context.Background(), "pr-1", g.Manifests[dg("a")])); err != nil {
		t.Fatal(err)
	}
	// Delete manifest b: both its tags go.
	if err := es.add(b.DeleteManifest(context.Background(), g.Manifests[dg("b")])); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"latest": dg("a"), "multi": dg("c")}
	if got := f.Tags("acme", "app"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tags left = %v, want %v", got, want)
	}
	err = es.add(b.Untag(context.Background(), "pr-1", g.Manifests[dg("a")]))
	if !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("second untag = %v, want ErrNotFound", err)
	}
	err = es.add(b.DeleteManifest(context.Background(), g.Manifests[dg("b")]))
	if !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}
	got, err := b.ListTags(context.Background())
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListTags = %v, %v", got, err)
	}
	if n := f.Count(http.MethodPost, "/v2/auth/token", http.StatusOK); n != 1 {
		t.Errorf("logins = %d, want 1", n)
	}
}

func TestAuthFailures(t *testing.T) {
	tests := []struct {
		name  string
		opts  func(o *hub.Options)
		setup func(f *fake.Fake)
		at    string // "new", "untag"
		want  error
		say   string
	}{
		{"wrong password", func(o *hub.Options) { o.Password = pat + "x" }, nil, "new", backend.ErrUnauthorized, "personal access token"},
		{"no credentials", func(o *hub.Options) { o.Username, o.Password = "", "" }, nil, "untag", backend.ErrUnauthorized, "needs `username`"},
		{"no delete scope", nil, func(f *fake.Fake) { f.SetNoDelete(true) }, "untag", backend.ErrForbidden, "Read, Write & Delete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var es errs
			defer es.check(t)
			f, base := setup(t, nil)
			f.AddRepository("acme", "app", false)
			f.AddTag("acme", "app", "pr-1", dg("a"), t0)
			if tt.setup != nil {
				tt.setup(f)
			}
			o := opts(base, "acme", "app")
			if tt.opts != nil {
				tt.opts(&o)
			}
			b, err := hub.New(context.Background(), o)
			if tt.at == "untag" {
				if err != nil {
					t.Fatal(err)
				}
				g, derr := b.Discover(context.Background(), backend.DiscoverOptions{}) // public: anonymous list works
				if derr != nil {
					t.Fatal(derr)
				}
				err = b.Untag(context.Background(), "pr-1", g.Manifests[dg("a")])
			}
			es.add(err)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.say) || !backend.Fatal(err) {
				t.Errorf("err = %v, want fatal %v saying %q", err, tt.want, tt.say)
			}
			if got := f.Tags("acme", "app"); len(got) != 1 {
				t.Errorf("tags = %v", got)
			}
		})
	}
}

func TestPaginationAnd429(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		every  int
		listed int // successful list requests
	}{
		{"one page", 100, 0, 1},
		{"three pages", 250, 0, 3},
		{"three pages with 429s", 250, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, base := setup(t, nil)
			f.AddRepository("acme", "app", true)
			for i := range tt.n {
				f.AddTag("acme", "app", fmt.Sprintf("v%d", i), dg(fmt.Sprintf("%x", i%16)), t0.Add(time.Duration(i)*time.Minute))
			}
			b, err := hub.New(context.Background(), opts(base, "acme", "app"))
			if err != nil {
				t.Fatal(err)
			}
			f.Set429Every(tt.every, "")
			g, err := b.Discover(context.Background(), backend.DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Tags) != tt.n {
				t.Errorf("tags = %d, want %d", len(g.Tags), tt.n)
			}
			if got := f.Count(http.MethodGet, "/tags", http.StatusOK); got != tt.listed {
				t.Errorf("list requests = %d, want %d", got, tt.listed)
			}
			if tt.every > 0 {
				if f.Count(http.MethodGet, "/tags", http.StatusTooManyRequests) == 0 {
					t.Error("no 429 was served")
				}
				if err := b.Untag(context.Background(), "v1", g.Manifests[g.Tags["v1"]]); err != nil {
					t.Errorf("untag under 429s: %v", err)
				}
			}
		})
	}
}

func TestTokenExpiryAndLegacyLogin(t *testing.T) {
	legacy := func(f *fake.Fake) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/auth/token" {
				http.NotFound(w, r)
				return
			}
			f.ServeHTTP(w, r)
		})
	}
	for _, tt := range []struct {
		name     string
		h        func(*fake.Fake) http.Handler
		loginURL string
	}{
		{"auth token", nil, "/v2/auth/token"},
		{"users login", legacy, "/v2/users/login"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, base := setup(t, tt.h)
			f.AddRepository("acme", "app", true)
			for i := range 4 {
				f.AddTag("acme", "app", fmt.Sprintf("pr-%d", i), dg(fmt.Sprint(i)), t0)
			}
			f.SetTokenUses(2)
			b, err := hub.New(context.Background(), opts(base, "acme", "app"))
			if err != nil {
				t.Fatal(err)
			}
			g, err := b.Discover(context.Background(), backend.DiscoverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				tag := fmt.Sprintf("pr-%d", i)
				if err := b.Untag(context.Background(), tag, g.Manifests[g.Tags[tag]]); err != nil {
					t.Fatalf("untag %s: %v", tag, err)
				}
			}
			if got := f.Tags("acme", "app"); len(got) != 0 {
				t.Errorf("tags left: %v", got)
			}
			if n := f.Count(http.MethodPost, tt.loginURL, http.StatusOK); n < 2 {
				t.Errorf("logins = %d, want a renewal", n)
			}
		})
	}
}

func TestLibraryNamespace(t *testing.T) {
	f, base := setup(t, nil)
	f.AddRepository("library", "nginx", false)
	f.AddTag("library", "nginx", "1.25", dg("a"), t0)
	ns, repo, err := hub.ParseRepository("nginx")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hub.New(context.Background(), opts(base, ns, repo))
	if err != nil {
		t.Fatal(err)
	}
	g, err := b.Discover(context.Background(), backend.DiscoverOptions{})
	if err != nil || g.Tags["1.25"] != dg("a") || g.Repository != "docker.io/library/nginx" {
		t.Fatalf("Discover = %+v, %v", g, err)
	}
	if err := b.Untag(context.Background(), "1.25", g.Manifests[dg("a")]); err != nil {
		t.Fatal(err)
	}
	if n := f.Count(http.MethodDelete, "/v2/repositories/library/nginx/tags/1.25/", http.StatusNoContent); n != 1 {
		t.Errorf("deletes = %d", n)
	}
}

func TestParseRepository(t *testing.T) {
	tests := []struct {
		in, ns, repo string
		bad          bool
	}{
		{in: "nginx", ns: "library", repo: "nginx"},
		{in: "docker.io/nginx", ns: "library", repo: "nginx"},
		{in: "docker.io/acme/app", ns: "acme", repo: "app"},
		{in: "index.docker.io/acme/app", ns: "acme", repo: "app"},
		{in: "acme/app", ns: "acme", repo: "app"},
		{in: "ghcr.io/acme/app", bad: true},
		{in: "docker.io/a/b/c", bad: true},
		{in: "docker.io//app", bad: true},
	}
	for _, tt := range tests {
		ns, repo, err := hub.ParseRepository(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && (ns != tt.ns || repo != tt.repo)) {
			t.Errorf("ParseRepository(%q) = %q %q %v", tt.in, ns, repo, err)
		}
	}
}

func TestForeignNextRefused(t *testing.T) {
	_, base := setup(t, func(f *fake.Fake) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags") {
				_, _ = w.Write([]byte(`{"count":2,"next":"http://evil.example.com/next","results":[]}`))
				return
			}
			f.ServeHTTP(w, r)
		})
	})
	b, err := hub.New(context.Background(), opts(base, "acme", "app"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Discover(context.Background(), backend.DiscoverOptions{}); err == nil || !strings.Contains(err.Error(), "another host") {
		t.Errorf("err = %v", err)
	}
}

func TestMain(m *testing.M) {
	v := m.Run()
	snaps.Clean(m)
	os.Exit(v)
}
