// Package family is the table of registry families regsweep speaks: for
// each, the name the `backend` input uses, the hosts `backend: auto` picks it
// for, the checks that refuse bad input before any request, the constructor,
// the wildcard lister and the fix hints for credential errors. Adding a
// registry family is one backend package and one row in Families.
package family

import (
	"context"
	"fmt"
	"strings"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/transport"
)

// Config is what every family's functions take: the run's settings and the
// environment they need. Each family uses the fields that concern it.
type Config struct {
	Username, Password   string
	GitHubToken          string
	GitHubAPIURL         string // GITHUB_API_URL
	DockerHubURL         string // the Docker Hub API base (tests); "" means the real one
	Insecure             bool
	Concurrency          int
	UntagWithPlaceholder bool
	Transport            *transport.Transport
	Logf                 func(format string, args ...any)
	// Sized, if set, is told the size (versions or tags) of each
	// repository a lister knows without a request more (GitHub's package
	// listing); expand-only balances shards by it.
	Sized func(repo string, size int)
	// Credentials names Username and Password, when they are set, by
	// where they came from ("the credentials from the `username` and
	// `password` inputs", a CI job's own); hints quote it.
	Credentials string
}

// Hints are one-sentence fixes for credential errors, naming the
// credentials this run used for the repository.
type Hints struct {
	Unauthorized string // backend.ErrUnauthorized
	Forbidden    string // backend.ErrForbidden
}

// Family is one registry API.
type Family struct {
	// Name is the `backend` input's value.
	Name string
	// Hosts are the hosts `backend: auto` picks this family for, lowercase;
	// the first is how regsweep writes the host. None: the default family.
	Hosts []string
	// DeleteRate paces DELETEs on the family's shared transport (per
	// second; 0: no pacing).
	DeleteRate float64
	// Pace, if set, sets the family's own pacing on its shared transport,
	// given the `github-delete-rate` setting.
	Pace func(o *transport.Options, deleteRate float64)
	// Check refuses bad input for repo (normalized host/path, or a trailing
	// /* wildcard) before any request: a wrong shape, a missing token.
	Check func(c Config, repo string) error
	// New returns the backend for one repository.
	New func(ctx context.Context, c Config, repo string) (backend.Backend, error)
	// List returns the full names of the repositories below base (a
	// repository without its "/*", or a bare host), for a wildcard.
	List func(ctx context.Context, c Config, base string) ([]string, error)
	// Hints names the fix for credential errors on repo.
	Hints func(c Config, repo string) Hints
}

// Families is the table, in the order the `backend` input lists them; the
// one without Hosts is what `auto` picks for any other host.
func Families() []Family {
	return []Family{ociFamily(), gitHubFamily(), dockerHubFamily()}
}

// Auto is the `backend` input's value that picks a family by host.
const Auto = "auto"

// Names returns the `backend` input's choices: auto, then every family.
func Names() []string {
	names := []string{Auto}
	for _, f := range Families() {
		names = append(names, f.Name)
	}
	return names
}

// For picks the family for a repository: the `backend` input's choice,
// or with auto (or empty) the family whose Hosts has the repository's host.
func For(choice, repo string) (Family, error) {
	fams := Families()
	if choice != "" && choice != Auto {
		for _, f := range fams {
			if f.Name == choice {
				return f, nil
			}
		}
		return Family{}, fmt.Errorf("backend %q is not one of %s", choice, strings.Join(Names(), ", "))
	}
	host, _, _ := strings.Cut(repo, "/")
	host = strings.ToLower(host)
	var def Family
	for _, f := range fams {
		if len(f.Hosts) == 0 {
			def = f
		}
		for _, h := range f.Hosts {
			if h == host {
				return f, nil
			}
		}
	}
	return def, nil
}

// CanonicalHost writes a host the way regsweep does: an alias of a
// family's host ("index.docker.io") becomes its first host ("docker.io");
// any other host is returned lowercase.
func CanonicalHost(host string) string {
	host = strings.ToLower(host)
	for _, f := range Families() {
		for _, h := range f.Hosts {
			if h == host {
				return f.Hosts[0]
			}
		}
	}
	return host
}

// firstNonEmpty returns the first non-empty value.
func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
