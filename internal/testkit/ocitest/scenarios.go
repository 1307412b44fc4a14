// Package ocitest holds the OCI backend's scenarios against a real
// registry. Each generation of CNCF distribution runs them from its own
// test package (internal/e2e/dist3test, dist2test): the two embedded registries cannot
// share a test binary.
package ocitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/oci"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/testkit/faults"
	"github.com/regsweep/regsweep/internal/transport"
)

// Gen names a registry generation; expectations differ between them.
type Gen string

const (
	V3  Gen = "distribution-3"
	V28 Gen = "distribution-2.8"
)

// StartOptions mirror dist3.Options / dist2.Options.
type StartOptions struct {
	DeleteDisabled bool
	Wrap           func(http.Handler) http.Handler
}

// Registry is a started registry: Host is host:port.
type Registry struct {
	Host string
	URL  string
}

// Starter starts a registry for the duration of the test.
type Starter func(t *testing.T, opts StartOptions) Registry

// Suite runs every scenario.
type Suite struct {
	Gen   Gen
	Start Starter
	// Snapshot matches v against a snapshot kept next to the calling test
	// package (go-snaps finds the file from its caller).
	Snapshot func(t *testing.T, v any)
}

// Run runs every scenario as a subtest.
func (s Suite) Run(t *testing.T) {
	t.Run("Pagination", s.Pagination)
	t.Run("ResolveSchema2AndDelete", s.ResolveSchema2AndDelete)
	t.Run("IndexChildren", s.IndexChildren)
	t.Run("Referrers", s.Referrers)
	t.Run("DeleteDisabled", s.DeleteDisabled)
	t.Run("ProbeUntag", s.ProbeUntag)
	t.Run("Untag", s.Untag)
	t.Run("RequestCount", s.RequestCount)
	t.Run("Created", s.Created)
	t.Run("ListTags", s.ListTags)
	t.Run("Recheck", s.Recheck)
	t.Run("Progress", s.Progress)
	t.Run("NestingBound", s.NestingBound)
	t.Run("Faults", s.Faults)
	t.Run("BearerTokenOnce", s.BearerTokenOnce)
	t.Run("Catalog", s.Catalog)
}

