package ghpackages

import (
	"context"
	"fmt"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
)

var _ backend.Restorer = (*Backend)(nil)

// SaveManifest implements backend.Restorer: one GET through the registry
// side, checked against the digest.
func (b *Backend) SaveManifest(ctx context.Context, m *graph.Manifest) (backend.Saved, error) {
	res, err := b.reg.getManifest(ctx, m.Digest)
	switch {
	case err != nil:
		return backend.Saved{}, fmt.Errorf("save %s before deleting it: %w", m.Digest, b.scrub(err))
	case res.missing:
		return backend.Saved{}, fmt.Errorf("save %s before deleting it: %w", m.Digest, backend.ErrNotFound)
	case res.mismatch:
		return backend.Saved{}, fmt.Errorf("save %s before deleting it: the registry served content with another digest", m.Digest)
	}
	return backend.SavedAs(m, res.mediaType, res.raw), nil
}

// RestoreManifest implements backend.Restorer: the manifest is pushed
// again through the registry side, by digest, then under each tag. GHCR
// makes it a new package version with the same digest, and adds the tags
// of a push of the same content to that version.
func (b *Backend) RestoreManifest(ctx context.Context, s backend.Saved, tags []string) error {
	return backend.PutBack(s, tags, func(ref string) error {
		return b.scrub(b.reg.putManifest(ctx, ref, s.MediaType, s.Body))
	})
}
