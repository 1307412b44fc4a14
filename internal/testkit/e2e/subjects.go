package e2e

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// ghostDigest is the digest of an image that is never pushed.
func ghostDigest(t *testing.T, id string) string {
	t.Helper()
	h, err := seed.Image(id, day0).Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// pushSignature stores a cosign signature of subject under cosign's tag.
// names is the repository its payload names ("" for none).
func pushSignature(t *testing.T, p *seed.Pusher, names, subject string) (tag, digest string) {
	t.Helper()
	h, err := v1.NewHash(subject)
	if err != nil {
		t.Fatal(err)
	}
	img := seed.Signature(h)
	if names != "" {
		img = seed.SignatureFor(names, h)
	}
	d, err := p.Image(context.Background(), seed.SignatureTag(h), img)
	if err != nil {
		t.Fatal(err)
	}
	return seed.SignatureTag(h), d.String()
}

// orphansProven: a signature is deleted as an orphan only when its subject
// answers 404 in this repository and the signature names this repository.
// The signature of an image that exists untagged (its tag moved on), of an
// image in another repository (COSIGN_REPOSITORY) and of an image it does
// not name stay, with a pr-* sweep and with untagged on (which this
// registry cannot list).
func orphansProven(t *testing.T, reg *Registry, _ *snaps.Config) {
	for _, untagged := range []bool{false, true} {
		t.Run(fmt.Sprintf("untagged=%v", untagged), func(t *testing.T) {
			repo := fmt.Sprintf("%s/orphans-%v", reg.Host, untagged)
			p := pusher(t, repo)
			hidden := push(t, p, "base", "orphans-untagged-subject")
			base := push(t, p, "base", "orphans-base") // the tag moves on: hidden stays, untagged
			pr := push(t, p, "pr-1", "orphans-pr")
			sigHiddenTag, sigHidden := pushSignature(t, p, repo, hidden)
			sigGoneTag, sigGone := pushSignature(t, p, repo, ghostDigest(t, "orphans-gone"))
			sigElsewhereTag, sigElsewhere := pushSignature(t, p, reg.Host+"/orphans-images", ghostDigest(t, "orphans-elsewhere"))
			sigAnonTag, sigAnon := pushSignature(t, p, "", ghostDigest(t, "orphans-unnamed"))

			res := RunAction(t, map[string]string{"repository": repo, "tags": "pr-*", "untagged": fmt.Sprint(untagged)})
			if res.Code != 0 {
				t.Fatalf("exit %d\n%s", res.Code, res.Log)
			}
			if got, want := res.Strings(t, "deleted-digests"), slices.Sorted(slices.Values([]string{pr, sigGone})); !slices.Equal(got, want) {
				t.Errorf("deleted-digests = %v, want %v (pr-1 and the proven orphan)", got, want)
			}
			want := map[string]string{"base": base, sigHiddenTag: sigHidden, sigElsewhereTag: sigElsewhere, sigAnonTag: sigAnon}
			if got := State(t, repo); !maps.Equal(got, want) {
				t.Errorf("tags after the run = %v, want %v", got, want)
			}
			if !Exists(t, repo, hidden) {
				t.Error("the untagged subject was deleted")
			}
			if Exists(t, repo, sigGone) {
				t.Errorf("the proven orphan %s (%s) is still there", sigGone, sigGoneTag)
			}
			for _, why := range []string{"1 name another repository", "1 name no repository"} {
				if !strings.Contains(res.Summary, why) {
					t.Errorf("the summary does not say why a signature stays (%q):\n%s", why, res.Summary)
				}
			}
		})
	}
}

// cosignRepository: signatures kept apart from their images
// (COSIGN_REPOSITORY) survive a wildcard sweep whose pattern never matched
// them; the images' own sweep goes as asked.
func cosignRepository(t *testing.T, reg *Registry, _ *snaps.Config) {
	images, sigs := reg.Host+"/cosignrepo/app", reg.Host+"/cosignrepo/sigs"
	pi, ps := pusher(t, images), pusher(t, sigs)
	v1d := push(t, pi, "v1", "cosignrepo-v1")
	pr := push(t, pi, "pr-1", "cosignrepo-pr")
	sigV1Tag, sigV1 := pushSignature(t, ps, images, v1d)
	sigPrTag, sigPr := pushSignature(t, ps, images, pr)

	res := RunAction(t, map[string]string{"repository": reg.Host + "/cosignrepo/*", "tags": "pr-*"})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got := res.Strings(t, "deleted-digests"); !slices.Equal(got, []string{pr}) {
		t.Errorf("deleted-digests = %v, want only pr-1's %s", got, pr)
	}
	if got, want := State(t, sigs), map[string]string{sigV1Tag: sigV1, sigPrTag: sigPr}; !maps.Equal(got, want) {
		t.Errorf("signatures repository after the run = %v, want %v", got, want)
	}
	if got, want := State(t, images), map[string]string{"v1": v1d}; !maps.Equal(got, want) {
		t.Errorf("images repository after the run = %v, want %v", got, want)
	}
}

// sbomOf is an SBOM-like artifact whose subject field names subject.
func sbomOf(t *testing.T, id string, subject v1.Image) v1.Image {
	t.Helper()
	d, err := partial.Descriptor(subject)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Subject(seed.Image(id, day0), *d).(v1.Image)
}

// pushFallback writes the OCI referrers fallback index of subject, listing
// refs, as a client does where the registry has no referrers API.
func pushFallback(t *testing.T, p *seed.Pusher, subject string, refs ...v1.Image) {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, r := range refs {
		d, err := partial.Descriptor(r)
		if err != nil {
			t.Fatal(err)
		}
		d.ArtifactType = "application/spdx+json"
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: r, Descriptor: *d})
	}
	if _, err := p.Index(context.Background(), strings.Replace(subject, ":", "-", 1), idx); err != nil {
		t.Fatal(err)
	}
}

