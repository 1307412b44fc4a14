// Package ggcrtest runs regsweep end to end against go-containerregistry's
// pkg/registry, the embedded registry that serves the OCI referrers API and
// keeps a tag readable after its manifest is deleted by digest. Referrers
// here are found only through the API: no fallback tag, no cosign tag.
package ggcrtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/registry/ggcr"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

var day0 = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// Artifact types of the referrers pushed here (pkg/registry reports a
// referrer's config media type as its artifactType).
const (
	typeSBOM = "application/spdx+json"
	typeSig  = "application/vnd.dev.sigstore.bundle.v0.3+json"
	typeVuln = "application/vnd.example.vulnerability-report+json"
)

func start(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	r := ggcr.Start(ggcr.Options{Wrap: wrap})
	t.Cleanup(r.Close)
	return r.Host
}

type pusher struct {
	t    *testing.T
	repo name.Repository
	p    *seed.Pusher
}

func newPusher(t *testing.T, repo string) *pusher {
	t.Helper()
	r, err := name.NewRepository(repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	p, err := seed.NewPusher(context.Background(), repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &pusher{t: t, repo: r, p: p}
}

func (p *pusher) image(tag, id string) v1.Descriptor {
	p.t.Helper()
	img := seed.Image(id, day0)
	if _, err := p.p.Image(context.Background(), tag, img); err != nil {
		p.t.Fatal(err)
	}
	return desc(p.t, img)
}

func (p *pusher) index(tag, id string) (v1.Descriptor, []v1.Descriptor) {
	p.t.Helper()
	amd, arm := seed.ImagePlatform(id, day0, "linux", "amd64"), seed.ImagePlatform(id, day0, "linux", "arm64")
	idx := seed.Index(amd, arm)
	if _, err := p.p.Index(context.Background(), tag, idx); err != nil {
		p.t.Fatal(err)
	}
	return desc(p.t, idx), []v1.Descriptor{desc(p.t, amd), desc(p.t, arm)}
}

// referrer pushes, by digest only, an artifact whose subject field names
// subject: nothing but the referrers API can find it.
func (p *pusher) referrer(artifactType string, subject v1.Descriptor) v1.Descriptor {
	p.t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType(artifactType))
	img, err := mutate.AppendLayers(img, static.NewLayer([]byte(artifactType+" of "+subject.Digest.String()), "application/octet-stream"))
	if err != nil {
		p.t.Fatal(err)
	}
	img = mutate.Subject(img, subject).(v1.Image)
	d := desc(p.t, img)
	if err := remote.Write(p.repo.Digest(d.Digest.String()), img); err != nil {
		p.t.Fatal(err)
	}
	return d
}

func desc(t *testing.T, x partial.Describable) v1.Descriptor {
	t.Helper()
	d, err := partial.Descriptor(x)
	if err != nil {
		t.Fatal(err)
	}
	return *d
}

// run sweeps repo and fails the test on an exit code other than want.
func run(t *testing.T, repo string, want int, inputs map[string]string) e2e.Result {
	t.Helper()
	in := map[string]string{"repository": repo}
	for k, v := range inputs {
		in[k] = v
	}
	res := e2e.RunAction(t, in)
	if res.Code != want {
		t.Fatalf("exit %d, want %d\n%s", res.Code, want, res.Log)
	}
	return res
}

// mustBe checks which digests resolve and which do not.
func mustBe(t *testing.T, repo string, gone, kept []v1.Descriptor) {
	t.Helper()
	for _, d := range gone {
		if e2e.Exists(t, repo, d.Digest.String()) {
			t.Errorf("%s (%s) still resolves", d.Digest, d.MediaType)
		}
	}
	for _, d := range kept {
		if !e2e.Exists(t, repo, d.Digest.String()) {
			t.Errorf("%s (%s) was deleted", d.Digest, d.MediaType)
		}
	}
}

func digests(ds ...v1.Descriptor) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Digest.String()
	}
	slices.Sort(out)
	return out
}

