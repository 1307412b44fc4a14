package oci

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/httpapi"
	"github.com/regsweep/regsweep/internal/graph"
)

const deleteDisabledHint = "enable it with `storage.delete.enabled: true` in the registry's config " +
	"(or REGISTRY_STORAGE_DELETE_ENABLED=true) and restart it"

// DeleteManifest implements backend.Backend: DELETE by digest, which takes
// every tag on the manifest with it.
func (b *Backend) DeleteManifest(ctx context.Context, m *graph.Manifest) error {
	if !ValidDigest(m.Digest) {
		return fmt.Errorf("delete %q: not a valid digest", httpapi.Clip(m.Digest))
	}
	err := b.deleteRef(ctx, m.Digest)
	var he *backend.HTTPError
	if errors.As(err, &he) && he.Code == "GOOGLE_MANIFEST_DANGLING_TAG" && len(m.Tags) > 0 {
		// Artifact Registry refuses a digest delete while tags point at it:
		// remove them first, then the digest.
		for _, t := range m.Tags {
			if uerr := b.Untag(ctx, t, m); uerr != nil && !errors.Is(uerr, backend.ErrNotFound) {
				return fmt.Errorf("delete %s: remove tag %s first: %w", m.Digest, t, uerr)
			}
		}
		err = b.deleteRef(ctx, m.Digest)
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", m.Digest, err)
	}
	return nil
}

// deleteRef sends DELETE /v2/<name>/manifests/<ref> and says what the
// answer means.
func (b *Backend) deleteRef(ctx context.Context, ref string) error {
	u := b.url("manifests/" + ref)
	resp, err := b.do(ctx, http.MethodDelete, u, "")
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK, http.StatusNoContent:
		resp.Body.Close()
		return nil
	}
	he := api().Error(resp)
	if he.StatusCode == http.StatusMethodNotAllowed || he.Code == "UNSUPPORTED" {
		return &disabledError{he: he}
	}
	if refusal(he) {
		return fmt.Errorf("%w: %w", backend.ErrRefused, he)
	}
	return classify(http.MethodDelete, he)
}

// refusal reports whether a DELETE's answer is one of the registry's own
// rules refusing this one manifest or tag (kept and reported; the run goes
// on) rather than a lack of permission, which stops the run:
//   - Harbor tag immutability: 412 Precondition Failed;
//   - GitLab protected and immutable container tags: 403 DENIED saying
//     the tag is protected or immutable.
func refusal(he *backend.HTTPError) bool {
	switch he.StatusCode {
	case http.StatusPreconditionFailed:
		return true
	case http.StatusForbidden:
		m := strings.ToLower(he.Message)
		return he.Code == "DENIED" && (strings.Contains(m, "protected") || strings.Contains(m, "immutable"))
	}
	return false
}

// Untag implements backend.Backend: DELETE by tag (OCI distribution spec
// 1.1). Registries without it answer 400 DIGEST_INVALID (distribution 2.8)
// or 405/UNSUPPORTED: ErrUnsupported, the tag stays.
func (b *Backend) Untag(ctx context.Context, tag string, m *graph.Manifest) error {
	if !ValidTag(tag) {
		return fmt.Errorf("untag %q: not a valid tag", httpapi.Clip(tag))
	}
	u := b.url("manifests/" + tag)
	resp, err := b.do(ctx, http.MethodDelete, u, "")
	if err != nil {
		return fmt.Errorf("untag %s: %w", tag, err)
	}
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK, http.StatusNoContent:
		resp.Body.Close()
		return nil
	}
	he := api().Error(resp)
	if he.StatusCode == http.StatusMethodNotAllowed || he.Code == "UNSUPPORTED" ||
		(he.StatusCode == http.StatusBadRequest && he.Code == "DIGEST_INVALID") {
		return fmt.Errorf("untag %s: %w: %w", tag, backend.ErrUnsupported, he)
	}
	if refusal(he) {
		return fmt.Errorf("untag %s: %w: %w", tag, backend.ErrRefused, he)
	}
	return classify("untag "+tag, he)
}

var _ backend.TagResolver = (*Backend)(nil)

// ResolveTag implements backend.TagResolver: one HEAD (GET where the
// registry gives no digest).
func (b *Backend) ResolveTag(ctx context.Context, tag string) (string, error) {
	if !ValidTag(tag) {
		return "", fmt.Errorf("resolve %q: not a valid tag", httpapi.Clip(tag))
	}
	r, err := b.resolveTag(ctx, tag, false)
	if errors.Is(err, errTagGone) {
		return "", fmt.Errorf("resolve %s: %w", tag, backend.ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	return r.digest, nil
}

// ProbeUntag implements backend.Backend. It asks to delete a tag that does
// not exist: a random name, first checked with HEAD to be absent, so the
// probe cannot remove anything. Measured answers to the DELETE:
//   - distribution 3: 404 MANIFEST_UNKNOWN -> Yes (it untags real tags);
//   - distribution 2.8: 400 DIGEST_INVALID -> No (only digests);
//   - 405 or UNSUPPORTED -> No.
func (b *Backend) ProbeUntag(ctx context.Context) (graph.Tri, error) {
	b.mu.Lock()
	known := b.untag
	b.mu.Unlock()
	if known != graph.Unknown {
		return known, nil
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	tag := "regsweep-probe-" + hex.EncodeToString(rnd[:])
	u := b.url("manifests/" + tag)

	resp, err := b.do(ctx, http.MethodHead, u, acceptManifests)
	if err != nil {
		return graph.Unknown, fmt.Errorf("probe tag deletion: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		// Anything but "no such tag" and we do not send a DELETE.
		b.opts.Logf("%s: probe tag deletion: HEAD of a random tag answered %d; not probing further", b.repo.Name(), resp.StatusCode)
		return graph.Unknown, nil
	}

	resp, err = b.do(ctx, http.MethodDelete, u, "")
	if err != nil {
		return graph.Unknown, fmt.Errorf("probe tag deletion: %w", err)
	}
	var got graph.Tri
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusAccepted, http.StatusOK, http.StatusNoContent:
		resp.Body.Close()
		got = graph.Yes
	default:
		he := api().Error(resp)
		switch {
		case he.StatusCode == http.StatusUnauthorized, he.StatusCode == http.StatusForbidden:
			return graph.Unknown, classify("probe tag deletion", he)
		case he.StatusCode == http.StatusMethodNotAllowed, he.Code == "UNSUPPORTED", he.Code == "DIGEST_INVALID":
			got = graph.No
		default:
			b.opts.Logf("%s: probe tag deletion: %v; assuming tags cannot be removed alone", b.repo.Name(), he)
			return graph.Unknown, nil
		}
	}
	b.opts.Logf("%s: probe tag deletion: DELETE of an absent tag answered %d, so tags can be removed alone: %s", b.repo.Name(), resp.StatusCode, got)
	b.mu.Lock()
	b.untag = got
	b.mu.Unlock()
	return got, nil
}

// disabledError says deletion is off and how to turn it on; the registry's
// own answer stays reachable with errors.As but is not printed, since the
// status line adds nothing the hint does not say better.
type disabledError struct{ he *backend.HTTPError }

func (e *disabledError) Error() string {
	return backend.ErrDeleteDisabled.Error() + ": " + deleteDisabledHint
}

func (e *disabledError) Unwrap() []error { return []error{backend.ErrDeleteDisabled, e.he} }
