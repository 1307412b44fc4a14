// Package dist2 embeds a docker/distribution 2.8 registry (in-memory storage)
// for tests and the demo. It must not be linked into the same binary as
// dist3: both generations register /debug/health on the default mux at init.
package dist2

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/docker/distribution/configuration"
	"github.com/docker/distribution/registry/handlers"
	_ "github.com/docker/distribution/registry/storage/driver/inmemory" // registers "inmemory"
	"github.com/sirupsen/logrus"
)

// Options tune the embedded registry.
type Options struct {
	// DeleteDisabled leaves storage.delete.enabled off, as a default registry is.
	DeleteDisabled bool
	// Wrap, if set, wraps the registry handler (fault injection, delays, counting).
	Wrap func(http.Handler) http.Handler
}

// Registry is a running embedded registry.
type Registry struct {
	Server *httptest.Server
	// Host is host:port, ready to prefix a repository name.
	Host string
}

// Start runs a registry until ctx ends or Close is called.
func Start(ctx context.Context, opts Options) *Registry {
	logrus.SetOutput(io.Discard)
	cfg := &configuration.Configuration{}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	cfg.Storage = configuration.Storage{
		"inmemory": configuration.Parameters{},
		"delete":   configuration.Parameters{"enabled": !opts.DeleteDisabled},
		"maintenance": configuration.Parameters{
			"uploadpurging": map[interface{}]interface{}{"enabled": false},
		},
	}
	cfg.HTTP.Headers = http.Header{"X-Content-Type-Options": []string{"nosniff"}}
	// A parsed config file defaults catalog.maxentries to 1000; a zero here
	// would make /v2/_catalog always answer an empty list.
	cfg.Catalog.MaxEntries = 1000
	app := handlers.NewApp(ctx, cfg)
	var h http.Handler = app
	if opts.Wrap != nil {
		h = opts.Wrap(h)
	}
	srv := httptest.NewServer(h)
	return &Registry{Server: srv, Host: strings.TrimPrefix(srv.URL, "http://")}
}

// Close stops the server.
func (r *Registry) Close() { r.Server.Close() }
