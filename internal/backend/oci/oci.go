// Package oci is the backend for registries that speak the OCI distribution
// API (CNCF distribution 2.8 and 3, GitLab, Harbor, ECR, ACR, GAR, Quay).
//
// It uses go-containerregistry for reference parsing, credentials and the
// authentication handshake (one ping, one token, shared by every request),
// and issues the registry requests itself through one authenticated
// http.Client so that it controls Accept headers, pagination, body bounds,
// retries (the shared transport's, never stacked with another) and the
// request count.
package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/httpapi"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/transport"
)

// Limits on what a registry can make us read.
const (
	DefaultMaxTags     = 1_000_000
	DefaultConcurrency = 10
	pageSize           = 1000 // distribution v3 clamps n to 1000
	maxListBody        = 64 << 20
	maxManifestBody    = 4 << 20 // distribution's own manifest limit
	maxConfigBody      = 8 << 20
	maxErrorBody       = 64 << 10
	maxReferrerPages   = 100
)

// Media types the resolve asks for. Never empty: without them an old
// registry converts to schema1 and answers a digest DELETE cannot use.
var acceptManifests = strings.Join([]string{
	string(types.OCIImageIndex),
	string(types.OCIManifestSchema1),
	string(types.DockerManifestList),
	string(types.DockerManifestSchema2),
}, ", ")

var (
	tagRe    = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	digestRe = regexp.MustCompile(`^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`)
)

// ValidTag reports whether s is a tag by the OCI grammar.
func ValidTag(s string) bool { return tagRe.MatchString(s) }

// ValidDigest reports whether s is a digest this backend will use in a URL.
func ValidDigest(s string) bool { return digestRe.MatchString(s) }

// Options configure the backend.
type Options struct {
	// Auth, if set, is used as is.
	Auth authn.Authenticator
	// Username and Password give basic credentials when Auth is nil.
	Username, Password string
	// Keychain is asked when neither Auth nor Username is set; nil means
	// authn.DefaultKeychain (DOCKER_CONFIG or ~/.docker/config.json).
	// Nothing found means anonymous.
	Keychain authn.Keychain
	// Insecure allows plain HTTP and unverified TLS for a non-loopback
	// registry (loopback registries may use HTTP without it).
	Insecure bool
	// Concurrency bounds requests in flight (default 10).
	Concurrency int
	// Transport is the shared transport; nil means a new one.
	Transport *transport.Transport
	// Logf receives progress and diagnostic lines; nil discards them.
	Logf func(format string, args ...any)
	// MaxTags bounds how many tags are listed (default 1,000,000).
	MaxTags int
	// ProgressEvery is how often a long resolve logs how far it is
	// (default backend.DefaultProgressEvery).
	ProgressEvery time.Duration
}

// Backend is the OCI distribution API backend.
type Backend struct {
	repo   name.Repository
	client *http.Client
	base   *url.URL // https://host/v2/<name>/ (the scheme is fixed by the ping)
	opts   Options

	mu    sync.Mutex
	untag graph.Tri
}

var _ backend.Backend = (*Backend)(nil)

// New parses repo ("host[:port]/path"), resolves credentials and does the
// authentication handshake once; every later request shares its token.
func New(ctx context.Context, repo string, opts Options) (*Backend, error) {
	r, err := name.NewRepository(repo, opts.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", httpapi.Clip(repo), err)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.MaxTags <= 0 {
		opts.MaxTags = DefaultMaxTags
	}
	// One handshake: ping, then (for bearer) one token with pull, push and
	// delete, refreshed by go-containerregistry on a 401 (token expiry).
	client, scheme, err := opts.connect(ctx, r, r.Registry, r.Scope(ggcrtransport.DeleteScope))
	if err != nil {
		return nil, handshakeError(r, err)
	}
	base := &url.URL{Scheme: scheme, Host: r.RegistryStr(), Path: "/v2/" + r.RepositoryStr() + "/"}
	return &Backend{repo: r, client: client, base: base, opts: opts}, nil
}