// image returns a deterministic small image (the seed picks it).
func image(t *testing.T, seed int64) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1, random.WithSource(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func ref(t *testing.T, r Registry, repo, tag string) name.Reference {
	t.Helper()
	rf, err := name.ParseReference(r.Host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	return rf
}

func push(t *testing.T, r Registry, repo string, img v1.Image, tags ...string) {
	t.Helper()
	if err := remote.Write(ref(t, r, repo, tags[0]), img); err != nil {
		t.Fatal(err)
	}
	tagAll(t, r, repo, img, tags[1:]...)
}

// tagAll tags an already pushed image or index, concurrently, with one
// manifest PUT per tag (the registries here need no auth for pushes).
func tagAll(t *testing.T, r Registry, repo string, img interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
}, tags ...string) {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	ht := http.DefaultTransport.(*http.Transport).Clone()
	ht.MaxIdleConnsPerHost = 16
	defer ht.CloseIdleConnections()
	client := &http.Client{Transport: ht}
	var eg errgroup.Group
	eg.SetLimit(16)
	for _, tg := range tags {
		eg.Go(func() error {
			req, err := http.NewRequest(http.MethodPut, r.URL+"/v2/"+repo+"/manifests/"+tg, bytes.NewReader(raw))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", string(mt))
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("tag %s: %s", tg, resp.Status)
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		t.Fatal(err)
	}
}

// instant is a transport that never really sleeps, so retries are fast.
func instant() *transport.Transport {
	return transport.New(transport.Options{
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	})
}

func newBackend(t *testing.T, r Registry, repo string, tr *transport.Transport) *oci.Backend {
	t.Helper()
	if tr == nil {
		tr = instant()
	}
	b, err := oci.New(context.Background(), r.Host+"/"+repo, oci.Options{Transport: tr, Concurrency: 8, Keychain: noKeychain{}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func discover(t *testing.T, b *oci.Backend, opts backend.DiscoverOptions) *graph.Graph {
	t.Helper()
	g, err := b.Discover(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// counter counts requests reaching the registry by a key.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) wrap(key func(*http.Request) string) func(http.Handler) http.Handler {
	c.n = map[string]int{}
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.mu.Lock()
			c.n[key(r)]++
			c.mu.Unlock()
			h.ServeHTTP(w, r)
		})
	}
}

func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

// Pagination: distribution 3 answers in pages with a relative Link; here
// its page is cut to 100 (faults.PagedBy, as registries with small pages
// answer), so 250 tags make three pages. 2.8 ignores n and answers
// everything at once, more than the 1,000 asked for: 1,050 tags, one page.
func (s Suite) Pagination(t *testing.T) {
	var c counter
	var links []string
	var lmu sync.Mutex
	n, wantPages, pageWrap := 250, 3, faults.PagedBy(100)
	if s.Gen == V28 {
		n, wantPages, pageWrap = 1050, 1, func(h http.Handler) http.Handler { return h }
	}
	r := s.Start(t, StartOptions{Wrap: func(h http.Handler) http.Handler {
		counted := c.wrap(func(r *http.Request) string {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				return "list"
			}
			return r.Method
		})(pageWrap(h))
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			counted.ServeHTTP(&linkRecorder{ResponseWriter: w, record: func(l string) {
				lmu.Lock()
				links = append(links, l)
				lmu.Unlock()
			}}, req)
		})
	}})
	img := image(t, 1)
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%04d", i)
	}
	start := time.Now()
	push(t, r, "app", img, tags...)
	t.Logf("push: %v", time.Since(start))
	start = time.Now()
	tr := instant()
	b := newBackend(t, r, "app", tr)
	g := discover(t, b, backend.DiscoverOptions{})
	t.Logf("discover: %v", time.Since(start))
	if len(g.Tags) != n {
		t.Fatalf("discovered %d tags, want %d", len(g.Tags), n)
	}
	want := digestOf(t, img)
	for tg, d := range g.Tags {
		if d != want {
			t.Fatalf("tag %s -> %s, want %s", tg, d, want)
		}
	}
	if got := c.get("list"); got != wantPages {
		t.Errorf("list pages = %d, want %d", got, wantPages)
	}
	lmu.Lock()
	defer lmu.Unlock()
	if s.Gen == V3 {
		if len(links) != wantPages-1 || !strings.HasPrefix(links[0], "</v2/app/tags/list?") {
			t.Errorf("v3 Link headers = %q, want %d relative links", links, wantPages-1)
		}
	} else if len(links) != 0 {
		t.Errorf("2.8 Link headers = %q, want none", links)
	}
}

type linkRecorder struct {
	http.ResponseWriter
	record func(string)
	done   bool
}

func (l *linkRecorder) check() {
	if !l.done {
		l.done = true
		if v := l.Header().Get("Link"); v != "" {
			l.record(v)
		}
	}
}

func (l *linkRecorder) WriteHeader(code int) {
	l.check()
	l.ResponseWriter.WriteHeader(code)
}

func (l *linkRecorder) Write(b []byte) (int, error) {
	l.check()
	return l.ResponseWriter.Write(b)
}

