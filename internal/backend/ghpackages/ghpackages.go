// Package ghpackages is the GitHub Packages backend: ghcr.io (and GitHub
// Enterprise Server container registries) refuse OCI manifest deletion, so
// versions are listed and deleted through the Packages REST API, while
// manifests are read through the registry's OCI API with the same token to
// learn which untagged versions are children of a multi-arch index.
//
// Requests per run: 1 (org package) or 2 (user package) to find the owner
// kind, ceil(versions/100) to list, one GET per tagged manifest and per
// untagged version no index describes (plus one token exchange) to find
// index children, one DELETE per deleted version.
package ghpackages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/httpapi"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/transport"
)

// DefaultAPIURL is the GitHub REST API of github.com (GITHUB_API_URL).
const DefaultAPIURL = "https://api.github.com"

// GitHub's REST pacing, by its documentation: make requests serially, wait
// at least a second between mutative requests (DefaultDeleteRate), and stay
// under the secondary limit of 900 points a minute, a GET costing 1 point and
// a DELETE (any mutative request) 5. MaxDeleteRate is what that budget
// allows when nothing else is sent (900/5 a minute); above 1 a second the
// points budget, GETs included, is what paces.
const (
	DefaultDeleteRate = 1.0
	MaxDeleteRate     = 3.0
	// PointsPerMinute is the budget the client paces by: 880 of the 900,
	// a margin for requests arriving closer together than they were sent.
	PointsPerMinute = 880
	pointsRead      = 1
	pointsWrite     = 5
	// SecondaryLimitWait is GitHub's "wait for at least one minute" after a
	// secondary-limit refusal without retry-after.
	SecondaryLimitWait = time.Minute
)

// Pace sets the GitHub pacing on transport options: deleteRate deletions a
// second at most (0: DefaultDeleteRate; negative: no pacing at all, for
// tests), REST calls serial and within the points budget, and the minute
// after an unhinted secondary-limit refusal.
func Pace(o *transport.Options, deleteRate float64) {
	if deleteRate < 0 {
		return
	}
	if deleteRate == 0 {
		deleteRate = DefaultDeleteRate
	}
	o.DeleteRate = min(deleteRate, MaxDeleteRate)
	o.PointsPerMinute = PointsPerMinute
	o.Serial = true
	o.LimitWait = SecondaryLimitWait
}

// cost is the points a REST request costs under the secondary limit.
func cost(method string) int {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return pointsRead
	}
	return pointsWrite
}

// The fix for a permission failure, as one sentence.
const forbiddenHint = "the token may not delete this package: give GITHUB_TOKEN `permissions: packages: write` and the repository the Admin role in the package's \"Manage Actions access\", or use a classic token with `delete:packages`"

const unauthorizedHint = "the GitHub token was rejected: pass a valid token in `github-token`"

// Options configure the backend.
type Options struct {
	// Registry is the container registry host: ghcr.io or a GHES container host.
	Registry string
	// Owner is the org or user owning the package.
	Owner string
	// Package is the package name; may contain "/" (team/app).
	Package string
	// Token is a GitHub token (GITHUB_TOKEN or a PAT).
	Token string
	// APIURL is the REST API base (GITHUB_API_URL); default DefaultAPIURL.
	APIURL string
	// Transport is shared with the rest of the run (set up with Pace); nil
	// creates one paced at DeleteRate.
	Transport *transport.Transport
	// DeleteRate (per second) is used only when Transport is nil; 0 means
	// DefaultDeleteRate, negative means no pacing.
	DeleteRate float64
	// Concurrency bounds concurrent manifest reads (default 8).
	Concurrency int
	// RegistryScheme is "https" or "http"; empty means http for a loopback
	// registry host and https otherwise.
	RegistryScheme string
	// Insecure allows plain HTTP to non-loopback hosts.
	Insecure bool
	// UntagWithPlaceholder enables the untag workaround: point the tag at a
	// tiny placeholder manifest, then delete the placeholder's version.
	UntagWithPlaceholder bool
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
	// ProgressEvery is how often reading many manifests logs how far it is
	// (default backend.DefaultProgressEvery).
	ProgressEvery time.Duration
	// Sized, if set, is told each package ListPackages lists with its
	// version count, which the listing carries at no extra request.
	Sized func(name string, versions int)
}

