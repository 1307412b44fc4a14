package backend

import (
	"context"
	"fmt"

	"github.com/regsweep/regsweep/internal/graph"
)

// Saved is a manifest's exact content, read before it is deleted so that it
// can be put back with the same digest.
type Saved struct {
	Digest    string
	MediaType string
	Body      []byte
}

// Restorer is implemented by backends that can put a deleted manifest back.
// A registry refuses some deletions by its own rules (protected or immutable
// tags, GitHub's download rule) only when they are tried, and by then what
// depends on the refused manifest is gone: its signatures went before it,
// its index before it. The blobs a deleted manifest names stay until the
// registry's garbage collection, so pushing its saved bytes again brings it
// back whole, with its digest.
type Restorer interface {
	// SaveManifest reads m's content, checked against its digest. A
	// manifest already gone returns an error matching ErrNotFound.
	SaveManifest(ctx context.Context, m *graph.Manifest) (Saved, error)
	// RestoreManifest pushes s again by digest, then under each tag.
	RestoreManifest(ctx context.Context, s Saved, tags []string) error
}

// SavedAs is m's content body, read from the registry that served it as
// mediaType; a registry naming no media type leaves the one discovery
// recorded.
func SavedAs(m *graph.Manifest, mediaType string, body []byte) Saved {
	if mediaType == "" {
		mediaType = m.MediaType
	}
	return Saved{Digest: m.Digest, MediaType: mediaType, Body: body}
}

// PutBack pushes s again with put, by digest first and then under each
// tag: a registry tags only what it holds.
func PutBack(s Saved, tags []string, put func(ref string) error) error {
	for _, ref := range append([]string{s.Digest}, tags...) {
		if err := put(ref); err != nil {
			return fmt.Errorf("restore %s as %s: %w", s.Digest, ref, err)
		}
	}
	return nil
}