// ResolveSchema2AndDelete: a Docker schema2 image pushed with
// go-containerregistry resolves to the digest DELETE accepts; a second
// DELETE is ErrNotFound.
func (s Suite) ResolveSchema2AndDelete(t *testing.T) {
	r := s.Start(t, StartOptions{})
	img := image(t, 2)
	if mt, _ := img.MediaType(); mt != types.DockerManifestSchema2 {
		t.Fatalf("test image is %s, want Docker schema2", mt)
	}
	push(t, r, "app", img, "v1", "v1-alias")
	b := newBackend(t, r, "app", nil)
	g := discover(t, b, backend.DiscoverOptions{})
	d := digestOf(t, img)
	m := g.Manifests[d]
	if g.Tags["v1"] != d || m == nil || m.Kind != graph.KindImage || m.MediaType != string(types.DockerManifestSchema2) {
		t.Fatalf("graph = %+v, manifest %+v; want v1 -> %s, a schema2 image", g.Tags, m, d)
	}
	if strings.Join(m.Tags, ",") != "v1,v1-alias" {
		t.Fatalf("tags on manifest = %v", m.Tags)
	}
	ctx := context.Background()
	if err := b.DeleteManifest(ctx, m); err != nil {
		t.Fatalf("first delete: %v", err)
	}
	err := b.DeleteManifest(ctx, m)
	if !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	var he *backend.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
		t.Fatalf("second delete carries no HTTPError 404: %v", err)
	}
	// Both tags went with the digest.
	g = discover(t, b, backend.DiscoverOptions{})
	if len(g.Tags) != 0 {
		t.Fatalf("tags after delete: %v", g.Tags)
	}
}

func platformIndex(t *testing.T, seed int64) (v1.ImageIndex, []string) {
	t.Helper()
	amd, arm := image(t, seed), image(t, seed+1)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	return idx, []string{digestOf(t, amd), digestOf(t, arm)}
}

// IndexChildren: an index's children are in the graph with their platforms.
func (s Suite) IndexChildren(t *testing.T) {
	r := s.Start(t, StartOptions{})
	idx, kids := platformIndex(t, 10)
	if err := remote.WriteIndex(ref(t, r, "app", "multi"), idx); err != nil {
		t.Fatal(err)
	}
	b := newBackend(t, r, "app", nil)
	g := discover(t, b, backend.DiscoverOptions{})
	m := g.Manifests[digestOf(t, idx)]
	if m == nil || m.Kind != graph.KindIndex || strings.Join(m.Children, ",") != strings.Join(kids, ",") {
		t.Fatalf("index = %+v, want children %v", m, kids)
	}
	for i, want := range []string{"linux/amd64", "linux/arm64/v8"} {
		c := g.Manifests[kids[i]]
		if c == nil || c.Kind != graph.KindImage || c.Platform != want || len(c.Tags) != 0 {
			t.Errorf("child %d = %+v, want an untagged %s image", i, c, want)
		}
	}
}

// Referrers: a cosign .sig tag and an OCI fallback index both make
// referrers of their subject.
func (s Suite) Referrers(t *testing.T) {
	r := s.Start(t, StartOptions{})
	subj := image(t, 20)
	push(t, r, "app", subj, "v1")
	sd := digestOf(t, subj)
	hex := strings.TrimPrefix(sd, "sha256:")

	sig := image(t, 21)
	push(t, r, "app", sig, "sha256-"+hex+".sig")

	// An artifact pushed by digest, listed by the fallback index.
	att := image(t, 22)
	attRef, _ := name.NewDigest(r.Host + "/app@" + digestOf(t, att))
	if err := remote.Write(attRef, att); err != nil {
		t.Fatal(err)
	}
	fb := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{ArtifactType: "application/vnd.example.sbom"}})
	if err := remote.WriteIndex(ref(t, r, "app", "sha256-"+hex), fb); err != nil {
		t.Fatal(err)
	}

	b := newBackend(t, r, "app", nil)
	g := discover(t, b, backend.DiscoverOptions{Referrers: true})
	if g.Capabilities.Referrers {
		t.Errorf("%s claims the referrers API", s.Gen)
	}
	for label, d := range map[string]string{"cosign .sig": digestOf(t, sig), "fallback index": digestOf(t, fb), "listed artifact": digestOf(t, att)} {
		m := g.Manifests[d]
		if m == nil || m.Kind != graph.KindReferrer || m.Subject != sd {
			t.Errorf("%s = %+v, want a referrer of %s", label, m, sd)
		}
	}
	if m := g.Manifests[digestOf(t, att)]; m != nil && m.ArtifactType != "application/vnd.example.sbom" {
		t.Errorf("artifact type = %q", m.ArtifactType)
	}
	if m := g.Manifests[sd]; m.Kind != graph.KindImage {
		t.Errorf("subject = %+v", m)
	}
	if s.Snapshot != nil {
		for _, m := range g.Manifests {
			if m.SubjectRepository == g.Repository {
				m.SubjectRepository = "REGISTRY/app"
			}
		}
		g.Repository = "REGISTRY/app" // the port changes every run
		s.Snapshot(t, g)
	}
}

