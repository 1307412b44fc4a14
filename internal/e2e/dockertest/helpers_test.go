package dockertest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// registry is an embedded distribution v3 on 127.0.0.1 that remembers when
// it saw its first request, to time a container's start.
type registry struct {
	Host  string
	mu    sync.Mutex
	first time.Time
}

func startRegistry(t *testing.T) *registry {
	t.Helper()
	r := &registry{}
	d := dist3.Start(t.Context(), dist3.Options{Wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			r.mu.Lock()
			if r.first.IsZero() {
				r.first = time.Now()
			}
			r.mu.Unlock()
			h.ServeHTTP(w, req)
		})
	}})
	t.Cleanup(d.Close)
	r.Host = d.Host
	return r
}

// firstRequest is when the registry saw its first request (zero: none).
func (r *registry) firstRequest() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

// seedDemo pushes the demo's images: pr-1..pr-5 (latest = pr-5), v1.0.0,
// v1.1.0, the signed index v1.2.0 and a signature on pr-2.
func (r *registry) seedDemo(t *testing.T, repo string) map[string]string {
	t.Helper()
	if err := seed.Demo(t.Context(), repo); err != nil {
		t.Fatalf("seed %s: %v", repo, err)
	}
	return r.state(t, repo)
}

// state reads a repository's tag -> digest map from the registry.
func (r *registry) state(t *testing.T, repo string) map[string]string {
	t.Helper()
	ref, err := name.NewRepository(repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{remote.WithContext(t.Context())}
	tags, err := remote.List(ref, opts...)
	if err != nil {
		t.Fatalf("list %s: %v", repo, err)
	}
	out := map[string]string{}
	for _, tag := range tags {
		d, err := remote.Head(ref.Tag(tag), opts...)
		if err != nil {
			t.Fatalf("head %s:%s: %v", repo, tag, err)
		}
		out[tag] = d.Digest.String()
	}
	return out
}

// demoGone is what sweeping pr-* removes from the demo repository: the five
// PR tags and the signature of pr-2 (latest shares pr-5's image and stays).
func demoGone(before map[string]string) []string {
	return []string{"pr-1", "pr-2", "pr-3", "pr-4", "pr-5",
		"sha256-" + strings.TrimPrefix(before["pr-2"], "sha256:") + ".sig"}
}

// checkFinal fails unless exactly the tags in gone are gone and every other
// tag still names the digest it had.
func checkFinal(t *testing.T, before, after map[string]string, gone []string) {
	t.Helper()
	want := map[string]string{}
	for k, v := range before {
		want[k] = v
	}
	for _, g := range gone {
		if _, ok := before[g]; !ok {
			t.Errorf("test bug: %s was never pushed", g)
		}
		delete(want, g)
	}
	if a, w := mustJSON(t, after), mustJSON(t, want); a != w {
		t.Errorf("registry after the run:\n%s\nwant:\n%s", a, w)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ") // maps marshal with sorted keys
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonStrings decodes a JSON array of strings, sorted.
func jsonStrings(t *testing.T, what, s string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("%s = %q is not a JSON array of strings: %v", what, s, err)
	}
	sort.Strings(out)
	return out
}
