// Package seed builds small, deterministic images, multi-arch indexes and
// cosign-style signatures and pushes them to a registry. Tests, the demo and
// the benchmark use it so that digests are stable across runs.
package seed

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image returns a deterministic single-platform image: the same id and
// created time always give the same digest. It is an OCI manifest with a
// config whose `created` is set and one tiny layer.
func Image(id string, created time.Time) v1.Image {
	return ImagePlatform(id, created, "linux", "amd64")
}

// ImagePlatform is Image for a given platform.
func ImagePlatform(id string, created time.Time, os, arch string) v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	layer := static.NewLayer([]byte("regsweep test layer "+id), types.OCILayer)
	img, err := mutate.AppendLayers(img, layer)
	if err != nil {
		panic(err) // static layers cannot fail
	}
	cf, err := img.ConfigFile()
	if err != nil {
		panic(err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created.UTC()}
	cf.OS, cf.Architecture = os, arch
	cf.Config.Labels = map[string]string{"regsweep.test/id": id}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		panic(err)
	}
	return img
}

// DockerImage returns a deterministic Docker schema2 image (the media type
// old registries and `docker push` use).
func DockerImage(id string, created time.Time) v1.Image {
	img := mutate.MediaType(Image(id, created), types.DockerManifestSchema2)
	return mutate.ConfigMediaType(img, types.DockerConfigJSON)
}

// Index returns a multi-platform OCI index over the given images, each
// annotated with its platform from the image config.
func Index(imgs ...v1.Image) v1.ImageIndex {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			panic(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture},
			},
		})
	}
	return idx
}

// Signature returns a cosign-style signature artifact for a subject: an OCI
// manifest whose layer names the subject digest, so each subject gets its
// own signature digest.
func Signature(subject v1.Hash) v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	layer := static.NewLayer([]byte(`{"critical":{"image":{"docker-manifest-digest":"`+subject.String()+`"}}}`),
		"application/vnd.dev.cosign.simplesigning.v1+json")
	img, err := mutate.AppendLayers(img, layer)
	if err != nil {
		panic(err)
	}
	return img
}

// SignatureFor is a cosign signature with the payload cosign writes: its
// critical.identity.docker-reference names the repository the subject was
// signed in (host/path), also when the signature is stored in another
// repository (COSIGN_REPOSITORY).
func SignatureFor(repository string, subject v1.Hash) v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	payload := fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`,
		repository, subject.String())
	img, err := mutate.AppendLayers(img, static.NewLayer([]byte(payload), "application/vnd.dev.cosign.simplesigning.v1+json"))
	if err != nil {
		panic(err)
	}
	return img
}

// SignatureTag is cosign's tag for a subject's signature: sha256-<hex>.sig.
func SignatureTag(subject v1.Hash) string {
	return fmt.Sprintf("%s-%s.sig", subject.Algorithm, subject.Hex)
}

// Pusher pushes to one repository on one registry, reusing one
// authenticated transport.
type Pusher struct {
	repo name.Repository
	p    *remote.Pusher
	rt   http.RoundTripper
}

// NewPusher returns a Pusher for host/path ("127.0.0.1:5000/team/app").
// A nil transport means http.DefaultTransport.
func NewPusher(ctx context.Context, repository string, rt http.RoundTripper) (*Pusher, error) {
	repo, err := name.NewRepository(repository, name.Insecure)
	if err != nil {
		return nil, err
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	p, err := remote.NewPusher(remote.WithContext(ctx), remote.WithTransport(rt))
	if err != nil {
		return nil, err
	}
	return &Pusher{repo: repo, p: p, rt: rt}, nil
}

// Image pushes img under tag and returns its digest.
func (p *Pusher) Image(ctx context.Context, tag string, img v1.Image) (v1.Hash, error) {
	if err := p.p.Push(ctx, p.repo.Tag(tag), img); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", tag, err)
	}
	return img.Digest()
}

// Index pushes idx (and its children) under tag and returns its digest.
func (p *Pusher) Index(ctx context.Context, tag string, idx v1.ImageIndex) (v1.Hash, error) {
	if err := p.p.Push(ctx, p.repo.Tag(tag), idx); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", tag, err)
	}
	return idx.Digest()
}

// Tag points an extra tag at an already pushed image or index with one
// manifest PUT (go-containerregistry's push asks first whether the tag
// exists: a second request, and seeding thousands of tags is what many
// tests spend their time on). Where that PUT is refused (blobs not pushed
// yet, a token wanted) the full push runs.
func (p *Pusher) Tag(ctx context.Context, tag string, m remote.Taggable) error {
	raw, err := m.RawManifest()
	if err != nil {
		return fmt.Errorf("tag %s: %w", tag, err)
	}
	mt := types.OCIManifestSchema1
	if d, ok := m.(interface {
		MediaType() (types.MediaType, error)
	}); ok {
		if mt, err = d.MediaType(); err != nil {
			return fmt.Errorf("tag %s: %w", tag, err)
		}
	}
	u := url.URL{Scheme: p.repo.Scheme(), Host: p.repo.RegistryStr(), Path: "/v2/" + p.repo.RepositoryStr() + "/manifests/" + tag}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("tag %s: %w", tag, err)
	}
	req.Header.Set("Content-Type", string(mt))
	resp, err := p.rt.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("tag %s: %w", tag, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return nil
	}
	if err := p.p.Push(ctx, p.repo.Tag(tag), m); err != nil {
		return fmt.Errorf("tag %s: %w", tag, err)
	}
	return nil
}

// Sign pushes a cosign-style signature for subject under its .sig tag.
func (p *Pusher) Sign(ctx context.Context, subject v1.Hash) (v1.Hash, error) {
	return p.Image(ctx, SignatureTag(subject), Signature(subject))
}

// Demo pushes five PR previews and three releases. pr-5 is the same
// image as latest, v1.2.0 is a two-platform index with a cosign-style
// signature, pr-2 is signed too.
func Demo(ctx context.Context, repo string) error {
	p, err := NewPusher(ctx, repo, nil)
	if err != nil {
		return err
	}
	day := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= 4; i++ {
		if _, err := p.Image(ctx, fmt.Sprintf("pr-%d", i), Image(fmt.Sprintf("pr-%d", i), day.AddDate(0, 0, i))); err != nil {
			return err
		}
	}
	shared := Image("main", day.AddDate(0, 0, 10))
	for _, t := range []string{"pr-5", "latest"} {
		if _, err := p.Image(ctx, t, shared); err != nil {
			return err
		}
	}
	for i, v := range []string{"v1.0.0", "v1.1.0"} {
		if _, err := p.Image(ctx, v, Image(v, day.AddDate(0, -2+i, 0))); err != nil {
			return err
		}
	}
	idx := Index(
		ImagePlatform("v1.2.0", day, "linux", "amd64"),
		ImagePlatform("v1.2.0", day, "linux", "arm64"),
	)
	d, err := p.Index(ctx, "v1.2.0", idx)
	if err != nil {
		return err
	}
	if _, err := p.Sign(ctx, d); err != nil {
		return err
	}
	pr2, err := Image("pr-2", day.AddDate(0, 0, 2)).Digest()
	if err != nil {
		return err
	}
	_, err = p.Sign(ctx, pr2)
	return err
}