// subjectsOneWay: a manifest's own subject field is read whatever the flags
// and whether or not a fallback tag also names it, so each case gives one
// plan: an SBOM tagged pr-sbom whose subject is the kept v1.0.0 stays; an
// image whose SBOM carries a tag the sweep does not match stays too (its
// pr-2 tag is only untagged, or kept where the registry cannot untag).
func subjectsOneWay(t *testing.T, reg *Registry, _ *snaps.Config) {
	for _, fallback := range []bool{false, true} {
		for _, olderThan := range []string{"", "1h"} {
			name := fmt.Sprintf("fallback=%v/older-than=%q", fallback, olderThan)
			t.Run(name, func(t *testing.T) {
				repo := fmt.Sprintf("%s/oneway-%v-age%s", reg.Host, fallback, olderThan)
				p := pusher(t, repo)
				// The case: pr-sbom is an SBOM of the kept v1.0.0.
				v1img := seed.Image("oneway-v1.0.0", day0)
				v1d := pushImage(t, p, "v1.0.0", v1img)
				sbom := sbomOf(t, "oneway-sbom-v1", v1img)
				sbomD := putManifest(t, repo, "pr-sbom", sbom)
				// An image whose SBOM carries a tag the sweep does not match.
				x := seed.Image("oneway-x", day0)
				xd := pushImage(t, p, "pr-2", x)
				xsbom := sbomOf(t, "oneway-sbom-x", x)
				xsbomD := putManifest(t, repo, "sbom-x", xsbom)
				pr1 := pushImage(t, p, "pr-1", seed.Image("oneway-pr-1", day0))
				if fallback {
					pushFallback(t, p, v1d, sbom)
					pushFallback(t, p, xd, xsbom)
				}

				res := RunAction(t, map[string]string{"repository": repo, "tags": "pr-*", "older-than": olderThan})
				if res.Code != 0 {
					t.Fatalf("exit %d\n%s", res.Code, res.Log)
				}
				if got := res.Strings(t, "deleted-digests"); !slices.Equal(got, []string{pr1}) {
					t.Errorf("deleted-digests = %v, want only pr-1's %s", got, pr1)
				}
				for what, d := range map[string]string{"v1.0.0": v1d, "pr-sbom (an SBOM of v1.0.0)": sbomD, "x (its SBOM is kept)": xd, "sbom-x": xsbomD} {
					if !Exists(t, repo, d) {
						t.Errorf("%s (%s) was deleted", what, d)
					}
				}
				// Where the registry can remove a tag alone, the matching
				// tags on kept manifests go; where it cannot, they stay.
				st := State(t, repo)
				for _, tag := range []string{"pr-sbom", "pr-2"} {
					if _, still := st[tag]; still == (reg.Generation == 3) {
						t.Errorf("tag %s still there: %v (registry can untag: %v)", tag, still, (reg.Generation == 3))
					}
				}
			})
		}
	}
}

func pushImage(t *testing.T, p *seed.Pusher, tag string, img v1.Image) string {
	t.Helper()
	d, err := p.Image(context.Background(), tag, img)
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// putManifest pushes img under tag with a plain PUT, so that no referrers
// fallback tag is written for its subject (go-containerregistry's remote
// writes one where the registry has no referrers API).
func putManifest(t *testing.T, repo, tag string, img v1.Image) string {
	t.Helper()
	r, err := name.NewRepository(repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range append(layers, static.NewLayer(cfg, types.OCIConfigJSON)) {
		if err := remote.WriteLayer(r, l); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, fmt.Sprintf("http://%s/v2/%s/manifests/%s", r.RegistryStr(), r.RepositoryStr(), tag), bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", string(mt))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("put %s:%s: %s", repo, tag, resp.Status)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}