// DeleteDisabled: the error says how to turn deletion on.
func (s Suite) DeleteDisabled(t *testing.T) {
	r := s.Start(t, StartOptions{DeleteDisabled: true})
	img := image(t, 30)
	push(t, r, "app", img, "v1")
	b := newBackend(t, r, "app", nil)
	err := b.DeleteManifest(context.Background(), &graph.Manifest{Digest: digestOf(t, img)})
	if !errors.Is(err, backend.ErrDeleteDisabled) || !backend.Fatal(err) {
		t.Fatalf("err = %v, want ErrDeleteDisabled", err)
	}
	for _, want := range []string{"storage.delete.enabled: true", "REGISTRY_STORAGE_DELETE_ENABLED=true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Probing untag on a registry with deletion off (measured, see ProbeUntag docs).
	got, perr := b.ProbeUntag(context.Background())
	uerr := b.Untag(context.Background(), "v1", &graph.Manifest{Digest: digestOf(t, img)})
	t.Logf("%s, delete disabled: ProbeUntag = %q, %v; Untag(existing) = %v", s.Gen, got, perr, uerr)
	// Measured on both generations: with deletion off, DELETE by tag is
	// refused too (405 UNSUPPORTED), so the probe says No.
	if got != graph.No || !errors.Is(uerr, backend.ErrUnsupported) {
		t.Errorf("delete disabled: ProbeUntag = %q, Untag err = %v; want No and ErrUnsupported", got, uerr)
	}
}

// ProbeUntag: v3 can remove a tag alone; 2.8 cannot. Nothing is removed.
func (s Suite) ProbeUntag(t *testing.T) {
	var c counter
	r := s.Start(t, StartOptions{Wrap: c.wrap(func(r *http.Request) string { return r.Method })})
	img := image(t, 40)
	push(t, r, "app", img, "v1")
	b := newBackend(t, r, "app", nil)
	got, err := b.ProbeUntag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := graph.Yes
	if s.Gen == V28 {
		want = graph.No
	}
	if got != want {
		t.Fatalf("ProbeUntag = %q, want %q", got, want)
	}
	if n := c.get(http.MethodDelete); n != 1 {
		t.Fatalf("probe sent %d DELETEs, want 1", n)
	}
	// Cached: no second probe, and Discover reports it.
	if again, _ := b.ProbeUntag(context.Background()); again != want || c.get(http.MethodDelete) != 1 {
		t.Fatalf("second probe = %q after %d DELETEs", again, c.get(http.MethodDelete))
	}
	g := discover(t, b, backend.DiscoverOptions{})
	if g.Capabilities.Untag != want || g.Tags["v1"] != digestOf(t, img) {
		t.Fatalf("after probe: caps %+v tags %v", g.Capabilities, g.Tags)
	}
}

// Untag removes only the tag on v3; 2.8 answers ErrUnsupported.
func (s Suite) Untag(t *testing.T) {
	r := s.Start(t, StartOptions{})
	img := image(t, 50)
	push(t, r, "app", img, "latest", "pr-1")
	b := newBackend(t, r, "app", nil)
	m := &graph.Manifest{Digest: digestOf(t, img), Tags: []string{"latest", "pr-1"}}
	err := b.Untag(context.Background(), "pr-1", m)
	g := discover(t, b, backend.DiscoverOptions{})
	if s.Gen == V28 {
		if !errors.Is(err, backend.ErrUnsupported) || backend.Fatal(err) {
			t.Fatalf("2.8 untag: %v, want ErrUnsupported", err)
		}
		if len(g.Tags) != 2 {
			t.Fatalf("tags after refused untag: %v", g.Tags)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Tags) != 1 || g.Tags["latest"] != m.Digest {
		t.Fatalf("tags after untag: %v, want only latest -> %s", g.Tags, m.Digest)
	}
	if err := b.Untag(context.Background(), "pr-1", m); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("second untag: %v, want ErrNotFound", err)
	}
}

// RequestCount: discovering N tags of plain images costs the handshake,
// the list pages and exactly one request per tag: a GET for a matching tag
// (its body says whether it is a referrer), a HEAD for the others.
func (s Suite) RequestCount(t *testing.T) {
	r := s.Start(t, StartOptions{})
	const n = 60
	for i := 0; i < n/3; i++ { // 20 digests, 3 tags each
		img := image(t, 100+int64(i))
		push(t, r, "app", img, fmt.Sprintf("pr-%d", i), fmt.Sprintf("pr-%d-b", i), fmt.Sprintf("v%d", i))
	}
	tr := instant()
	b := newBackend(t, r, "app", tr)
	handshake := tr.Stats()
	g := discover(t, b, backend.DiscoverOptions{Match: func(tag string) bool { return strings.HasPrefix(tag, "pr-") }})
	st := tr.Stats()
	if len(g.Tags) != n || len(g.Manifests) != n/3 {
		t.Fatalf("graph has %d tags, %d manifests", len(g.Tags), len(g.Manifests))
	}
	got := map[string]int{}
	for k, v := range st.Requests {
		if d := v - handshake.Requests[k]; d != 0 {
			got[k] = d
		}
	}
	want := map[string]int{http.MethodGet: 1 + 2*n/3, http.MethodHead: n / 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("discovery requests = %v, want %v (handshake was %v)", got, want, handshake.Requests)
	}
	if st.Retries != 0 || st.MaxInFlight > 8 {
		t.Fatalf("stats = %+v", st)
	}
}

// Created: from the config blob, or from the annotation; read only for
// matching manifests.
func (s Suite) Created(t *testing.T) {
	r := s.Start(t, StartOptions{})
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	cfgImg, err := mutate.CreatedAt(image(t, 60), v1.Time{Time: when})
	if err != nil {
		t.Fatal(err)
	}
	push(t, r, "app", cfgImg, "pr-config")
	ann := mutate.Annotations(mutate.MediaType(image(t, 61), types.OCIManifestSchema1),
		map[string]string{"org.opencontainers.image.created": "2023-01-02T03:04:05Z"}).(v1.Image)
	push(t, r, "app", ann, "pr-annotation")
	other, _ := mutate.CreatedAt(image(t, 62), v1.Time{Time: when})
	push(t, r, "app", other, "release")
	kid0, _ := mutate.CreatedAt(image(t, 63), v1.Time{Time: when.Add(time.Hour)})
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: kid0, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	if err := remote.WriteIndex(ref(t, r, "app", "pr-index"), idx); err != nil {
		t.Fatal(err)
	}

	// An index with a created annotation of its own: its children's times
	// are read all the same, since the index's age is theirs.
	kid1, _ := mutate.CreatedAt(image(t, 64), v1.Time{Time: when.Add(2 * time.Hour)})
	annotated := mutate.Annotations(mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: kid1, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}}),
		map[string]string{"org.opencontainers.image.created": "2019-01-01T00:00:00Z"}).(v1.ImageIndex)
	if err := remote.WriteIndex(ref(t, r, "app", "pr-annotated-index"), annotated); err != nil {
		t.Fatal(err)
	}

	b := newBackend(t, r, "app", nil)
	g := discover(t, b, backend.DiscoverOptions{Created: true, Match: func(tag string) bool { return strings.HasPrefix(tag, "pr-") }})
	for tag, want := range map[string]time.Time{
		"pr-config":     when,
		"pr-annotation": time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC),
		"pr-index":      when.Add(time.Hour),
		"release":       {}, // not matching: not read
	} {
		if got := g.Manifests[g.Tags[tag]].Created; !got.Equal(want) {
			t.Errorf("%s created = %v, want %v", tag, got, want)
		}
	}
	if got := g.Manifests[digestOf(t, kid0)].Created; !got.Equal(when.Add(time.Hour)) {
		t.Errorf("index child created = %v", got)
	}
	if got := g.Manifests[digestOf(t, kid1)].Created; !got.Equal(when.Add(2 * time.Hour)) {
		t.Errorf("child of an annotated index: created = %v, want %v (not read)", got, when.Add(2*time.Hour))
	}
}