// ParseRepository splits host/owner/package (host/owner/team/package gives
// package "team/package").
func ParseRepository(repo string) (host, owner, pkg string, err error) {
	parts := strings.Split(repo, "/")
	if len(parts) < 3 {
		return "", "", "", fmt.Errorf("repository %q: want host/owner/package", repo)
	}
	for _, p := range parts {
		if p == "" {
			return "", "", "", fmt.Errorf("repository %q: empty path element", repo)
		}
	}
	return parts[0], parts[1], strings.Join(parts[2:], "/"), nil
}

// Backend implements backend.Backend for GitHub Packages.
type Backend struct {
	opts    Options
	client  *http.Client
	api     *url.URL
	pkgPath string // /{orgs|users}/{owner}/packages/container/{pkg%2F...}, escaped
	reg     *registry

	mu    sync.Mutex
	ids   map[string]string // digest -> version id, from the last listing
	known []apiVersion      // the last listing
	// configs: image manifest digest -> its config blob's digest, for
	// reading creation times (age-from: created).
	configs map[string]string
}

var _ backend.Backend = (*Backend)(nil)

// New checks the options and finds whether the owner is an org or a user
// (GET /orgs/{owner}/packages/container/{pkg}, then /users/...: one request
// for an org, two for a user).
func New(ctx context.Context, opts Options) (*Backend, error) {
	if opts.Owner == "" || opts.Package == "" || opts.Registry == "" {
		return nil, errors.New("github backend: registry, owner and package are required")
	}
	if opts.RegistryScheme == "" {
		// Loopback registries (tests, the fake) speak plain HTTP.
		opts.RegistryScheme = "https"
		if transport.IsLoopback(opts.Registry) {
			opts.RegistryScheme = "http"
		}
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	b, err := newAPI(opts)
	if err != nil {
		return nil, err
	}
	if opts.RegistryScheme != "https" && opts.RegistryScheme != "http" {
		return nil, fmt.Errorf("github backend: registry scheme %q", opts.RegistryScheme)
	}
	if opts.RegistryScheme == "http" && !transport.IsLoopback(opts.Registry) && !opts.Insecure {
		return nil, fmt.Errorf("github backend: refusing plain HTTP to registry %s (set `insecure` to allow)", opts.Registry)
	}
	b.reg = &registry{
		client: b.client,
		base:   &url.URL{Scheme: opts.RegistryScheme, Host: opts.Registry},
		name:   strings.ToLower(opts.Owner + "/" + opts.Package),
		token:  opts.Token,
		tokens: map[string]string{},
	}
	if err := b.findOwner(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// newAPI checks the token and the API URL and returns a Backend that can
// call the REST API, on opts.Transport or a new one paced at DeleteRate.
func newAPI(opts Options) (*Backend, error) {
	if opts.Token == "" {
		return nil, errors.New("github backend: no token: pass `github-token` (default `${{ github.token }}`)")
	}
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	api, err := transport.ParseAPIBase(opts.APIURL, "github backend: API URL", opts.Insecure)
	if err != nil {
		return nil, err
	}
	if opts.Transport == nil {
		o := transport.Options{Insecure: opts.Insecure}
		Pace(&o, opts.DeleteRate)
		opts.Transport = transport.New(o)
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	client := &http.Client{Transport: opts.Transport, CheckRedirect: transport.NoCrossOriginRedirect}
	return &Backend{opts: opts, client: client, api: api, ids: map[string]string{}}, nil
}

// Name implements backend.Backend.
func (b *Backend) Name() string { return "github" }

func (b *Backend) repository() string {
	return b.opts.Registry + "/" + b.opts.Owner + "/" + b.opts.Package
}

func (b *Backend) capabilities() graph.Capabilities {
	untag := graph.No
	if b.opts.UntagWithPlaceholder {
		untag = graph.Yes
	}
	return graph.Capabilities{DeleteManifest: true, Untag: untag, ListUntagged: true, Referrers: false, ListsDigests: true, PushTimes: true, KeepsLastTagged: true, VersionDeletes: true}
}

// apiRequest sends one authenticated REST request to an absolute URL.
func (b *Backend) apiRequest(ctx context.Context, method string, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(transport.WithCost(ctx, cost(method)), method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.opts.Token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, transport.RedactURL(u), b.scrub(err))
	}
	return resp, nil
}

// scrub removes the token from an error that may quote a request.
func (b *Backend) scrub(err error) error {
	if err == nil || !strings.Contains(err.Error(), b.opts.Token) {
		return err
	}
	return errors.New(transport.Sanitize(err.Error(), b.opts.Token))
}

func (b *Backend) apiURL(escapedPath, rawQuery string) *url.URL {
	u := *b.api
	u.Path = strings.TrimRight(b.api.Path, "/") + mustUnescape(escapedPath)
	u.RawPath = strings.TrimRight(b.api.EscapedPath(), "/") + escapedPath
	u.RawQuery = rawQuery
	return &u
}

func mustUnescape(p string) string {
	s, err := url.PathUnescape(p)
	if err != nil {
		return p
	}
	return s
}

func (b *Backend) findOwner(ctx context.Context) error {
	pkg := url.PathEscape(b.opts.Package) // "team/app" -> "team%2Fapp"
	var last error
	for _, kind := range []string{"orgs", "users"} {
		p := "/" + kind + "/" + url.PathEscape(b.opts.Owner) + "/packages/container/" + pkg
		resp, err := b.apiRequest(ctx, http.MethodGet, b.apiURL(p, ""))
		if err != nil {
			return fmt.Errorf("github backend: find package %s: %w", b.repository(), err)
		}
		if resp.StatusCode == http.StatusOK {
			_ = resp.Body.Close()
			b.pkgPath = p
			return nil
		}
		herr := api(b.opts.Token).Error(resp)
		_ = resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusNotFound:
			last = herr
			continue
		case http.StatusUnauthorized:
			return fmt.Errorf("github backend: %w: %s: %w", backend.ErrUnauthorized, unauthorizedHint, herr)
		case http.StatusForbidden:
			if !rateLimited(resp, herr.Message) {
				return fmt.Errorf("github backend: %w: %s: %w", backend.ErrForbidden, forbiddenHint, herr)
			}
		}
		return fmt.Errorf("github backend: find package %s: %w", b.repository(), herr)
	}
	// GitHub documents /users/{user}/... for public packages; a private one
	// is served under /user/... to a token of its owner (a personal token,
	// not GITHUB_TOKEN). That path names the token's user, whoever it is,
	// so the package is used only if its owner is the one asked for.
	p := "/user/packages/container/" + pkg
	resp, err := b.apiRequest(ctx, http.MethodGet, b.apiURL(p, ""))
	if err != nil {
		return fmt.Errorf("github backend: find package %s: %w", b.repository(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		var info struct {
			Owner struct {
				Login string `json:"login"`
			} `json:"owner"`
		}
		body, err := api(b.opts.Token).ReadBody(resp, 1<<20)
		if err != nil {
			return fmt.Errorf("github backend: find package %s: %w", b.repository(), err)
		}
		if json.Unmarshal(body, &info) == nil && strings.EqualFold(info.Owner.Login, b.opts.Owner) {
			b.pkgPath = p
			return nil
		}
	}
	return fmt.Errorf("github backend: package %s not found as an org or a user package, or the token cannot see it (a private user package needs a personal access token of its owner): %w", b.repository(), last)
}

// pushed is when the version was last pushed: updated_at, which moves when
// a push adds a tag to an existing version, else created_at.
func (v apiVersion) pushed() time.Time {
	if v.UpdatedAt.After(v.CreatedAt) {
		return v.UpdatedAt
	}
	return v.CreatedAt
}

type apiVersion struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Metadata  struct {
		Container struct {
			Tags []string `json:"tags"`
		} `json:"container"`
	} `json:"metadata"`
}

// listVersions lists every active version, following Link rel="next".
func (b *Backend) listVersions(ctx context.Context) ([]apiVersion, error) {
	var all []apiVersion
	err := httpapi.Walk(ctx, b.listing(b.apiURL(b.pkgPath+"/versions", "per_page=100&state=active")),
		func(vs *[]apiVersion) (string, error) {
			all = append(all, *vs...)
			return "", nil
		})
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", b.repository(), err)
	}
	b.mu.Lock()
	b.ids = make(map[string]string, len(all))
	for _, v := range all {
		b.ids[v.Name] = strconv.FormatInt(v.ID, 10)
	}
	b.known = all
	b.mu.Unlock()
	return all, nil
}

// classify wraps a failed API answer with the sentinel it means.
func (b *Backend) classify(resp *http.Response) error {
	herr := api(b.opts.Token).Error(resp)
	switch resp.StatusCode {
	case http.StatusForbidden, http.StatusTooManyRequests:
		if rateLimited(resp, herr.Message) {
			// The transport already waited and retried; this is what is left.
			return fmt.Errorf("GitHub rate limit still exceeded after retries: %w", herr)
		}
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		// GitHub's own rules on one version: a public version with more
		// than 5000 downloads, a package's last tagged version. The
		// version is kept with GitHub's words; the run goes on.
		if m := strings.ToLower(herr.Message); strings.Contains(m, "5000 downloads") || strings.Contains(m, "public") ||
			strings.Contains(m, "last tagged version") || strings.Contains(m, "last version") {
			return fmt.Errorf("%w: %w", backend.ErrRefused, herr)
		}
	}
	return httpapi.Classify(herr, httpapi.Hints{Unauthorized: unauthorizedHint, Forbidden: forbiddenHint})
}

// Discover implements backend.Backend.
func (b *Backend) Discover(ctx context.Context, opts backend.DiscoverOptions) (*graph.Graph, error) {
	vs, err := b.listVersions(ctx)
	if err != nil {
		return nil, err
	}
	g := graph.New(b.repository(), b.Name(), b.capabilities())
	matched := false
	var tagged []string
	for _, v := range vs {
		if !strings.HasPrefix(v.Name, "sha256:") {
			g.Warnings = append(g.Warnings, fmt.Sprintf("version %d has no digest name; skipped", v.ID))
			continue
		}
		m := g.Manifest(v.Name)
		m.Listed = true
		m.ID = strconv.FormatInt(v.ID, 10)
		m.Pushed = v.pushed()
		needsRead := false
		for _, t := range v.Metadata.Container.Tags {
			g.SetTag(t, v.Name)
			if opts.Match == nil || opts.Match(t) {
				matched = true
			}
			if rt, ok := graph.ParseReferrerTag(t); ok {
				m.Kind = graph.KindReferrer
				if !rt.Truncated {
					m.Subject = rt.Subject
				}
				if rt.Fallback() { // an index of referrers, kept with its subject by the spec
					needsRead = true
					m.SubjectRepository = g.Repository
				}
			} else {
				needsRead = true
			}
		}
		if needsRead {
			tagged = append(tagged, v.Name)
		}
	}
	// Every tagged manifest is read, not only matching ones, and then every
	// version whose kind is still unknown: on GHCR an untagged version may
	// be an index (a build whose tag moved on, one pushed by digest), and
	// its children are what must be protected from an untagged sweep.
	// Children an index already describes as images are not read again.
	// When nothing can be deleted, nothing is read.
	if matched || opts.Untagged {
		b.opts.Logf("%s: %d versions listed; reading the %d tagged manifests and every untagged index", b.repository(), len(vs), len(tagged))
		if err := b.readGraph(ctx, g, tagged, map[string]bool{}); err != nil {
			return nil, err
		}
		if opts.ImageCreated {
			if err := b.readCreated(ctx, g); err != nil {
				return nil, err
			}
		}
	}
	if opts.Referrers {
		markAbsent(g)
	}
	g.Finish()
	return g, nil
}

// readGraph reads roots, then level by level every index they name (an
// index of indexes, so a kept index protects its grandchildren) and every
// listed version whose kind is still unknown (an untagged index), skipping
// what read already holds. Nesting deeper than graph.MaxNesting below a
// root is refused, as what it holds could not be known.
func (b *Backend) readGraph(ctx context.Context, g *graph.Graph, roots []string, read map[string]bool) error {
	depth := map[string]int{}
	todo := roots
	if len(todo) == 0 {
		todo = b.unread(g, read)
	}
	for len(todo) > 0 {
		for _, d := range todo {
			read[d] = true
		}
		if err := b.readManifests(ctx, g, todo); err != nil {
			return err
		}
		for _, d := range todo {
			for _, c := range g.Manifests[d].Children {
				if cd, ok := depth[c]; !ok || cd > depth[d]+1 {
					depth[c] = depth[d] + 1
				}
			}
		}
		todo = b.unread(g, read)
		for _, d := range todo {
			if depth[d] > graph.MaxNesting {
				return fmt.Errorf("discover %s: indexes nested more than %d deep (%s); refusing to go on, as what they hold cannot be known", b.repository(), graph.MaxNesting, d)
			}
		}
	}
	return nil
}

// unread lists, sorted, the manifests readGraph must still read: indexes,
// and listed versions of unknown kind.
func (b *Backend) unread(g *graph.Graph, read map[string]bool) []string {
	var todo []string
	for _, d := range g.SortedDigests() {
		m := g.Manifests[d]
		if !read[d] && (m.Kind == graph.KindIndex || m.Listed && m.Kind == graph.KindUnknown) {
			todo = append(todo, d)
		}
	}
	return todo
}

// ReadNew implements backend.NewReader: the versions of the last listing
// that g does not hold (pushed during the run) are added to g and read,
// with every index they name, so that the re-check before deleting sees
// what a new index protects, and push times move to the listing's (a tag
// pushed onto an old version makes it young). g is finished again.
func (b *Backend) ReadNew(ctx context.Context, g *graph.Graph) error {
	b.mu.Lock()
	vs := b.known
	b.mu.Unlock()
	// What discovery listed or read is known; a tag now naming a digest
	// never seen has only an empty manifest in g.
	read := map[string]bool{}
	for d, m := range g.Manifests {
		read[d] = m.Listed || m.Kind != graph.KindUnknown
	}
	var fresh []string
	for _, v := range vs {
		if !strings.HasPrefix(v.Name, "sha256:") {
			continue
		}
		m := g.Manifest(v.Name)
		if !m.Listed {
			m.Listed, m.ID = true, strconv.FormatInt(v.ID, 10)
		}
		// A push during the run (a tag moved onto an old version) makes
		// it young again: the re-check reads the age it has now.
		if p := v.pushed(); p.After(m.Pushed) {
			m.Pushed = p
		}
		if !read[v.Name] {
			fresh = append(fresh, v.Name)
		}
	}
	if len(fresh) > 0 {
		b.opts.Logf("%s: %d versions appeared during the run; reading them", b.repository(), len(fresh))
		if err := b.readGraph(ctx, g, fresh, read); err != nil {
			return err
		}
	}
	// This run deletes nothing that appeared during it (the re-check keeps
	// only what both plans delete), so nothing new may be planned for
	// deletion here either: a new index, even untagged or matching, then
	// protects what it names.
	for _, d := range fresh {
		if m := g.Manifests[d]; m.Undeletable == "" {
			m.Undeletable = "it appeared during the run"
		}
	}
	g.Finish()
	return nil
}

// ListTags implements backend.Backend: the versions list gives every tag's
// digest for free.
func (b *Backend) ListTags(ctx context.Context) (map[string]string, error) {
	vs, err := b.listVersions(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, v := range vs {
		for _, t := range v.Metadata.Container.Tags {
			out[t] = v.Name
		}
	}
	return out, nil
}

// ProbeUntag implements backend.Backend: GHCR cannot remove a tag; the
// placeholder workaround can, when enabled.
func (b *Backend) ProbeUntag(ctx context.Context) (graph.Tri, error) {
	return b.capabilities().Untag, nil
}

func (b *Backend) versionID(m *graph.Manifest) string {
	if m.ID != "" {
		return m.ID
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ids[m.Digest]
}

// DeleteManifest implements backend.Backend: DELETE .../versions/{id}.
func (b *Backend) DeleteManifest(ctx context.Context, m *graph.Manifest) error {
	id := b.versionID(m)
	if id == "" {
		return fmt.Errorf("delete %s: no package version lists it: %w", m.Digest, backend.ErrNotFound)
	}
	if err := b.deleteVersion(ctx, id); err != nil {
		return fmt.Errorf("delete %s (version %s): %w", m.Digest, id, err)
	}
	return nil
}

func (b *Backend) deleteVersion(ctx context.Context, id string) error {
	resp, err := b.apiRequest(ctx, http.MethodDelete, b.apiURL(b.pkgPath+"/versions/"+url.PathEscape(id), ""))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusOK {
		return nil
	}
	return b.classify(resp)
}

// Untag implements backend.Backend. Without the placeholder workaround GHCR
// cannot remove one tag of a version: ErrUnsupported.
func (b *Backend) Untag(ctx context.Context, tag string, m *graph.Manifest) error {
	if !b.opts.UntagWithPlaceholder {
		return fmt.Errorf("untag %s: GHCR cannot remove a tag from a version (enable `ghcr-untag-workaround`): %w", tag, backend.ErrUnsupported)
	}
	if err := b.untagWithPlaceholder(ctx, tag); err != nil {
		return fmt.Errorf("untag %s: %w", tag, b.scrub(err))
	}
	return nil
}

// untagWithPlaceholder pushes a placeholder manifest unique to the tag onto
// the tag (moving it off m's version), then deletes the placeholder version.
func (b *Backend) untagWithPlaceholder(ctx context.Context, tag string) error {
	digest, err := b.reg.pushPlaceholder(ctx, tag)
	if err != nil {
		return err
	}
	// The placeholder is the newest version: the first page finds it.
	u := b.apiURL(b.pkgPath+"/versions", "per_page=20&state=active")
	resp, err := b.apiRequest(ctx, http.MethodGet, u)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		err := b.classify(resp)
		_ = resp.Body.Close()
		return fmt.Errorf("find placeholder version: %w", err)
	}
	body, err := api(b.opts.Token).ReadBody(resp, maxPageBytes)
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	var vs []apiVersion
	if err := json.Unmarshal(body, &vs); err != nil {
		return fmt.Errorf("find placeholder version: %w", err)
	}
	for _, v := range vs {
		if v.Name == digest {
			if err := b.deleteVersion(ctx, strconv.FormatInt(v.ID, 10)); err != nil && !errors.Is(err, backend.ErrNotFound) {
				return fmt.Errorf("delete placeholder %s: %w", digest, err)
			}
			return nil
		}
	}
	return fmt.Errorf("placeholder %s pushed to the tag but not listed as a version; delete it by hand", digest)
}
