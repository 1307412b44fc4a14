package oci

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
)

// Layer media types of cosign's signatures and attestations, whose payloads
// name the image they are about.
const (
	simpleSigningType = "application/vnd.dev.cosign.simplesigning.v1+json"
	dsseEnvelopeType  = "application/vnd.dsse.envelope.v1+json"
)

// checkSubjects looks up, at the last look before the plan, the subject of
// every referrer whose subject discovery has not seen: an orphan is
// proven, never assumed. A subject that answers 200 exists (untagged) and
// keeps its referrers; one that answers 404 is recorded in Absent, and a
// cosign signature or attestation of it is read to learn which repository
// it is about (cosign's COSIGN_REPOSITORY keeps them apart from their
// images, where their subject always answers 404).
func (d *discovery) checkSubjects(ctx context.Context) error {
	d.mu.Lock()
	seen := map[string]bool{}
	for _, dg := range d.g.Tags {
		seen[dg] = true
	}
	for _, m := range d.g.Manifests {
		if m.Kind != graph.KindUnknown || m.Listed || m.Exists {
			seen[m.Digest] = true
		}
		for _, c := range m.Children {
			seen[c] = true
		}
	}
	bySubject := map[string][]string{}
	var subjects []string
	for _, dg := range d.g.SortedDigests() {
		s := d.g.Manifests[dg].Subject
		if s == "" || s == dg || seen[s] || !ValidDigest(s) {
			continue
		}
		if bySubject[s] == nil {
			subjects = append(subjects, s)
		}
		bySubject[s] = append(bySubject[s], dg)
	}
	d.mu.Unlock()
	if len(subjects) == 0 {
		return nil
	}
	d.b.opts.Logf("%s: looking up %d subject(s) of referrers that no tag or index names", d.b.repo.Name(), len(subjects))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(d.b.opts.Concurrency)
	for _, s := range subjects {
		eg.Go(func() error {
			mt, exists, err := d.b.headManifest(ectx, s)
			if err != nil {
				return err
			}
			if exists {
				d.mu.Lock()
				defer d.mu.Unlock()
				m := d.g.Manifest(s)
				m.Exists = true
				if m.MediaType == "" {
					m.MediaType, m.Kind = mt, kindOf(mt)
				}
				return nil
			}
			d.mu.Lock()
			d.g.Absent[s] = true
			var unplaced []string
			for _, r := range bySubject[s] {
				if d.g.Manifests[r].SubjectRepository == "" {
					unplaced = append(unplaced, r)
				}
			}
			d.mu.Unlock()
			for _, r := range unplaced {
				repo, err := d.payloadRepository(ectx, r, s)
				if err != nil {
					return err
				}
				if repo != "" {
					d.mu.Lock()
					d.g.Manifests[r].SubjectRepository = repo
					d.mu.Unlock()
				}
			}
			return nil
		})
	}
	return eg.Wait()
}

// headManifest asks whether a manifest exists, by digest.
func (b *Backend) headManifest(ctx context.Context, digest string) (mediaType string, exists bool, err error) {
	u := b.url("manifests/" + digest)
	resp, err := b.do(ctx, http.MethodHead, u, acceptManifests)
	if err != nil {
		return "", false, fmt.Errorf("look up %s: %w", digest, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return mediaTypeOf(resp.Header.Get("Content-Type")), true, nil
	case http.StatusNotFound:
		return "", false, nil
	}
	return "", false, classify("look up "+digest, &backend.HTTPError{Method: http.MethodHead, URL: sanitizeURL(u), StatusCode: resp.StatusCode})
}

// payloadRepository reads which repository a cosign signature (its
// simple-signing payload's docker-reference) or attestation (its in-toto
// statement's subject name) says subject lives in, normalised like
// Graph.Repository; "" when it says none.
func (d *discovery) payloadRepository(ctx context.Context, referrer, subject string) (string, error) {
	doc, err := d.manifest(ctx, referrer)
	if errors.Is(err, backend.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, l := range doc.Layers {
		if (l.MediaType != simpleSigningType && l.MediaType != dsseEnvelopeType) || !ValidDigest(l.Digest) {
			continue
		}
		body, err := d.b.getBlob(ctx, l.Digest, maxConfigBody)
		if err != nil || body == nil {
			return "", err
		}
		ref := ""
		if l.MediaType == simpleSigningType {
			ref = signedReference(body)
		} else {
			ref = attestedReference(body, subject)
		}
		if repo := normaliseRepository(ref); repo != "" {
			return repo, nil
		}
	}
	return "", nil
}

// signedReference is the docker-reference of a simple-signing payload.
func signedReference(body []byte) string {
	var p struct {
		Critical struct {
			Identity struct {
				DockerReference string `json:"docker-reference"`
			} `json:"identity"`
		} `json:"critical"`
	}
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return p.Critical.Identity.DockerReference
}

// attestedReference is the name an in-toto statement inside a DSSE
// envelope gives the subject with this digest.
func attestedReference(body []byte, subject string) string {
	var env struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(body, &env) != nil {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return ""
	}
	var st struct {
		Subject []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if json.Unmarshal(raw, &st) != nil {
		return ""
	}
	alg, hex, _ := strings.Cut(subject, ":")
	for _, s := range st.Subject {
		if s.Digest[alg] == hex {
			return s.Name
		}
	}
	return ""
}

// normaliseRepository gives a reference's repository the way Graph.Repository
// is written (host[:port]/path), or "" when it is not a reference.
func normaliseRepository(ref string) string {
	if ref == "" {
		return ""
	}
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return ""
	}
	return r.Context().Name()
}

// getBlob GETs a blob, bounded; nil when the registry does not have it.
func (b *Backend) getBlob(ctx context.Context, digest string, limit int64) ([]byte, error) {
	u := b.url("blobs/" + digest)
	resp, err := b.do(ctx, http.MethodGet, u, "")
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", digest, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		he := api().Error(resp)
		if he.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return nil, classify("read blob "+digest, he)
	}
	return api().ReadBody(resp, limit)
}
