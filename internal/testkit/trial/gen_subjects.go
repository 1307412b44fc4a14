package trial

import (
	"fmt"
	"math/rand/v2"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// addSubjectReferrer adds an SBOM that names its subject only in its own
// subject field, reachable by a tag of its own (one a policy may match,
// like pr-3-sbom, or not, like sbom-3), by the subject's OCI referrers
// fallback index sha256-<hex> (as a client writes it where the registry
// has no referrers API), or both. The model reads every source alike: the
// plan must not depend on which one the registry offers.
func addSubjectReferrer(r *rand.Rand, l *layout, add func(*obj) int, subject *obj, n int, created time.Time) {
	h, err := v1.NewHash(subject.Digest)
	if err != nil {
		panic(err)
	}
	desc, err := descriptorOf(subject)
	if err != nil {
		panic(err)
	}
	o := &obj{Kind: kRef, ID: fmt.Sprintf("sbom-%d", n), Created: created, Subject: subject.Digest, Names: l.Repo, Untagged: true}
	img := seed.Image(o.ID, created)
	o.img = mutate.Subject(img, desc).(v1.Image)
	o.Digest = digestOf(o.img.Digest())
	j := add(o)
	tagged, fallback := true, true
	switch r.IntN(3) {
	case 0:
		fallback = false
	case 1:
		tagged = false
	}
	if tagged {
		l.Tags[fmt.Sprintf([]string{"pr-%d-sbom", "sbom-%d", "pr-sbom-%d"}[r.IntN(3)], n)] = j
	}
	if fallback {
		idx, err := fallbackIndex(o.img)
		if err != nil {
			panic(err)
		}
		f := &obj{Kind: kFallback, ID: "fallback-" + o.ID, Subject: subject.Digest, Names: l.Repo, idx: idx}
		f.Digest = digestOf(idx.Digest())
		l.Tags[fmt.Sprintf("%s-%s", h.Algorithm, h.Hex)] = add(f)
	}
}

// descriptorOf describes a pushed object, for a subject field.
func descriptorOf(o *obj) (v1.Descriptor, error) {
	var m interface {
		Size() (int64, error)
		MediaType() (types.MediaType, error)
	} = o.img
	if o.idx != nil {
		m = o.idx
	}
	size, err := m.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := m.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	h, err := v1.NewHash(o.Digest)
	return v1.Descriptor{MediaType: mt, Digest: h, Size: size}, err
}

// fallbackIndex is the OCI referrers fallback index listing ref.
func fallbackIndex(ref v1.Image) (v1.ImageIndex, error) {
	d, err := ref.Digest()
	if err != nil {
		return nil, err
	}
	size, err := ref.Size()
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	return mutate.AppendManifests(idx, mutate.IndexAddendum{Add: ref, Descriptor: v1.Descriptor{
		MediaType: types.OCIManifestSchema1, Digest: d, Size: size, ArtifactType: "application/spdx+json",
	}}), nil
}
