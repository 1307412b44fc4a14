package ggcrtest

import (
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/faults"
)

// TestRefusalKeepsImageWhole: on a registry with the referrers API, a
// refused subject keeps the referrers only the API names (deleted before
// it, then put back by digest), and a refused platform manifest keeps its
// index and the other platform manifest, for each refusal kind; the rest of
// the sweep goes as planned.
func TestRefusalKeepsImageWhole(t *testing.T) {
	for _, kind := range []faults.Refusal{faults.HarborImmutable, faults.GitLabProtected, faults.GitLabImmutable} {
		t.Run(kind.Name+"-subject-keeps-referrers", func(t *testing.T) {
			inj := faults.New(1)
			var pages atomic.Int64
			paged := referrersPages(100, &pages)
			repo := start(t, func(h http.Handler) http.Handler { return inj.Wrap(paged(h)) }) + "/app"
			p := newPusher(t, repo)
			pr1 := p.image("pr-1", "pr-1")
			sbom := p.referrer(typeSBOM, pr1)
			sig := p.referrer(typeSig, sbom)
			pr2 := p.image("pr-2", "pr-2")
			sbom2 := p.referrer(typeSBOM, pr2)
			latest := p.image("latest", "main")
			inj.Add(faults.Refuse(kind, "app", pr1.Digest.String()))
			res := sweepRefused(t, repo)
			mustBe(t, repo, []v1.Descriptor{pr2, sbom2}, []v1.Descriptor{pr1, sbom, sig, latest})
			if got := e2e.State(t, repo); got["pr-1"] != pr1.Digest.String() || got["latest"] != latest.Digest.String() {
				t.Errorf("tags after the run = %v, want pr-1 (refused) and latest", got)
			}
			if got := listReferrers(t, repo, pr1, typeSBOM); !reflect.DeepEqual(got, digests(sbom)) {
				t.Errorf("referrers of pr-1 after the run = %v, want its SBOM %s", got, sbom.Digest)
			}
			wantDigests(t, res, pr2, sbom2)
		})
		t.Run(kind.Name+"-child-keeps-index", func(t *testing.T) {
			inj := faults.New(1)
			repo := start(t, inj.Wrap) + "/app"
			p := newPusher(t, repo)
			idx, children := p.index("pr-1", "pr-1")
			sbom := p.referrer(typeSBOM, idx)
			other, otherChildren := p.index("pr-3", "pr-3")
			latest := p.image("latest", "main")
			inj.Add(faults.Refuse(kind, "app", children[0].Digest.String()))
			res := sweepRefused(t, repo)
			mustBe(t, repo, append([]v1.Descriptor{other}, otherChildren...), append([]v1.Descriptor{idx, sbom, latest}, children...))
			if got := e2e.State(t, repo); got["pr-1"] != idx.Digest.String() {
				t.Errorf("tags after the run = %v, want pr-1 on its index %s", got, idx.Digest)
			}
			wantDigests(t, res, append([]v1.Descriptor{other}, otherChildren...)...)
		})
	}
}

// sweepRefused sweeps pr-* and checks what one refusal means: exit 0, one
// refusal counted and warned, no failure.
func sweepRefused(t *testing.T, repo string) e2e.Result {
	t.Helper()
	res := run(t, repo, 0, map[string]string{"tags": "pr-*"})
	if res.Outputs["refused-count"] != "1" || res.Outputs["failed-count"] != "0" {
		t.Errorf("refused-count = %s, failed-count = %s; want 1 and 0\n%s", res.Outputs["refused-count"], res.Outputs["failed-count"], res.Log)
	}
	if n := strings.Count(res.Log, "::warning::refused"); n != 1 || strings.Contains(res.Log, "::error::") {
		t.Errorf("%d refusal warnings, want 1 and no error:\n%s", n, res.Log)
	}
	return res
}

