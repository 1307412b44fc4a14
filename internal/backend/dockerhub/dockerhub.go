// Package dockerhub is the Docker Hub backend. Hub refuses OCI digest
// deletion; its own API lists tags (with the digest each names, so the plan
// can keep shared digests safe) and deletes tags. A manifest goes when its
// last tag goes: Capabilities.TagsOnly.
//
// Requests per run: 1 login (when credentials are given), ceil(tags/100)
// to list, one DELETE per removed tag. 429 + X-Retry-After is honoured by
// the shared transport; an expired token (401) is renewed once.
//
// Push times are tag_last_pushed (else last_updated) and pull times
// tag_last_pulled (null: never pulled), per tag and per platform image. Hub
// does not expose an image's own creation time without pulling its config,
// so age-from: created finds every age unknown here (kept).
package dockerhub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/httpapi"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/transport"
)

// DefaultBaseURL is the Hub API.
const DefaultBaseURL = "https://hub.docker.com"

const (
	maxPageBytes = 16 << 20
	maxPages     = 10000
)

const (
	forbiddenHint    = "the Docker Hub account may not delete tags here: use a personal access token with the Read, Write & Delete scope of an account that can administer the repository"
	unauthorizedHint = "Docker Hub rejected the credentials: check `username` and `password` (a personal access token)"
	noCredsHint      = "deleting on Docker Hub needs `username` and `password` (a personal access token)"
)

// Options configure the backend.
type Options struct {
	// Namespace is the user or org; "library" for official images.
	Namespace string
	// Repository is the repository name within the namespace.
	Repository string
	// Username and Password (a personal access token) log in; without them
	// only public repositories can be listed and nothing deleted.
	Username, Password string
	// BaseURL is the Hub API (tests); default DefaultBaseURL.
	BaseURL string
	// Transport is shared with the rest of the run; nil creates one.
	Transport *transport.Transport
	// Insecure allows plain HTTP to a non-loopback BaseURL.
	Insecure bool
}

// Hosts are Docker Hub's registry host names, the canonical one first;
// every other package takes them from here.
var Hosts = []string{"docker.io", "index.docker.io", "registry-1.docker.io"}

// webHost is Docker Hub's website, whose repository addresses people paste.
const webHost = "hub.docker.com"