// TestReferrersAPI: referrers that only the API names go with their
// subject, stay with a kept one, are followed to their own referrers,
// across pages, whatever their artifact type, with an index as subject.
func TestReferrersAPI(t *testing.T) {
	t.Run("deleted-with-subject-kept-with-kept", func(t *testing.T) {
		repo := start(t, nil) + "/app"
		p := newPusher(t, repo)
		pr1 := p.image("pr-1", "pr-1")
		sbom1 := p.referrer(typeSBOM, pr1)
		rel := p.image("v1", "v1")
		sbomRel := p.referrer(typeSBOM, rel)
		sigRel := p.referrer(typeSig, rel)

		res := run(t, repo, 0, map[string]string{"tags": "pr-*"})
		mustBe(t, repo, []v1.Descriptor{pr1, sbom1}, []v1.Descriptor{rel, sbomRel, sigRel})
		if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, digests(pr1, sbom1)) {
			t.Errorf("deleted-digests = %v, want %v", got, digests(pr1, sbom1))
		}
		if got := e2e.State(t, repo); !reflect.DeepEqual(got, map[string]string{"v1": rel.Digest.String()}) {
			t.Errorf("tags after the run = %v, want only v1", got)
		}
	})

	t.Run("referrers-of-referrers", func(t *testing.T) {
		repo := start(t, nil) + "/app"
		p := newPusher(t, repo)
		pr1 := p.image("pr-1", "pr-1")
		sbom := p.referrer(typeSBOM, pr1)
		sigOnSBOM := p.referrer(typeSig, sbom)
		vulnOnSig := p.referrer(typeVuln, sigOnSBOM)
		rel := p.image("v1", "v1")
		relSBOM := p.referrer(typeSBOM, rel)
		relSig := p.referrer(typeSig, relSBOM)

		res := run(t, repo, 0, map[string]string{"tags": "pr-*"})
		mustBe(t, repo, []v1.Descriptor{pr1, sbom, sigOnSBOM, vulnOnSig}, []v1.Descriptor{rel, relSBOM, relSig})
		if got := res.Outputs["deleted-count"]; got != "4" {
			t.Errorf("deleted-count = %s, want 4", got)
		}
	})

	t.Run("paginated", func(t *testing.T) {
		var pages atomic.Int64
		repo := start(t, referrersPages(2, &pages)) + "/app"
		p := newPusher(t, repo)
		pr1 := p.image("pr-1", "pr-1")
		gone := []v1.Descriptor{pr1}
		for i := range 5 {
			gone = append(gone, p.referrer(fmt.Sprintf("application/vnd.example.report-%d+json", i), pr1))
		}
		rel := p.image("v1", "v1")
		var kept []v1.Descriptor
		for i := range 3 {
			kept = append(kept, p.referrer(fmt.Sprintf("application/vnd.example.report-%d+json", i), rel))
		}
		kept = append(kept, rel)

		pages.Store(0)
		run(t, repo, 0, map[string]string{"tags": "pr-*"})
		mustBe(t, repo, gone, kept)
		// Five referrers of pr-1 at two a page: pages 2 and 3 come only
		// through the Link header.
		if n := pages.Load(); n < 2 {
			t.Errorf("%d referrers pages after the first were read, want at least 2", n)
		}
	})

	t.Run("artifact-type-filter", func(t *testing.T) {
		var pages atomic.Int64
		repo := start(t, referrersPages(100, &pages)) + "/app"
		p := newPusher(t, repo)
		pr1 := p.image("pr-1", "pr-1")
		refs := []v1.Descriptor{p.referrer(typeSBOM, pr1), p.referrer(typeSig, pr1), p.referrer(typeVuln, pr1)}
		// The registry does filter: asked for SBOMs only, it says so and
		// hides the rest. regsweep must ask unfiltered, or it would leave
		// the signature and the report behind with no subject.
		if got := listReferrers(t, repo, pr1, typeSBOM); !reflect.DeepEqual(got, digests(refs[0])) {
			t.Fatalf("filtered answer = %v, want only the SBOM %s", got, refs[0].Digest)
		}
		run(t, repo, 0, map[string]string{"tags": "pr-*"})
		mustBe(t, repo, append(refs, pr1), nil)
	})

	t.Run("index-as-subject", func(t *testing.T) {
		repo := start(t, nil) + "/app"
		p := newPusher(t, repo)
		idx, children := p.index("pr-1", "pr-1")
		onIndex := p.referrer(typeSBOM, idx)
		onChild := p.referrer(typeSig, children[0])
		sigOnSBOM := p.referrer(typeSig, onIndex)
		keptIdx, keptChildren := p.index("v1", "v1")
		onKept := p.referrer(typeSBOM, keptIdx)
		onKeptChild := p.referrer(typeSig, keptChildren[1])

		res := run(t, repo, 0, map[string]string{"tags": "pr-*"})
		gone := append([]v1.Descriptor{idx, onIndex, onChild, sigOnSBOM}, children...)
		mustBe(t, repo, gone, append([]v1.Descriptor{keptIdx, onKept, onKeptChild}, keptChildren...))
		if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, digests(gone...)) {
			t.Errorf("deleted-digests = %v, want %v", got, digests(gone...))
		}
	})

	t.Run("dry-run-equals-real-run", func(t *testing.T) {
		repo := start(t, nil) + "/app"
		p := newPusher(t, repo)
		pr1 := p.image("pr-1", "pr-1")
		sbom := p.referrer(typeSBOM, pr1)
		sig := p.referrer(typeSig, sbom)
		p.image("v1", "v1")
		before := e2e.State(t, repo)
		dry := run(t, repo, 0, map[string]string{"tags": "pr-*", "dry-run": "true"})
		if after := e2e.State(t, repo); !reflect.DeepEqual(before, after) {
			t.Fatalf("dry run changed the tags: %v -> %v", before, after)
		}
		mustBe(t, repo, nil, []v1.Descriptor{pr1, sbom, sig})
		real := run(t, repo, 0, map[string]string{"tags": "pr-*"})
		for _, o := range []string{"deleted-digests", "deleted-tags"} {
			if d, r := dry.Strings(t, o), real.Strings(t, o); !reflect.DeepEqual(d, r) {
				t.Errorf("%s: dry run %v, real run %v", o, d, r)
			}
		}
		mustBe(t, repo, []v1.Descriptor{pr1, sbom, sig}, nil)
	})
}

