package apply

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
)

// restoring is the fake with backend.Restorer and backend.TagResolver: it
// saves and puts back manifests, and says where each tag is now.
type restoring struct {
	*fake
	rmu      sync.Mutex
	saved    []string
	restored []string            // "digest tag,tag" in order
	tagNow   map[string]string   // ResolveTag: tag -> digest; absent: gone
	failPut  map[string]error    // by digest
	failSave map[string]error    // by digest
	order    map[string][]string // digest -> calls in order ("save", "delete")
}

func newRestoring() *restoring {
	return &restoring{fake: newFake(), tagNow: map[string]string{}, failPut: map[string]error{}, failSave: map[string]error{}, order: map[string][]string{}}
}

func (f *restoring) SaveManifest(_ context.Context, m *graph.Manifest) (backend.Saved, error) {
	f.rmu.Lock()
	defer f.rmu.Unlock()
	if err := f.failSave[m.Digest]; err != nil {
		return backend.Saved{}, err
	}
	f.saved = append(f.saved, m.Digest)
	f.order[m.Digest] = append(f.order[m.Digest], "save")
	return backend.Saved{Digest: m.Digest, MediaType: "application/vnd.oci.image.manifest.v1+json", Body: []byte(m.Digest)}, nil
}

func (f *restoring) DeleteManifest(ctx context.Context, m *graph.Manifest) error {
	f.rmu.Lock()
	f.order[m.Digest] = append(f.order[m.Digest], "delete")
	f.rmu.Unlock()
	return f.fake.DeleteManifest(ctx, m)
}

func (f *restoring) RestoreManifest(_ context.Context, s backend.Saved, tags []string) error {
	f.rmu.Lock()
	defer f.rmu.Unlock()
	if err := f.failPut[s.Digest]; err != nil {
		return err
	}
	if string(s.Body) != s.Digest {
		return errors.New("restored with the wrong content")
	}
	f.restored = append(f.restored, s.Digest+" "+strings.Join(tags, ","))
	return nil
}

func (f *restoring) ResolveTag(_ context.Context, tag string) (string, error) {
	f.rmu.Lock()
	defer f.rmu.Unlock()
	if d, ok := f.tagNow[tag]; ok {
		return d, nil
	}
	return "", backend.ErrNotFound
}

// TestRefusalPutsImageBack: the fixture's index I (pr-1, v1) has children
// C1, C2 and a signature S; A and B are deleted alone. A refusal of a
// member of I's image puts back what of it was deleted, children before
// the index before the signature, and skips what was not reached; A and B
// go as planned, and cost no save.
func TestRefusalPutsImageBack(t *testing.T) {
	kS, kA, kB, kI, kC1, kC2 := "delete:"+dS, "delete:"+dA, "delete:"+dB, "delete:"+dI, "delete:"+dC1, "delete:"+dC2
	refused := errors.New("refused")
	tests := []struct {
		name     string
		refuse   string
		tagNow   map[string]string
		want     map[string]Outcome
		restored []string
	}{
		{
			name:     "child-keeps-index-sibling-and-signature",
			refuse:   kC2,
			want:     map[string]Outcome{kS: Restored, kA: Deleted, kB: Deleted, kI: Restored, kC1: Restored, kC2: Refused},
			restored: []string{dC1 + " ", dI + " pr-1,v1", dS + " sig"},
		},
		{
			name:     "index-keeps-signature-children-skipped",
			refuse:   kI,
			want:     map[string]Outcome{kS: Restored, kA: Deleted, kB: Deleted, kI: Refused, kC1: Skipped, kC2: Skipped},
			restored: []string{dS + " sig"},
		},
		{
			name:     "signature-refused-nothing-to-put-back",
			refuse:   kS,
			want:     map[string]Outcome{kS: Refused, kA: Deleted, kB: Deleted, kI: Skipped, kC1: Skipped, kC2: Skipped},
			restored: nil,
		},
		{
			// A tag pushed onto another image since is left where it is.
			name:     "moved-tag-not-taken-back",
			refuse:   kC1,
			tagNow:   map[string]string{"v1": dK},
			want:     map[string]Outcome{kS: Restored, kA: Deleted, kB: Deleted, kI: Restored, kC1: Refused, kC2: Restored},
			restored: []string{dC2 + " ", dI + " pr-1", dS + " sig"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, p := fixture()
			f := newRestoring()
			f.errs[tt.refuse] = errors.Join(backend.ErrRefused, refused)
			for k, v := range tt.tagNow {
				f.tagNow[k] = v
			}
			res := Run(context.Background(), f, g, p, Options{Concurrency: 1})
			got := outcomes(res)
			delete(got, "untag:pr-2")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("outcomes = %v\nwant %v", got, tt.want)
			}
			if !reflect.DeepEqual(f.restored, tt.restored) {
				t.Errorf("put back %q, want %q", f.restored, tt.restored)
			}
			for _, d := range []string{dA, dB} {
				if slices.Contains(f.saved, d) {
					t.Errorf("%s, deleted alone, was saved first", d)
				}
			}
			for d, calls := range f.order {
				if d != dA && d != dB && calls[0] != "save" {
					t.Errorf("%s: %v, want save before delete", d, calls)
				}
			}
			for _, rec := range res.Records {
				if rec.Outcome == Restored && (rec.Tags != nil || !strings.Contains(rec.Reason, "put back")) {
					t.Errorf("restored record %+v: want no tags gone and the reason", rec)
				}
				if rec.Outcome == Refused && tt.restored != nil && !strings.Contains(rec.Reason, "kept whole") {
					t.Errorf("refused record %+v does not say its image was kept whole", rec)
				}
			}
		})
	}
}