// ParseRepository turns docker.io/ns/repo, index.docker.io/ns/repo,
// ns/repo or repo (an official image: namespace "library") into namespace
// and repository.
func ParseRepository(ref string) (namespace, repo string, err error) {
	parts := strings.Split(ref, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		if !slices.Contains(Hosts, parts[0]) && parts[0] != webHost {
			return "", "", fmt.Errorf("repository %q is not on Docker Hub", ref)
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if p == "" {
			return "", "", fmt.Errorf("repository %q: empty path element", ref)
		}
	}
	switch len(parts) {
	case 1:
		return "library", parts[0], nil
	case 2:
		return parts[0], parts[1], nil
	}
	return "", "", fmt.Errorf("repository %q: Docker Hub repositories are namespace/name", ref)
}

// Backend implements backend.Backend for Docker Hub.
type Backend struct {
	opts   Options
	client *http.Client
	base   *url.URL

	authMu sync.Mutex // one login at a time
	mu     sync.Mutex
	jwt    string
	known  []hubTag // the last listing
}

var _ backend.Backend = (*Backend)(nil)

// New checks the options and logs in when credentials are given.
func New(ctx context.Context, opts Options) (*Backend, error) {
	if opts.Namespace == "" || opts.Repository == "" {
		return nil, errors.New("dockerhub backend: namespace and repository are required")
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	base, err := transport.ParseAPIBase(opts.BaseURL, "dockerhub backend: base URL", opts.Insecure)
	if err != nil {
		return nil, err
	}
	t := opts.Transport
	if t == nil {
		t = transport.New(transport.Options{Insecure: opts.Insecure})
	}
	b := &Backend{opts: opts, client: &http.Client{Transport: t, CheckRedirect: transport.NoCrossOriginRedirect}, base: base}
	if opts.Username != "" || opts.Password != "" {
		if err := b.login(ctx, ""); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Name implements backend.Backend.
func (b *Backend) Name() string { return "dockerhub" }

func (b *Backend) repository() string {
	return Hosts[0] + "/" + b.opts.Namespace + "/" + b.opts.Repository
}

func (b *Backend) capabilities() graph.Capabilities {
	return graph.Capabilities{DeleteManifest: false, Untag: graph.Yes, TagsOnly: true, ListUntagged: false, Referrers: false, ListsDigests: true, PushTimes: true, PullTimes: true}
}

func (b *Backend) endpoint(p string, q string) *url.URL {
	u := *b.base
	u.Path = strings.TrimRight(b.base.Path, "/") + p
	u.RawQuery = q
	return &u
}

// login gets a Hub JWT, unless another goroutine already replaced stale
// since the caller saw it. POST /v2/auth/token first; /v2/users/login when
// the newer endpoint is not there.
func (b *Backend) login(ctx context.Context, stale string) error {
	b.authMu.Lock()
	defer b.authMu.Unlock()
	b.mu.Lock()
	cur := b.jwt
	b.mu.Unlock()
	if stale != "" && cur != stale {
		return nil
	}
	if b.opts.Username == "" || b.opts.Password == "" {
		return fmt.Errorf("dockerhub backend: %w: %s", backend.ErrUnauthorized, noCredsHint)
	}
	tries := []struct {
		path string
		body map[string]string
	}{
		{"/v2/auth/token", map[string]string{"identifier": b.opts.Username, "secret": b.opts.Password}},
		{"/v2/users/login", map[string]string{"username": b.opts.Username, "password": b.opts.Password}},
	}
	for i, tr := range tries {
		body, _ := json.Marshal(tr.body)
		u := b.endpoint(tr.path, "")
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := b.client.Do(req)
		if err != nil {
			return fmt.Errorf("dockerhub login: %w", b.scrub(err))
		}
		if (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) && i == 0 {
			_ = resp.Body.Close()
			continue
		}
		if resp.StatusCode != http.StatusOK {
			herr := b.api().Error(resp)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				return fmt.Errorf("dockerhub login: %w: %s: %w", backend.ErrUnauthorized, unauthorizedHint, herr)
			}
			return fmt.Errorf("dockerhub login: %w", herr)
		}
		jwt, err := b.api().Token(resp)
		_ = resp.Body.Close() // closed by Token; said here for bodyclose
		if err != nil {
			return fmt.Errorf("dockerhub login: %w", err)
		}
		b.mu.Lock()
		b.jwt = jwt
		b.mu.Unlock()
		return nil
	}
	return errors.New("dockerhub login: no login endpoint answered")
}

// do sends an authenticated request; a 401 with a token renews the token
// once and sends again (tokens expire mid-run).
func (b *Backend) do(ctx context.Context, method string, u *url.URL) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		b.mu.Lock()
		jwt := b.jwt
		b.mu.Unlock()
		if jwt != "" {
			req.Header.Set("Authorization", "Bearer "+jwt)
		}
		resp, err := b.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, transport.RedactURL(u), b.scrub(err))
		}
		if resp.StatusCode != http.StatusUnauthorized || jwt == "" || attempt > 0 {
			return resp, nil
		}
		_ = resp.Body.Close()
		if err := b.login(ctx, jwt); err != nil {
			return nil, err
		}
	}
}

func (b *Backend) scrub(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	b.mu.Lock()
	jwt := b.jwt
	b.mu.Unlock()
	for _, sec := range []string{b.opts.Password, jwt} {
		if sec != "" && strings.Contains(s, sec) {
			return errors.New(transport.Sanitize(s, b.opts.Password, jwt))
		}
	}
	return err
}

// api is how Hub's answers are read: neither the password nor the session
// token ever appears in a message.
func (b *Backend) api() httpapi.API {
	return httpapi.API{Secrets: func() []string {
		b.mu.Lock()
		defer b.mu.Unlock()
		return []string{b.opts.Password, b.jwt}
	}}
}

// classify wraps a failed answer with the sentinel it means.
func (b *Backend) classify(resp *http.Response) error {
	herr := b.api().Error(resp)
	if resp.StatusCode == http.StatusTooManyRequests {
		return fmt.Errorf("docker Hub rate limit still exceeded after retries: %w", herr)
	}
	return httpapi.Classify(herr, httpapi.Hints{Unauthorized: unauthorizedHint, Forbidden: forbiddenHint})
}

