package family

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/oci"
)

// ociFamily is the OCI distribution API: every host no other family claims.
func ociFamily() Family {
	return Family{
		Name:  "oci",
		Check: func(Config, string) error { return nil },
		New: func(ctx context.Context, c Config, repo string) (backend.Backend, error) {
			return oci.New(ctx, repo, ociOptions(c))
		},
		List: func(ctx context.Context, c Config, base string) ([]string, error) {
			host, path, _ := strings.Cut(base, "/")
			list, err := oci.Catalog(ctx, host, path, ociOptions(c))
			// Rejected credentials are the credentials' fault, not the
			// wildcard's: that error goes out as it is, with its hint.
			if errors.Is(err, oci.ErrNoCatalog) && !errors.Is(err, backend.ErrUnauthorized) {
				return nil, &noCatalogError{host: host, cause: err}
			}
			return list, err
		},
		Hints: func(c Config, repo string) Hints {
			host, _, _ := strings.Cut(repo, "/")
			var h Hints
			switch {
			case c.Username != "" || c.Password != "":
				creds := firstNonEmpty(c.Credentials, "the `username` and `password`")
				h.Unauthorized = fmt.Sprintf("The registry rejected %s: check them.", creds)
				h.Forbidden = fmt.Sprintf("The registry accepted %s, but they lack a permission this repository needs (listing needs pull, deleting needs delete rights).", creds)
			case oci.CredentialSource(host, ociOptions(c)) == oci.CredentialsDockerConfig:
				h.Unauthorized = fmt.Sprintf("The registry rejected the credentials the Docker config (DOCKER_CONFIG or ~/.docker/config.json) holds for %s: log in again, or set the `username` and `password` inputs.", host)
				h.Forbidden = fmt.Sprintf("The Docker config's credentials for %s were accepted but lack a permission this repository needs (listing needs pull, deleting needs delete rights): set `username` and `password` for an account that has it.", host)
			default:
				h.Unauthorized = fmt.Sprintf("The registry refused anonymous access: no `username` and `password` were set and the Docker config has no credentials for %s; set the `username` and `password` inputs.", host)
				h.Forbidden = fmt.Sprintf("Anonymous access to %s lacks a permission this repository needs (listing needs pull, deleting needs delete rights): set the `username` and `password` inputs.", host)
			}
			return h
		},
	}
}

func ociOptions(c Config) oci.Options {
	return oci.Options{
		Username:    c.Username,
		Password:    c.Password,
		Insecure:    c.Insecure,
		Concurrency: c.Concurrency,
		Transport:   c.Transport,
		Logf:        c.Logf,
	}
}

// noCatalogError is the one-sentence answer to a wildcard on a registry
// without the catalog API; the registry's own answer is kept short.
type noCatalogError struct {
	host  string
	cause error
}

func (e *noCatalogError) Error() string {
	why := "refused"
	var he *backend.HTTPError
	if errors.As(e.cause, &he) {
		why = fmt.Sprintf("answered %d %s", he.StatusCode, http.StatusText(he.StatusCode))
	}
	return fmt.Sprintf("wildcards need the registry's catalog API (GET /v2/_catalog), which %s %s for these credentials: list the repositories one per line instead", e.host, why)
}

func (e *noCatalogError) Unwrap() error { return e.cause }