// nameOptions are how a reference is parsed under o.
func (o Options) nameOptions() []name.Option {
	if o.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// connect does the authentication handshake with reg for scope, with the
// credentials for res, over o.Transport; it fills o's Logf and Transport
// when unset, and returns the client every later request shares and the
// scheme the ping settled on.
func (o *Options) connect(ctx context.Context, res authn.Resource, reg name.Registry, scope string) (*http.Client, string, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Transport == nil {
		o.Transport = transport.New(transport.Options{Insecure: o.Insecure})
	}
	sr := &schemeRecorder{inner: o.Transport}
	rt, err := ggcrtransport.NewWithContext(ctx, reg, o.authenticator(res), sr, []string{scope})
	if err != nil {
		return nil, "", err
	}
	return transport.Client(rt), sr.get(), nil
}

// authenticator picks the credentials for a registry: Auth as given, else
// username/password, else the Docker config's keychain, else anonymous.
func (o Options) authenticator(res authn.Resource) authn.Authenticator {
	auth, _ := o.credentials(res)
	return auth
}

// Where the credentials for a registry come from (see CredentialSource).
const (
	CredentialsGiven        = "given"         // Auth, or Username and Password
	CredentialsDockerConfig = "docker-config" // the keychain had an entry
	CredentialsAnonymous    = "anonymous"     // none at all
)

// CredentialSource says which credentials New and Catalog use for
// registry: CredentialsGiven, CredentialsDockerConfig or
// CredentialsAnonymous, so that a hint can name them.
func CredentialSource(registry string, opts Options) string {
	reg, err := name.NewRegistry(registry)
	if err != nil {
		return CredentialsAnonymous
	}
	opts.Logf = func(string, ...any) {}
	_, src := opts.credentials(reg)
	return src
}

func (o Options) credentials(res authn.Resource) (authn.Authenticator, string) {
	switch {
	case o.Auth != nil:
		return o.Auth, CredentialsGiven
	case o.Username != "" || o.Password != "":
		return &authn.Basic{Username: o.Username, Password: o.Password}, CredentialsGiven
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	auth, err := kc.Resolve(res)
	if err != nil {
		o.Logf("no credentials from the docker config for %s (%v); going on anonymously", res.RegistryStr(), err)
		return authn.Anonymous, CredentialsAnonymous
	}
	if auth == authn.Anonymous {
		return auth, CredentialsAnonymous
	}
	return auth, CredentialsDockerConfig
}

// schemeRecorder notes the scheme of the first answer from the registry's
// ping (https, or http where allowed), so that URLs in messages say what
// was really used; go-containerregistry rewrites every request to that
// scheme anyway.
type schemeRecorder struct {
	inner  http.RoundTripper
	mu     sync.Mutex
	scheme string
}

func (s *schemeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.inner.RoundTrip(req)
	if err == nil && req.URL.Path == "/v2/" {
		s.mu.Lock()
		if s.scheme == "" || req.URL.Scheme == "https" {
			s.scheme = req.URL.Scheme
		}
		s.mu.Unlock()
	}
	return resp, err
}

func (s *schemeRecorder) get() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scheme == "" {
		return "https"
	}
	return s.scheme
}

func handshakeError(r name.Repository, err error) error {
	var te *ggcrtransport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("log in to %s: %w", r.RegistryStr(), backend.ErrUnauthorized)
		case http.StatusForbidden:
			return fmt.Errorf("log in to %s: %w", r.RegistryStr(), backend.ErrForbidden)
		}
	}
	return fmt.Errorf("connect to %s: %w", r.RegistryStr(), err)
}

// Name implements backend.Backend.
func (b *Backend) Name() string { return "oci" }

// Repository is the full repository name, host included.
func (b *Backend) Repository() string { return b.repo.Name() }

func (b *Backend) caps(referrers bool) graph.Capabilities {
	b.mu.Lock()
	defer b.mu.Unlock()
	return graph.Capabilities{DeleteManifest: true, Untag: b.untag, Referrers: referrers}
}

func (b *Backend) url(rel string) *url.URL {
	u, _ := b.base.Parse(rel) // rel is built from validated parts
	return u
}

// do sends one request; the caller closes the body.
func (b *Backend) do(ctx context.Context, method string, u *url.URL, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		err = scrub(err)
		// A token renewal refused mid-run (revoked or expired credentials)
		// surfaces as go-containerregistry's error from the token endpoint,
		// not as an answer: give it the sentinel that stops the run.
		var te *ggcrtransport.Error
		if errors.As(err, &te) {
			switch te.StatusCode {
			case http.StatusUnauthorized:
				err = fmt.Errorf("%w: renewing the token failed: %w", backend.ErrUnauthorized, err)
			case http.StatusForbidden:
				err = fmt.Errorf("%w: renewing the token failed: %w", backend.ErrForbidden, err)
			}
		}
		return nil, fmt.Errorf("%s %s: %w", method, sanitizeURL(u), err)
	}
	return resp, nil
}

// scrub removes URLs with credentials from an error's text.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error prints the URL; ours carry no user info, and the
		// message would repeat the method and URL we already print.
		return ue.Err
	}
	return err
}

// sanitizeURL keeps only the path: no credentials, no query, and no scheme
// or host (the repository is named by the caller's context, and the scheme
// go-containerregistry settled on is not ours to report).
func sanitizeURL(u *url.URL) string {
	return u.EscapedPath()
}

// api is how the OCI backend names its answers in errors: by path only
// (the repository is named by the caller's context).
func api() httpapi.API { return httpapi.API{URL: sanitizeURL} }

// cleanText keeps untrusted registry text printable and short.
func cleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = s[:n] + "..."
	}
	return strings.TrimSpace(s)
}

// classify names the operation that failed and wraps the answer in the
// sentinel its status means.
func classify(op string, he *backend.HTTPError) error {
	return fmt.Errorf("%s: %w", op, httpapi.Classify(he, httpapi.Hints{}))
}