type hubTag struct {
	Name          string    `json:"name"`
	Digest        string    `json:"digest"`
	MediaType     string    `json:"media_type"`
	LastUpdated   time.Time `json:"last_updated"`
	TagLastPushed time.Time `json:"tag_last_pushed"`
	TagLastPulled time.Time `json:"tag_last_pulled"` // null (zero) when never pulled
	Images        []struct {
		OS           string    `json:"os"`
		Architecture string    `json:"architecture"`
		Variant      string    `json:"variant"`
		Digest       string    `json:"digest"`
		LastPushed   time.Time `json:"last_pushed"`
		LastPulled   time.Time `json:"last_pulled"`
	} `json:"images"`
}

// listTags lists every tag, following `next`.
func (b *Backend) listTags(ctx context.Context) ([]hubTag, error) {
	ns, repo := url.PathEscape(b.opts.Namespace), url.PathEscape(b.opts.Repository)
	var all []hubTag
	err := httpapi.Walk(ctx, b.listing(b.endpoint("/v2/namespaces/"+ns+"/repositories/"+repo+"/tags", "page_size=100"),
		"repository not found, or private and the credentials cannot see it"),
		func(pg *hubPage[hubTag]) (string, error) {
			all = append(all, pg.Results...)
			return pg.next(), nil
		})
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", b.repository(), err)
	}
	return all, nil
}

// listing is one of Hub's listings from first: each page names the next
// in its body; notFound says what a 404 means there.
func (b *Backend) listing(first *url.URL, notFound string) httpapi.Listing {
	return httpapi.Listing{
		Pages:   httpapi.NewPager(first, maxPages),
		API:     b.api(),
		MaxBody: maxPageBytes,
		Get: func(ctx context.Context, u *url.URL) (*http.Response, error) {
			return b.do(ctx, http.MethodGet, u)
		},
		Fail: func(_ *url.URL, resp *http.Response) error {
			err := b.classify(resp)
			if errors.Is(err, backend.ErrNotFound) {
				err = fmt.Errorf("%s: %w", notFound, err)
			}
			return err
		},
	}
}

// hubPage is one page of a Hub listing.
type hubPage[T any] struct {
	Next    *string `json:"next"` // null on the last page
	Results []T     `json:"results"`
}

func (p *hubPage[T]) next() string {
	if p.Next == nil {
		return ""
	}
	return *p.Next
}

// Discover implements backend.Backend.
func (b *Backend) Discover(ctx context.Context, opts backend.DiscoverOptions) (*graph.Graph, error) {
	tags, err := b.listTags(ctx)
	if err != nil {
		return nil, err
	}
	g := graph.New(b.repository(), b.Name(), b.capabilities())
	if opts.ImageCreated {
		g.Warnings = append(g.Warnings, "age-from created: Docker Hub does not report the images' creation times, so their ages are unknown here and what older-than or a keep-latest by time covers is kept (age-from: pushed reads Hub's push times)")
	}
	for _, t := range tags {
		if !strings.HasPrefix(t.Digest, "sha256:") {
			// Without a digest, shared-digest safety cannot be checked: the
			// tag stays out of the graph and is never deleted.
			g.Warnings = append(g.Warnings, fmt.Sprintf("tag %q has no digest on Docker Hub; left alone", transport.Sanitize(t.Name)))
			continue
		}
		g.SetTag(t.Name, t.Digest)
		m := g.Manifest(t.Digest)
		if t.MediaType != "" {
			m.MediaType = t.MediaType
		}
		index := strings.Contains(t.MediaType, "index") || strings.Contains(t.MediaType, "manifest.list") || len(t.Images) > 1
		if rt, ok := graph.ParseReferrerTag(t.Name); ok {
			m.Kind = graph.KindReferrer
			if !rt.Truncated {
				m.Subject = rt.Subject
			}
		} else if index {
			m.Kind = graph.KindIndex
		} else if m.Kind == graph.KindUnknown {
			m.Kind = graph.KindImage
		}
		if index && len(m.Children) == 0 {
			for _, im := range t.Images {
				if !strings.HasPrefix(im.Digest, "sha256:") || im.Digest == t.Digest {
					continue
				}
				m.Children = append(m.Children, im.Digest)
				c := g.Manifest(im.Digest)
				if c.Kind == graph.KindUnknown {
					c.Kind = graph.KindImage
				}
				if im.OS != "" {
					c.Platform = im.OS + "/" + im.Architecture
					if im.Variant != "" {
						c.Platform += "/" + im.Variant
					}
				}
			}
		}
		noteTimes(g, t)
	}
	b.mu.Lock()
	b.known = tags
	b.mu.Unlock()
	g.Finish()
	return g, nil
}