// ListTags: one listing, names only, no request per tag.
func (s Suite) ListTags(t *testing.T) {
	r := s.Start(t, StartOptions{})
	a, bimg := image(t, 70), image(t, 71)
	push(t, r, "app", a, "a1", "a2")
	tr := instant()
	b := newBackend(t, r, "app", tr)
	push(t, r, "app", bimg, "new")
	before := tr.Stats()
	cur, err := b.ListTags(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after := tr.Stats()
	if want := map[string]string{"a1": "", "a2": "", "new": ""}; fmt.Sprint(cur) != fmt.Sprint(want) {
		t.Fatalf("ListTags = %v, want %v", cur, want)
	}
	if n := after.Requests[http.MethodGet] - before.Requests[http.MethodGet]; n != 1 || after.Requests[http.MethodHead] != before.Requests[http.MethodHead] {
		t.Fatalf("ListTags sent %d GETs and %d HEADs, want one GET", n, after.Requests[http.MethodHead]-before.Requests[http.MethodHead])
	}
}

// Recheck: the matching tags are resolved from the first listing; the
// tags are listed again and every other tag is resolved only then, so
// `latest` moved onto a PR image and a new tag pushed onto one while the PR
// tags were read are both seen. No tag is resolved twice.
func (s Suite) Recheck(t *testing.T) {
	var (
		mu       sync.Mutex
		heads    = map[string]int{}
		order    []string // resolved tags (HEAD or GET by tag), in order
		lists    int
		mutating atomic.Bool
		r        Registry
	)
	pr1, pr2, rel := image(t, 80), image(t, 81), image(t, 82)
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !mutating.Load() {
				mu.Lock()
				switch {
				case req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/tags/list"):
					lists++
					if lists == 2 {
						// Another pipeline, between the PR tags' reads and
						// the last look.
						mutating.Store(true)
						tagAll(t, r, "app", pr1, "latest")
						tagAll(t, r, "app", pr2, "v9", "pr-new")
						mutating.Store(false)
					}
				case (req.Method == http.MethodHead || req.Method == http.MethodGet) && strings.Contains(req.URL.Path, "/manifests/") &&
					!strings.Contains(req.URL.Path[strings.LastIndex(req.URL.Path, "/"):], ":"):
					tag := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
					heads[tag]++
					order = append(order, tag)
				}
				mu.Unlock()
			}
			h.ServeHTTP(w, req)
		})
	}
	r = s.Start(t, StartOptions{Wrap: wrap})
	push(t, r, "app", pr1, "pr-1", "pr-1b")
	push(t, r, "app", pr2, "pr-2")
	push(t, r, "app", rel, "v1", "latest")
	mu.Lock()
	heads, order, lists = map[string]int{}, nil, 0
	mu.Unlock()

	b := newBackend(t, r, "app", nil)
	g := discover(t, b, backend.DiscoverOptions{Recheck: true, Match: func(tag string) bool { return strings.HasPrefix(tag, "pr-") }})
	want := map[string]string{
		"pr-1": digestOf(t, pr1), "pr-1b": digestOf(t, pr1), "pr-2": digestOf(t, pr2), "pr-new": digestOf(t, pr2),
		"v1": digestOf(t, rel), "latest": digestOf(t, pr1), "v9": digestOf(t, pr2),
	}
	if fmt.Sprint(g.Tags) != fmt.Sprint(want) {
		t.Fatalf("tags = %v, want %v", g.Tags, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if lists != 2 {
		t.Errorf("listed %d times, want 2", lists)
	}
	for tag, n := range heads {
		if n != 1 {
			t.Errorf("tag %s resolved %d times", tag, n)
		}
	}
	if len(order) != len(want) {
		t.Fatalf("resolved %v, want each of %d tags once", order, len(want))
	}
	// The three PR tags of the first listing go first; the kept tags and
	// the new one after the second listing.
	first := slices.Clone(order[:3])
	slices.Sort(first)
	if fmt.Sprint(first) != "[pr-1 pr-1b pr-2]" {
		t.Errorf("resolve order %v: the first listing's matching tags should come first", order)
	}
}

// Progress: a resolve longer than ProgressEvery says how far it is.
func (s Suite) Progress(t *testing.T) {
	r := s.Start(t, StartOptions{Wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.Contains(req.URL.Path, "/manifests/") {
				time.Sleep(10 * time.Millisecond) // a resolve: GET for a matching tag
			}
			h.ServeHTTP(w, req)
		})
	}})
	img := image(t, 90)
	tags := make([]string, 40)
	for i := range tags {
		tags[i] = fmt.Sprintf("pr-%d", i)
	}
	push(t, r, "app", img, tags...)
	var mu sync.Mutex
	var lines []string
	b, err := oci.New(context.Background(), r.Host+"/app", oci.Options{Transport: instant(), Concurrency: 2, Keychain: noKeychain{},
		ProgressEvery: 20 * time.Millisecond, Logf: func(f string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, fmt.Sprintf(f, a...))
		}})
	if err != nil {
		t.Fatal(err)
	}
	discover(t, b, backend.DiscoverOptions{})
	mu.Lock()
	defer mu.Unlock()
	for _, l := range lines {
		if strings.Contains(l, "/40 tags resolved, ") && strings.HasSuffix(l, " waiting on rate limits") {
			return
		}
	}
	t.Fatalf("no progress line in %q", lines)
}

