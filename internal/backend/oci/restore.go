package oci

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/httpapi"
	"github.com/regsweep/regsweep/internal/graph"
)

var _ backend.Restorer = (*Backend)(nil)

// SaveManifest implements backend.Restorer: one GET by digest, checked.
func (b *Backend) SaveManifest(ctx context.Context, m *graph.Manifest) (backend.Saved, error) {
	if !ValidDigest(m.Digest) {
		return backend.Saved{}, fmt.Errorf("save %q: not a valid digest", httpapi.Clip(m.Digest))
	}
	r, err := b.getManifest(ctx, m.Digest, m.Digest)
	if err != nil {
		return backend.Saved{}, fmt.Errorf("save %s before deleting it: %w", m.Digest, err)
	}
	return backend.SavedAs(m, r.mediaType, r.body), nil
}

// RestoreManifest implements backend.Restorer: PUT by digest, then by each
// tag. The registry checks that what the manifest names is there: an index
// is put back after its children, a referrer after its subject.
func (b *Backend) RestoreManifest(ctx context.Context, s backend.Saved, tags []string) error {
	if !ValidDigest(s.Digest) {
		return fmt.Errorf("restore %q: not a valid digest", httpapi.Clip(s.Digest))
	}
	for _, t := range tags {
		if !ValidTag(t) {
			return fmt.Errorf("restore %s: %q is not a valid tag", s.Digest, httpapi.Clip(t))
		}
	}
	return backend.PutBack(s, tags, func(ref string) error { return b.putManifest(ctx, ref, s) })
}

func (b *Backend) putManifest(ctx context.Context, ref string, s backend.Saved) error {
	u := b.url("manifests/" + ref)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(s.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", s.MediaType)
	resp, err := b.client.Do(req)
	if err != nil {
		return fmt.Errorf("PUT %s: %w", sanitizeURL(u), scrub(err))
	}
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusOK, http.StatusAccepted, http.StatusNoContent:
		resp.Body.Close()
		return nil
	}
	return classify("put manifest "+ref, api().Error(resp))
}