// noteTimes records a tag's push and pull times on the manifests of g it
// names: several tags on one digest give the latest push (the safer age)
// and the latest pull (the one that keeps); each platform image of an
// index gets its own push time, else its tag's (an index's age is its
// newest child's).
func noteTimes(g *graph.Graph, t hubTag) {
	pushed := t.TagLastPushed
	if pushed.IsZero() {
		pushed = t.LastUpdated
	}
	later := func(d string, pushed, pulled time.Time) {
		m, ok := g.Manifests[d]
		if !ok {
			return
		}
		if pushed.After(m.Pushed) {
			m.Pushed = pushed
		}
		if pulled.After(m.Pulled) {
			m.Pulled = pulled
		}
	}
	later(t.Digest, pushed, t.TagLastPulled)
	for _, im := range t.Images {
		if im.Digest == t.Digest || !slices.Contains(g.Manifests[t.Digest].Children, im.Digest) {
			continue
		}
		cp := im.LastPushed
		if cp.IsZero() {
			cp = pushed
		}
		later(im.Digest, cp, im.LastPulled)
	}
}

// ReadNew implements backend.NewReader: the listing before deleting brings
// push and pull times up to date, so a tag pushed onto an old image during
// the run makes it young and a pull during the run counts.
func (b *Backend) ReadNew(_ context.Context, g *graph.Graph) error {
	b.mu.Lock()
	tags := b.known
	b.mu.Unlock()
	for _, t := range tags {
		if _, ok := g.Manifests[t.Digest]; ok {
			noteTimes(g, t)
		}
	}
	g.Finish()
	return nil
}

// ProbeUntag implements backend.Backend: the Hub API deletes tags.
func (b *Backend) ProbeUntag(ctx context.Context) (graph.Tri, error) { return graph.Yes, nil }

// ListTags implements backend.Backend: the listing carries every digest.
func (b *Backend) ListTags(ctx context.Context) (map[string]string, error) {
	tags, err := b.listTags(ctx)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.known = tags
	b.mu.Unlock()
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		if strings.HasPrefix(t.Digest, "sha256:") {
			out[t.Name] = t.Digest
		}
	}
	return out, nil
}

// Untag implements backend.Backend: DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/.
func (b *Backend) Untag(ctx context.Context, tag string, m *graph.Manifest) error {
	if b.opts.Username == "" || b.opts.Password == "" {
		return fmt.Errorf("untag %s: %w: %s", tag, backend.ErrUnauthorized, noCredsHint)
	}
	u := b.endpoint("/v2/repositories/"+url.PathEscape(b.opts.Namespace)+"/"+url.PathEscape(b.opts.Repository)+"/tags/"+url.PathEscape(tag)+"/", "")
	resp, err := b.do(ctx, http.MethodDelete, u)
	if err != nil {
		return fmt.Errorf("untag %s: %w", tag, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted {
		return nil
	}
	return fmt.Errorf("untag %s: %w", tag, b.classify(resp))
}

// DeleteManifest implements backend.Backend the only way Hub allows:
// deleting every tag on the manifest (TagsOnly). Tags already gone count
// as done; when all were gone the manifest is ErrNotFound.
func (b *Backend) DeleteManifest(ctx context.Context, m *graph.Manifest) error {
	if len(m.Tags) == 0 {
		return fmt.Errorf("delete %s: Docker Hub deletes tags, and no tag names it: %w", m.Digest, backend.ErrUnsupported)
	}
	gone := 0
	for _, t := range m.Tags {
		err := b.Untag(ctx, t, m)
		switch {
		case err == nil:
		case errors.Is(err, backend.ErrNotFound):
			gone++
		default:
			return fmt.Errorf("delete %s: %w", m.Digest, err)
		}
	}
	if gone == len(m.Tags) {
		return fmt.Errorf("delete %s: every tag already gone: %w", m.Digest, backend.ErrNotFound)
	}
	return nil
}

// --- small helpers --------------------------------------------------------
