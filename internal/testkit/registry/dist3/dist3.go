// Package dist3 embeds a CNCF distribution v3 registry (in-memory storage)
// for tests and the demo. It must not be linked into the same binary as
// dist2: both generations register /debug/health on the default mux at init.
package dist3

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // registers "filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"   // registers "inmemory"
	"github.com/sirupsen/logrus"
)

// Options tune the embedded registry.
type Options struct {
	// DeleteDisabled leaves storage.delete.enabled off, as a default registry is.
	DeleteDisabled bool
	// Wrap, if set, wraps the registry handler (fault injection, delays, counting).
	Wrap func(http.Handler) http.Handler
	// RootDirectory, if set, stores everything there with the filesystem
	// driver (what self-hosted registries run) instead of in memory.
	RootDirectory string
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
		"delete": configuration.Parameters{"enabled": !opts.DeleteDisabled},
		"maintenance": configuration.Parameters{
			"uploadpurging": map[interface{}]interface{}{"enabled": false},
		},
	}
	if opts.RootDirectory != "" {
		cfg.Storage["filesystem"] = configuration.Parameters{"rootdirectory": opts.RootDirectory}
	} else {
		cfg.Storage["inmemory"] = configuration.Parameters{}
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