// NestingBound: indexes inside indexes are read down to graph.MaxNesting
// levels; one level more is refused, as what it holds could not be
// protected.
func (s Suite) NestingBound(t *testing.T) {
	r := s.Start(t, StartOptions{})
	nest := func(levels int) v1.ImageIndex {
		idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{Add: image(t, 95)})
		for range levels {
			idx = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{Add: idx})
		}
		return idx
	}
	for _, c := range []struct {
		repo   string
		levels int
		ok     bool
	}{{"deep", graph.MaxNesting, true}, {"too-deep", graph.MaxNesting + 1, false}} {
		if err := remote.WriteIndex(ref(t, r, c.repo, "v1"), nest(c.levels)); err != nil {
			t.Fatal(err)
		}
		_, err := newBackend(t, r, c.repo, nil).Discover(context.Background(), backend.DiscoverOptions{})
		if c.ok != (err == nil) || !c.ok && !strings.Contains(err.Error(), "nested more than") {
			t.Errorf("%d levels below the tagged index: err = %v", c.levels, err)
		}
	}
}

// Faults: 503 bursts, 429 with Retry-After and dropped connections in
// front of the registry; discovery and deletion still come out exact.
func (s Suite) Faults(t *testing.T) {
	var seen sync.Map // method+path -> *atomic.Int32
	var armed atomic.Bool
	r := s.Start(t, StartOptions{Wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !armed.Load() || req.URL.Path == "/v2/" || req.Method == http.MethodPut || req.Method == http.MethodPost || req.Method == http.MethodPatch {
				h.ServeHTTP(w, req)
				return
			}
			v, _ := seen.LoadOrStore(req.Method+" "+req.URL.String(), new(atomic.Int32))
			switch v.(*atomic.Int32).Add(1) {
			case 1:
				w.WriteHeader(http.StatusServiceUnavailable)
			case 2:
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			case 3:
				if req.Method == http.MethodDelete {
					// Do it, then lose the answer.
					h.ServeHTTP(httptestDiscard{}, req)
				}
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
			default:
				h.ServeHTTP(w, req)
			}
		})
	}})
	img, other := image(t, 80), image(t, 81)
	push(t, r, "app", img, "pr-1", "pr-2")
	push(t, r, "app", other, "latest")
	armed.Store(true)
	tr := instant()
	b := newBackend(t, r, "app", tr)
	g := discover(t, b, backend.DiscoverOptions{})
	if len(g.Tags) != 3 || g.Tags["pr-1"] != digestOf(t, img) || g.Tags["latest"] != digestOf(t, other) {
		t.Fatalf("tags = %v", g.Tags)
	}
	err := b.DeleteManifest(context.Background(), g.Manifests[digestOf(t, img)])
	if err != nil && !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("delete under faults: %v", err)
	}
	if !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("a lost DELETE answer must come back as ErrNotFound (counted as deleted); got %v", err)
	}
	st := tr.Stats()
	if st.Retries == 0 || st.Waited == 0 {
		t.Fatalf("stats = %+v, want retries and waits", st)
	}
	cur, err := b.ListTags(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cur["latest"]; len(cur) != 1 || !ok {
		t.Fatalf("after delete: %v", cur)
	}
	if d, err := remote.Head(ref(t, r, "app", "latest")); err != nil || d.Digest.String() != digestOf(t, other) {
		t.Fatalf("latest after delete: %v, %v", d, err)
	}
}