// wantDigests checks deleted-digests: exactly ds, none of what was put back.
func wantDigests(t *testing.T, res e2e.Result, ds ...v1.Descriptor) {
	t.Helper()
	got := res.Strings(t, "deleted-digests")
	slices.Sort(got)
	if want := digests(ds...); !reflect.DeepEqual(got, want) {
		t.Errorf("deleted-digests = %v, want %v\n%s", got, want, res.Log)
	}
}

// TestRefusalUntagFirst: with the tags of doomed manifests removed first
// (the untag-first schedule, forced), a refused manifest gets back every
// tag removed ahead of it, on the same digest, and a refused subject its
// referrers too; deleted-tags, kept-tags and the record file say what the
// registry holds, and nothing is reported left untagged.
func TestRefusalUntagFirst(t *testing.T) {
	for _, withReferrer := range []bool{false, true} {
		name := "image"
		if withReferrer {
			name = "subject-with-referrer"
		}
		t.Run(name, func(t *testing.T) {
			inj := faults.New(1)
			repo := start(t, inj.Wrap) + "/app"
			p := newPusher(t, repo)
			pr1 := p.image("pr-1", "pr-1")
			p.image("pr-1b", "pr-1") // a second tag on the refused image
			kept := []v1.Descriptor{pr1}
			if withReferrer {
				kept = append(kept, p.referrer(typeSBOM, pr1))
			}
			pr2 := p.image("pr-2", "pr-2")
			latest := p.image("latest", "main")
			inj.Add(faults.Refuse(faults.HarborImmutable, "app", pr1.Digest.String()))
			recPath := filepath.Join(t.TempDir(), "record.json")
			res := e2e.RunWith(t, e2e.Options{UntagFirstAt: 1}, map[string]string{"repository": repo, "tags": "pr-*", "record": recPath})
			if res.Code != 0 {
				t.Fatalf("exit %d, want 0\n%s", res.Code, res.Log)
			}
			if res.Outputs["refused-count"] != "1" || res.Outputs["failed-count"] != "0" {
				t.Errorf("refused-count = %s, failed-count = %s; want 1 and 0\n%s", res.Outputs["refused-count"], res.Outputs["failed-count"], res.Log)
			}
			if !strings.Contains(res.Log, "removed ahead of the deletion are put back: pr-1, pr-1b") {
				t.Errorf("the refusal's warning does not say its tags were put back:\n%s", res.Log)
			}
			mustBe(t, repo, []v1.Descriptor{pr2}, append(kept, latest))
			want := map[string]string{"pr-1": pr1.Digest.String(), "pr-1b": pr1.Digest.String(), "latest": latest.Digest.String()}
			if got := e2e.State(t, repo); !reflect.DeepEqual(got, want) {
				t.Errorf("tags after the run = %v, want %v\n%s", got, want, res.Log)
			}
			rec := e2e.ReadRecord(t, recPath)
			for _, got := range [][]string{res.Tags(t, "deleted-tags"), e2e.BareTags(t, rec.DeletedTags)} {
				if !reflect.DeepEqual(got, []string{"pr-2"}) {
					t.Errorf("deleted-tags = %v, want [pr-2] (the tags put back are not deleted)", got)
				}
			}
			var keptTags []report.KeptTag
			res.JSON(t, "kept-tags", &keptTags)
			var restored []string
			for _, k := range keptTags {
				if k.Digest == pr1.Digest.String() && k.Rule == "restored" {
					restored = append(restored, k.Tag)
				}
			}
			slices.Sort(restored)
			if !reflect.DeepEqual(restored, []string{"pr-1", "pr-1b"}) || len(keptTags) != 2 {
				t.Errorf("kept-tags = %+v, want pr-1 and pr-1b, restored", keptTags)
			}
			for _, rp := range rec.Repositories {
				if len(rp.LeftUntagged) > 0 {
					t.Errorf("record left-untagged = %v, but the tags were put back", rp.LeftUntagged)
				}
			}
			wantDigests(t, res, pr2)
		})
	}
}