// TestRefusalKeepsReferrerFoundByTag: a referrers index that only its
// truncated fallback tag links to a sha512 image (no subject field, as the
// GitHub Packages listing gives it) is deleted before its subject because
// the plan reads it as a referrer; so a refusal of the subject puts it back
// too, like a referrer by subject field.
func TestRefusalKeepsReferrerFoundByTag(t *testing.T) {
	img, dF := "sha512:"+strings.Repeat("ab", 64), dg(8)
	fallback := "sha512-" + strings.Repeat("ab", 32)
	g := graph.New("ghcr.io/o/app", "fake", graph.Capabilities{DeleteManifest: true, ListUntagged: true})
	g.SetTag("pr-1", img)
	g.SetTag(fallback, dF)
	g.Manifest(img).Kind = graph.KindImage
	g.Manifest(dF).Kind = graph.KindReferrer
	g.Finish()
	p := &plan.Plan{Repository: g.Repository, Backend: g.Backend, Phases: [][]plan.Op{{del(dF)}, {del(img)}}}
	f := newRestoring()
	f.errs["delete:"+img] = backend.ErrRefused
	res := Run(context.Background(), f, g, p, Options{Concurrency: 1})
	if got, want := outcomes(res), map[string]Outcome{"delete:" + dF: Restored, "delete:" + img: Refused}; !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes = %v, want %v", got, want)
	}
	if want := []string{dF + " " + fallback}; !reflect.DeepEqual(f.restored, want) {
		t.Errorf("put back %q, want %q", f.restored, want)
	}
}

// TestRefusalPutBackFails: a manifest that could not be put back stays
// recorded as deleted, with why, and the refusal's warning names it.
func TestRefusalPutBackFails(t *testing.T) {
	g, p := fixture()
	f := newRestoring()
	f.errs["delete:"+dI] = backend.ErrRefused
	f.failPut[dS] = errors.New("PUT failed: denied")
	res := Run(context.Background(), f, g, p, Options{Concurrency: 1})
	for _, rec := range res.Records {
		if rec.Op.Digest == dS && (rec.Outcome != Deleted || !strings.Contains(rec.Reason, "PUT failed")) {
			t.Errorf("signature record %+v, want deleted with the reason it is not back", rec)
		}
		// The refusal's warning is what the user sees: it names the loss.
		if rec.Op.Digest == dI && (rec.Outcome != Refused || !strings.Contains(rec.Reason, "could not be put back: "+dS)) {
			t.Errorf("refused record %+v does not name what could not be put back", rec)
		}
	}
}

// TestNoSaveInDryRun: a dry run reads nothing to save.
func TestNoSaveInDryRun(t *testing.T) {
	g, p := fixture()
	f := newRestoring()
	Run(context.Background(), f, g, p, Options{DryRun: true})
	if len(f.saved) != 0 || len(f.keys()) != 0 {
		t.Errorf("dry run: saved %v, calls %v", f.saved, f.keys())
	}
}
