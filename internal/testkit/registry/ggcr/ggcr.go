// Package ggcr embeds go-containerregistry's pkg/registry (in memory, with
// the OCI referrers API) for tests. It is a registry written by others that
// differs from CNCF distribution where deletion is subtle: it serves
// GET /v2/<name>/referrers/<digest>, and a DELETE by digest leaves the tags
// that named the manifest readable (a DELETE by tag removes them).
package ggcr

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Options tune the embedded registry.
type Options struct {
	// NoReferrers leaves the referrers API off (it answers 404 then).
	NoReferrers bool
	// Wrap, if set, wraps the registry handler (pagination, faults, counting).
	Wrap func(http.Handler) http.Handler
}

// Registry is a running embedded registry.
type Registry struct {
	Server *httptest.Server
	// Host is host:port, ready to prefix a repository name.
	Host string
}

// Start runs a registry until Close is called.
func Start(opts Options) *Registry {
	h := registry.New(
		registry.Logger(log.New(io.Discard, "", 0)),
		registry.WithReferrersSupport(!opts.NoReferrers),
	)
	if opts.Wrap != nil {
		h = opts.Wrap(h)
	}
	srv := httptest.NewServer(h)
	return &Registry{Server: srv, Host: strings.TrimPrefix(srv.URL, "http://")}
}

// Close stops the server.
func (r *Registry) Close() { r.Server.Close() }
