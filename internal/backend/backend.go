// Package backend is the one seam in front of registry families. Each family
// (the OCI distribution API, GitHub Packages, Docker Hub) lives in its own
// sub-package and implements Backend; the rest of regsweep sees only this.
package backend

import (
	"context"
	"errors"
	"net/http"

	"github.com/regsweep/regsweep/internal/graph"
)

// Backend discovers a repository and deletes from it.
type Backend interface {
	// Name is "oci", "github" or "dockerhub".
	Name() string
	// Discover lists the repository's tags, resolves every one of them and
	// reads what the options ask for, returning the finished graph
	// (Graph.Finish called). Capabilities in the graph are what the backend
	// declares or has probed so far.
	Discover(ctx context.Context, opts DiscoverOptions) (*graph.Graph, error)
	// ProbeUntag finds out, without changing anything, whether the registry
	// can remove a tag while keeping its manifest.
	ProbeUntag(ctx context.Context) (graph.Tri, error)
	// ListTags lists the tags again (just before deleting, where the
	// listing carries digests, and after deleting, to confirm which tags are
	// gone). It maps each tag to its digest where the listing says it
	// (graph.Capabilities.ListsDigests), else to "": it never sends a
	// request per tag.
	ListTags(ctx context.Context) (map[string]string, error)
	// DeleteManifest deletes one manifest (and so every tag on it).
	// A manifest already gone returns an error matching ErrNotFound.
	DeleteManifest(ctx context.Context, m *graph.Manifest) error
	// Untag removes one tag, leaving its manifest in place.
	Untag(ctx context.Context, tag string, m *graph.Manifest) error
}

// NewReader is implemented by backends whose listing before deleting can
// name manifests discovery never read (GitHub Packages: a version pushed
// during the run). ReadNew adds them to g, which holds the fresh listing's
// tags, and reads what they name, so that a new index protects its
// children at the re-check; it finishes g again.
type NewReader interface {
	ReadNew(ctx context.Context, g *graph.Graph) error
}

// TagResolver is implemented by backends whose tag listing carries no
// digests (graph.Capabilities.ListsDigests false): it says which manifest one
// tag names now, or an error matching ErrNotFound when the tag is gone.
// After deleting, it tells a tag that outlived its manifest (some registries
// keep a tag readable after its digest is deleted) from one that moved.
type TagResolver interface {
	ResolveTag(ctx context.Context, tag string) (digest string, err error)
}

// DiscoverOptions say what the plan will need to know beyond tag -> digest.
type DiscoverOptions struct {
	// Match reports whether a tag is one the policy might delete. Backends
	// read expensive facts (creation time, referrers) only for manifests
	// with at least one matching tag, and for index children of those.
	Match func(tag string) bool
	// Created: ages of matching manifests are needed (older-than, or
	// keep-latest over tags that are not all semantic versions): read their
	// creation times where the backend reports no push times.
	Created bool
	// ImageCreated: the ages must be the images' own creation times
	// (age-from: created), so a backend that reports push times reads the
	// creation times too where it can.
	ImageCreated bool
	// Referrers: find referrers of matching manifests (delete-referrers).
	Referrers bool
	// Untagged: list manifests no tag names, where the backend can.
	Untagged bool
	// Recheck: where tags are resolved one by one (the OCI API), resolve
	// the matching ones first, then list the tags again and resolve every
	// other tag last, just before the plan is made: a tag pushed or moved
	// onto a doomed image meanwhile is seen and keeps it, and no tag is
	// resolved twice. Backends whose listing carries digests (see
	// graph.Capabilities.ListsDigests) are listed again before deleting
	// instead (apply.Relist).
	Recheck bool
}

// Sentinel errors. Backends wrap them (fmt.Errorf("delete %s: %w", d, err))
// so that apply and the report can tell what happened with errors.Is.
var (
	// ErrNotFound: the manifest or tag is already gone (another run got there
	// first). Counted as done, never as a failure.
	ErrNotFound = errors.New("not found")
	// ErrRepositoryNotFound: the registry does not know the repository
	// (OCI: tags/list answers 404 NAME_UNKNOWN). An error when the
	// repository was named explicitly; gone again later in a run, it is
	// empty.
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrDeleteDisabled: the registry has deletion turned off. Fatal.
	ErrDeleteDisabled = errors.New("deletion is disabled on the registry")
	// ErrUnauthorized: credentials missing or rejected. Fatal.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: credentials accepted but lacking permission. Fatal.
	ErrForbidden = errors.New("permission denied")
	// ErrUnsupported: the registry refuses this kind of operation (DELETE
	// by tag on distribution 2.8). Not fatal: the tag is kept and reported.
	ErrUnsupported = errors.New("operation not supported by the registry")
	// ErrRefused: the registry refuses to delete this one thing (GitHub:
	// public version with more than 5000 downloads). Kept and reported.
	ErrRefused = errors.New("registry refused the deletion")
)

// HTTPError is a registry answer that was not a success; backends wrap it
// with one of the sentinels above when they know what it means.
type HTTPError struct {
	Method     string
	URL        string // without query string or credentials
	StatusCode int
	Code       string // registry error code (MANIFEST_UNKNOWN, UNSUPPORTED, ...)
	Message    string // short, sanitized
}

func (e *HTTPError) Error() string {
	s := e.Method + " " + e.URL + ": " + http.StatusText(e.StatusCode)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Fatal reports whether err must stop the run before the next deletion.
func Fatal(err error) bool {
	return errors.Is(err, ErrDeleteDisabled) || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden)
}
