package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/regsweep/regsweep/internal/testregistry/seed"
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