// referrersPages wraps pkg/registry, which answers a referrers request in
// one page and ignores artifactType, so that it pages at size entries
// (Link: rel="next", with an opaque cursor, as the OCI distribution spec
// allows) and applies the artifactType filter as the spec describes
// (OCI-Filters-Applied). pages counts the requests for a page after the
// first.
func referrersPages(size int, pages *atomic.Int64) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/referrers/") {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			inner := r.Clone(r.Context())
			inner.URL.RawQuery = ""
			h.ServeHTTP(rec, inner)
			if rec.Code != http.StatusOK {
				copyResponse(w, rec)
				return
			}
			var idx v1.IndexManifest
			if err := json.Unmarshal(rec.Body.Bytes(), &idx); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			slices.SortFunc(idx.Manifests, func(a, b v1.Descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
			q := r.URL.Query()
			if at := q.Get("artifactType"); at != "" {
				idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d v1.Descriptor) bool { return d.ArtifactType != at })
				w.Header().Set("OCI-Filters-Applied", "artifactType")
			}
			from, _ := strconv.Atoi(q.Get("page"))
			if from > 0 {
				pages.Add(1)
			}
			all := idx.Manifests
			lo, hi := min(from*size, len(all)), min((from+1)*size, len(all))
			idx.Manifests = all[lo:hi]
			if hi < len(all) {
				next := url(r, from+1)
				w.Header().Set("Link", "<"+next+`>; rel="next"`)
			}
			body, _ := json.Marshal(idx)
			w.Header().Set("Content-Type", string(types.OCIImageIndex))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
		})
	}
}

func url(r *http.Request, page int) string {
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(page))
	return r.URL.Path + "?" + q.Encode()
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// listReferrers asks the registry for subject's referrers of one type.
func listReferrers(t *testing.T, repo string, subject v1.Descriptor, artifactType string) []string {
	t.Helper()
	host, path, _ := strings.Cut(repo, "/")
	resp, err := http.Get(fmt.Sprintf("http://%s/v2/%s/referrers/%s?artifactType=%s", host, path, subject.Digest, neturl.QueryEscape(artifactType)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("the registry did not say it applied the filter: %v", resp.Header)
	}
	var idx v1.IndexManifest
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if err := json.Unmarshal(buf.Bytes(), &idx); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range idx.Manifests {
		out = append(out, d.Digest.String())
	}
	slices.Sort(out)
	return out
}