type httptestDiscard struct{}

func (httptestDiscard) Header() http.Header         { return http.Header{} }
func (httptestDiscard) Write(b []byte) (int, error) { return len(b), nil }
func (httptestDiscard) WriteHeader(int)             {}

// BearerTokenOnce: behind a bearer challenge, one token serves the whole
// discovery and deletions; an expired token is refreshed once.
func (s Suite) BearerTokenOnce(t *testing.T) {
	var tokens atomic.Int32
	var valid atomic.Value
	valid.Store("tok-1")
	var base string
	r := s.Start(t, StartOptions{Wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/token" {
				tokens.Add(1)
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"token":%q}`, valid.Load().(string))
				return
			}
			if req.Header.Get("Authorization") != "Bearer "+valid.Load().(string) {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="test"`, base))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, req)
		})
	}})
	base = r.URL
	img := image(t, 90)
	// Push with the token flow too (go-containerregistry handles it).
	for _, tg := range []string{"pr-1", "pr-2", "v1"} {
		push(t, r, "app", img, tg)
	}
	tr := instant()
	b, err := oci.New(context.Background(), r.Host+"/app", oci.Options{Transport: tr, Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	before := tokens.Load()
	g := discover(t, b, backend.DiscoverOptions{})
	if len(g.Tags) != 3 {
		t.Fatalf("tags = %v", g.Tags)
	}
	if got := tokens.Load() - before; got != 0 {
		t.Fatalf("discovery fetched %d tokens, want 0 (the handshake's one)", got)
	}
	valid.Store("tok-2") // the token expires
	if err := b.DeleteManifest(context.Background(), g.Manifests[digestOf(t, img)]); err != nil {
		t.Fatal(err)
	}
	if got := tokens.Load() - before; got != 1 {
		t.Fatalf("after expiry: %d token fetches, want 1", got)
	}
}

// noKeychain keeps the developer's docker config out of the tests.
type noKeychain struct{}

func (noKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }
