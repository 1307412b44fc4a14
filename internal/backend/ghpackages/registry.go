package ghpackages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/transport"
)

// Manifest media types; the Accept list is never empty so no registry
// converts to schema1.
const (
	mediaOCIIndex    = "application/vnd.oci.image.index.v1+json"
	mediaOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaDockerList  = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaDocker2     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaOCIEmpty    = "application/vnd.oci.empty.v1+json"
)

var acceptManifests = strings.Join([]string{mediaOCIIndex, mediaDockerList, mediaOCIManifest, mediaDocker2}, ", ")

// registry is a minimal OCI client for the package's registry side: read
// manifests, push the untag placeholder. It does the Bearer token exchange
// itself with the GitHub token as password, only against the registry's own
// host.
type registry struct {
	client *http.Client
	base   *url.URL
	name   string // owner/package, lower case
	token  string // GitHub token

	// exMu makes concurrent readers that all got 401 share one exchange.
	exMu   sync.Mutex
	mu     sync.Mutex
	tokens map[string]string // scope -> registry bearer token
}

func (r *registry) url(p string) *url.URL {
	u := *r.base
	u.Path = "/v2/" + r.name + p
	return &u
}

// do sends a request, exchanging the GitHub token for a registry token on a
// 401 Bearer challenge and retrying once.
func (r *registry) do(ctx context.Context, method string, u *url.URL, hdr http.Header, body []byte, push bool) (*http.Response, error) {
	scope := "repository:" + r.name + ":pull"
	if push {
		scope += ",push"
	}
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
		if err != nil {
			return nil, err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		r.mu.Lock()
		tok := r.tokens[scope]
		r.mu.Unlock()
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, transport.RedactURL(u), errors.New(transport.Sanitize(err.Error(), r.token)))
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		challenge := resp.Header.Get("WWW-Authenticate")
		_ = resp.Body.Close()
		r.exMu.Lock()
		r.mu.Lock()
		fresh := r.tokens[scope] != tok // another request exchanged meanwhile
		r.mu.Unlock()
		if !fresh {
			err = r.exchange(ctx, challenge, scope)
		}
		r.exMu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

// exchange gets a registry token for scope from the challenge's realm.
func (r *registry) exchange(ctx context.Context, challenge, scope string) error {
	scheme, params := parseChallenge(challenge)
	if !strings.EqualFold(scheme, "bearer") || params["realm"] == "" {
		return fmt.Errorf("registry %s: %w: unexpected authentication challenge", r.base.Host, backend.ErrUnauthorized)
	}
	realm, err := url.Parse(params["realm"])
	if err != nil || !transport.SameOrigin(r.base, realm) {
		// Credentials never follow a challenge to another host.
		return fmt.Errorf("registry %s: refusing token realm on another host", r.base.Host)
	}
	q := realm.Query()
	if params["service"] != "" {
		q.Set("service", params["service"])
	}
	q.Set("scope", scope)
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth("token", r.token)
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("registry token: %w", errors.New(transport.Sanitize(err.Error(), r.token)))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		herr := api(r.token).Error(resp)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return fmt.Errorf("registry token: %w: %s: %w", backend.ErrUnauthorized, "the registry rejected the GitHub token for reading "+r.name, herr)
		}
		return fmt.Errorf("registry token: %w", herr)
	}
	tok, err := api(r.token).Token(resp)
	if err != nil {
		return fmt.Errorf("registry token: %w", err)
	}
	r.mu.Lock()
	r.tokens[scope] = tok
	r.mu.Unlock()
	return nil
}

// parseChallenge parses `Bearer realm="...",service="...",scope="..."`.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				break
			}
			params[k] = v[1 : end+1]
			rest = v[end+2:]
		} else {
			val, after, _ := strings.Cut(v, ",")
			params[k] = strings.TrimSpace(val)
			rest = after
		}
	}
	return scheme, params
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	Platform  *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	} `json:"platform,omitempty"`
}

type manifestBody struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Manifests    []descriptor      `json:"manifests"`
	Config       *descriptor       `json:"config"`
	Subject      *descriptor       `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

type readResult struct {
	digest    string
	mediaType string
	raw       []byte // the content as served, checked against digest
	body      manifestBody
	missing   bool
	mismatch  bool
}

// getManifest reads one manifest by digest and checks its digest.
func (r *registry) getManifest(ctx context.Context, digest string) (readResult, error) {
	res := readResult{digest: digest}
	hdr := http.Header{"Accept": {acceptManifests}}
	resp, err := r.do(ctx, http.MethodGet, r.url("/manifests/"+digest), hdr, nil, false)
	if err != nil {
		return res, fmt.Errorf("read manifest %s: %w", digest, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		res.missing = true
		return res, nil
	}
	if resp.StatusCode != http.StatusOK {
		herr := api(r.token).Error(resp)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return res, fmt.Errorf("read manifest %s: %w: %w", digest, backend.ErrUnauthorized, herr)
		}
		return res, fmt.Errorf("read manifest %s: %w", digest, herr)
	}
	b, err := api(r.token).ReadBody(resp, maxManifestBytes)
	if err != nil {
		return res, fmt.Errorf("read manifest %s: %w", digest, err)
	}
	sum := sha256.Sum256(b)
	if "sha256:"+hex.EncodeToString(sum[:]) != digest {
		res.mismatch = true
		return res, nil
	}
	res.raw = b
	if err := json.Unmarshal(b, &res.body); err != nil {
		return res, fmt.Errorf("read manifest %s: decode: %w", digest, err)
	}
	res.mediaType = res.body.MediaType
	if ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); res.mediaType == "" && ct != "" {
		res.mediaType = strings.TrimSpace(ct)
	}
	return res, nil
}

func isIndex(mt string) bool { return mt == mediaOCIIndex || mt == mediaDockerList }

// readManifests reads the given manifests with bounded concurrency and
// records kinds, children, platforms and subjects in g.
func (b *Backend) readManifests(ctx context.Context, g *graph.Graph, digests []string) error {
	results := make([]readResult, len(digests))
	var done atomic.Int64
	defer backend.Progress(b.opts.Logf, b.opts.ProgressEvery, b.repository(), "manifests read", len(digests), &done,
		func() time.Duration { return b.opts.Transport.Stats().Waited })()
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(b.opts.Concurrency)
	for i, d := range digests {
		eg.Go(func() error {
			defer done.Add(1)
			res, err := b.reg.getManifest(ctx, d)
			results[i] = res
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return fmt.Errorf("discover %s: %w", b.repository(), err)
	}
	for _, res := range results {
		m := g.Manifest(res.digest)
		switch {
		case res.missing:
			g.Warnings = append(g.Warnings, fmt.Sprintf("manifest %s is listed as a version but the registry does not serve it", res.digest))
			continue
		case res.mismatch:
			g.Warnings = append(g.Warnings, fmt.Sprintf("manifest %s: the registry served content with another digest; treated as unknown", res.digest))
			continue
		}
		m.MediaType = res.mediaType
		m.ArtifactType = res.body.ArtifactType
		if res.body.Subject != nil && res.body.Subject.Digest != "" {
			g.Refer(m, res.body.Subject.Digest)
		}
		if isIndex(res.mediaType) {
			if m.Kind != graph.KindReferrer {
				m.Kind = graph.KindIndex
			}
			for _, c := range res.body.Manifests {
				if !strings.HasPrefix(c.Digest, "sha256:") {
					continue
				}
				m.Children = append(m.Children, c.Digest)
				cm := g.Manifest(c.Digest)
				if cm.MediaType == "" {
					cm.MediaType = c.MediaType
				}
				if c.Platform != nil && c.Platform.OS != "" {
					cm.Platform = c.Platform.OS + "/" + c.Platform.Architecture
					if c.Platform.Variant != "" {
						cm.Platform += "/" + c.Platform.Variant
					}
				}
				if m.Kind == graph.KindReferrer && m.Subject != "" && cm.Kind == graph.KindUnknown {
					// Children of a referrers fallback index are referrers of
					// its subject, placed where the index places it.
					cm.Kind, cm.Subject, cm.SubjectRepository = graph.KindReferrer, m.Subject, m.SubjectRepository
				} else if cm.Kind == graph.KindUnknown {
					switch {
					case isIndex(c.MediaType):
						cm.Kind = graph.KindIndex
					case c.MediaType == mediaOCIManifest || c.MediaType == mediaDocker2:
						cm.Kind = graph.KindImage
					}
				}
			}
		} else if m.Kind == graph.KindUnknown && (res.mediaType == mediaOCIManifest || res.mediaType == mediaDocker2) {
			m.Kind = graph.KindImage
		}
		if t, ok := backend.ParseCreated(res.body.Annotations[backend.CreatedAnnotation]); ok {
			m.Created = t
		} else if c := res.body.Config; c != nil && backend.IsImageConfig(c.MediaType) && strings.HasPrefix(c.Digest, "sha256:") {
			b.mu.Lock()
			if b.configs == nil {
				b.configs = map[string]string{}
			}
			b.configs[res.digest] = c.Digest
			b.mu.Unlock()
		}
	}
	return nil
}

// pushPlaceholder pushes an empty OCI artifact unique to tag onto tag and
// returns its digest.
func (r *registry) pushPlaceholder(ctx context.Context, tag string) (string, error) {
	empty := []byte("{}")
	sum := sha256.Sum256(empty)
	emptyDigest := "sha256:" + hex.EncodeToString(sum[:])
	if err := r.ensureBlob(ctx, emptyDigest, empty); err != nil {
		return "", err
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaOCIManifest,
		"artifactType":  "application/vnd.regsweep.placeholder",
		"config":        map[string]any{"mediaType": mediaOCIEmpty, "digest": emptyDigest, "size": len(empty)},
		"layers":        []any{map[string]any{"mediaType": mediaOCIEmpty, "digest": emptyDigest, "size": len(empty)}},
		"annotations":   map[string]string{"org.regsweep.placeholder-for": tag},
	}
	body, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	ms := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(ms[:])
	if err := r.putManifest(ctx, tag, mediaOCIManifest, body); err != nil {
		return "", fmt.Errorf("push placeholder: %w", err)
	}
	return digest, nil
}

// putManifest pushes body as the manifest ref (a digest or a tag).
func (r *registry) putManifest(ctx context.Context, ref, mediaType string, body []byte) error {
	resp, err := r.do(ctx, http.MethodPut, r.url("/manifests/"+url.PathEscape(ref)), http.Header{"Content-Type": {mediaType}}, body, true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return api(r.token).Error(resp)
	}
	return nil
}

func (r *registry) ensureBlob(ctx context.Context, digest string, data []byte) error {
	resp, err := r.do(ctx, http.MethodHead, r.url("/blobs/"+digest), nil, nil, true)
	if err != nil {
		return fmt.Errorf("push placeholder blob: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	resp, err = r.do(ctx, http.MethodPost, r.url("/blobs/uploads/"), nil, []byte{}, true)
	if err != nil {
		return fmt.Errorf("push placeholder blob: %w", err)
	}
	loc := resp.Header.Get("Location")
	status := resp.StatusCode
	if status != http.StatusAccepted {
		herr := api(r.token).Error(resp)
		_ = resp.Body.Close()
		return fmt.Errorf("push placeholder blob: %w", herr)
	}
	_ = resp.Body.Close()
	lu, err := r.base.Parse(loc)
	if err != nil || !transport.SameOrigin(r.base, lu) {
		return errors.New("push placeholder blob: upload location on another host")
	}
	q := lu.Query()
	q.Set("digest", digest)
	lu.RawQuery = q.Encode()
	resp, err = r.do(ctx, http.MethodPut, lu, http.Header{"Content-Type": {"application/octet-stream"}}, data, true)
	if err != nil {
		return fmt.Errorf("push placeholder blob: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("push placeholder blob: %w", api(r.token).Error(resp))
	}
	return nil
}

// maxConfigBytes bounds an image config read for its creation time.
const maxConfigBytes = 1 << 20

// getBlob reads one blob by digest and checks its digest; nil when the
// registry does not have it.
func (r *registry) getBlob(ctx context.Context, digest string) ([]byte, error) {
	resp, err := r.do(ctx, http.MethodGet, r.url("/blobs/"+digest), nil, nil, false)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", digest, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read blob %s: %w", digest, api(r.token).Error(resp))
	}
	body, err := api(r.token).ReadBody(resp, maxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", digest, err)
	}
	if sum := sha256.Sum256(body); "sha256:"+hex.EncodeToString(sum[:]) != digest {
		return nil, nil // not what was asked for: no time from it
	}
	return body, nil
}

// readCreated reads the creation time of every image read whose config is
// an image config (age-from: created): one GET per config, bounded like
// manifest reads. A config the registry does not serve leaves the time
// unknown, which the plan keeps.
func (b *Backend) readCreated(ctx context.Context, g *graph.Graph) error {
	b.mu.Lock()
	var todo []string
	for d := range b.configs {
		if m := g.Manifests[d]; m != nil && m.Created.IsZero() {
			todo = append(todo, d)
		}
	}
	configs := b.configs
	b.mu.Unlock()
	sort.Strings(todo)
	times := make([]time.Time, len(todo))
	b.opts.Logf("%s: reading %d image configs for their creation times (age-from: created)", b.repository(), len(todo))
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(b.opts.Concurrency)
	for i, d := range todo {
		eg.Go(func() error {
			body, err := b.reg.getBlob(ctx, configs[d])
			if err != nil {
				return err
			}
			times[i] = backend.ConfigCreated(body)
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return fmt.Errorf("discover %s: %w", b.repository(), err)
	}
	for i, d := range todo {
		g.Manifests[d].Created = times[i]
	}
	return nil
}
