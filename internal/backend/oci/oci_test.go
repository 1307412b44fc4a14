package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/transport"
)

// fakeRegistry is a hostile or broken registry: tags/list and manifests
// are answered by the test's functions; /v2/ asks for no auth.
type fakeRegistry struct {
	list     func(w http.ResponseWriter, r *http.Request)
	manifest func(w http.ResponseWriter, r *http.Request)
	del      func(w http.ResponseWriter, r *http.Request)
}

func (f *fakeRegistry) start(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.HasSuffix(r.URL.Path, "/tags/list") && f.list != nil:
			f.list(w, r)
		case r.Method == http.MethodDelete && f.del != nil:
			f.del(w, r)
		case strings.Contains(r.URL.Path, "/manifests/") && f.manifest != nil:
			f.manifest(w, r)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

const (
	dgA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

func okManifest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Content-Digest", dgA)
	w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
}

func fakeBackend(t *testing.T, srv *httptest.Server, mut func(*Options)) (*Backend, *transport.Transport) {
	t.Helper()
	tr := transport.New(transport.Options{Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	o := Options{Transport: tr, Keychain: anonKeychain{}, Concurrency: 4}
	if mut != nil {
		mut(&o)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	b, err := New(context.Background(), host+"/app", o)
	if err != nil {
		t.Fatal(err)
	}
	return b, tr
}

type anonKeychain struct{}

func (anonKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

func TestHostileRegistry(t *testing.T) {
	var evilHits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilHits.Add(1)
		fmt.Fprint(w, `{"tags":["stolen"]}`)
	}))
	defer evil.Close()

	tests := []struct {
		name    string
		reg     fakeRegistry
		opts    func(*Options)
		wantErr string // substring; "" means success
		check   func(t *testing.T, g *graph.Graph)
	}{
		{
			name: "Link to another host is refused",
			reg: fakeRegistry{list: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "<"+evil.URL+`/v2/app/tags/list?last=a>; rel="next"`)
				fmt.Fprint(w, `{"tags":["a"]}`)
			}, manifest: okManifest},
			wantErr: "refusing pagination link to another host",
		},
		{
			name: "malformed Link is a clear error",
			reg: fakeRegistry{list: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", `/v2/app/tags/list?last=a; rel="next"`)
				fmt.Fprint(w, `{"tags":["a"]}`)
			}, manifest: okManifest},
			wantErr: "malformed Link header",
		},
		{
			name: "endless pages stop at the tag bound",
			reg: fakeRegistry{list: func(w http.ResponseWriter, r *http.Request) {
				last := r.URL.Query().Get("last")
				next := last + "x"
				w.Header().Set("Link", `</v2/app/tags/list?last=`+next+`>; rel="next"`)
				fmt.Fprintf(w, `{"tags":["t%s"]}`, next)
			}, manifest: okManifest},
			opts:    func(o *Options) { o.MaxTags = 50 },
			wantErr: "more than",
		},
		{
			name: "huge tag list body",
			reg: fakeRegistry{list: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"tags":["`)
				chunk := strings.Repeat("a", 1<<20)
				for i := 0; i < (maxListBody>>20)+2; i++ {
					if _, err := fmt.Fprint(w, chunk); err != nil {
						return
					}
				}
				fmt.Fprint(w, `"]}`)
			}, manifest: okManifest},
			wantErr: "too large",
		},
		{
			name: "tags breaking the grammar are warned about, not used",
			reg: fakeRegistry{list: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"tags":["good","../../etc","a\nb","-dash",".dot","`+strings.Repeat("x", 129)+`"]}`)
			}, manifest: okManifest},
			check: func(t *testing.T, g *graph.Graph) {
				if len(g.Tags) != 1 || g.Tags["good"] != dgA {
					t.Fatalf("tags = %v", g.Tags)
				}
				if len(g.Warnings) != 1 || !strings.Contains(g.Warnings[0], "ignored 5 tag name(s)") || strings.Contains(g.Warnings[0], "\n") {
					t.Fatalf("warnings = %q", g.Warnings)
				}
			},
		},
		{
			name: "HEAD without digest falls back to GET and hashes the body",
			reg: fakeRegistry{list: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"tags":["v1"]}`)
			}, manifest: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				if r.Method == http.MethodHead {
					w.Header().Set("Docker-Content-Digest", "sha256:not-a-digest")
					return
				}
				fmt.Fprint(w, `{"schemaVersion":2}`)
			}},
			check: func(t *testing.T, g *graph.Graph) {
				sum := sha256.Sum256([]byte(`{"schemaVersion":2}`))
				want := "sha256:" + hex.EncodeToString(sum[:])
				d := g.Tags["v1"]
				if d != want || g.Manifests[d].Kind != graph.KindImage {
					t.Fatalf("v1 -> %q (%+v), want %s", d, g.Manifests[d], want)
				}
			},
		},
		{
			name: "GET digest header disagreeing with the body is an error",
			reg: fakeRegistry{list: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"tags":["v1"]}`)
			}, manifest: func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					w.Header().Set("Docker-Content-Digest", dgA)
					fmt.Fprint(w, `{"schemaVersion":2}`)
				}
			}},
			wantErr: "body hashes to",
		},
		{
			name: "huge manifest body",
			reg: fakeRegistry{list: func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"tags":["v1"]}`)
			}, manifest: func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					chunk := strings.Repeat(" ", 1<<20)
					for i := 0; i < 6; i++ {
						if _, err := fmt.Fprint(w, chunk); err != nil {
							return
						}
					}
				}
			}},
			wantErr: "too large",
		},
		{
			// An unknown repository is an error, not an empty sweep: the
			// name is probably misspelt.
			name:    "repository that does not exist",
			reg:     fakeRegistry{},
			wantErr: backend.ErrRepositoryNotFound.Error(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.reg.start(t)
			b, _ := fakeBackend(t, srv, tc.opts)
			// No tag matches: each is resolved by HEAD (a matching one by GET,
			// whose body these fakes do not all serve).
			g, err := b.Discover(context.Background(), backend.DiscoverOptions{Match: func(string) bool { return false }})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, g)
		})
	}
	if n := evilHits.Load(); n != 0 {
		t.Fatalf("the other host was contacted %d times", n)
	}
}

func TestDeleteErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"accepted", 202, "", nil},
		{"not found", 404, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, backend.ErrNotFound},
		{"disabled 405", 405, `{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`, backend.ErrDeleteDisabled},
		{"unauthorized", 401, `{"errors":[{"code":"UNAUTHORIZED"}]}`, backend.ErrUnauthorized},
		{"forbidden", 403, `{"errors":[{"code":"DENIED"}]}`, backend.ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := (&fakeRegistry{del: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}}).start(t)
			b, _ := fakeBackend(t, srv, nil)
			err := b.DeleteManifest(context.Background(), &graph.Manifest{Digest: dgA})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var he *backend.HTTPError
			if !errors.As(err, &he) || he.StatusCode != tc.status || strings.Contains(he.URL, "?") {
				t.Fatalf("no sanitized HTTPError in %v", err)
			}
		})
	}
}

// Artifact Registry refuses a digest delete while tags point at it: the
// tags go first, then the digest.
func TestDeleteDanglingTag(t *testing.T) {
	var calls []string
	tagged := true
	srv := (&fakeRegistry{del: func(w http.ResponseWriter, r *http.Request) {
		ref := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		calls = append(calls, ref)
		if ref == dgA && tagged {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"errors":[{"code":"GOOGLE_MANIFEST_DANGLING_TAG","message":"Manifest is still referenced by tag: v1"}]}`)
			return
		}
		if ref != dgA {
			tagged = false
		}
		w.WriteHeader(http.StatusAccepted)
	}}).start(t)
	b, tr := fakeBackend(t, srv, func(o *Options) { o.Concurrency = 1 })
	if err := b.DeleteManifest(context.Background(), &graph.Manifest{Digest: dgA, Tags: []string{"v1"}}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, ","); got != dgA+",v1,"+dgA {
		t.Fatalf("DELETEs = %s", got)
	}
	if tr.Stats().Requests[http.MethodDelete] != 3 {
		t.Fatalf("stats = %+v", tr.Stats())
	}
}

func TestRejectsBadInput(t *testing.T) {
	srv := (&fakeRegistry{}).start(t)
	b, tr := fakeBackend(t, srv, nil)
	before := tr.Stats().Total()
	if err := b.DeleteManifest(context.Background(), &graph.Manifest{Digest: "sha256:../../x"}); err == nil {
		t.Fatal("bad digest accepted")
	}
	if err := b.Untag(context.Background(), "../x", nil); err == nil {
		t.Fatal("bad tag accepted")
	}
	if tr.Stats().Total() != before {
		t.Fatal("a request was sent for bad input")
	}
	if _, err := New(context.Background(), "UPPER/Case?x", Options{}); err == nil {
		t.Fatal("bad repository accepted")
	}
}
