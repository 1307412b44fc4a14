package apply

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/backend"
)

// TestTagsBack: on the untag-first schedule (untagFirstFixture: pr-1 and
// v1 on the index I, sig on its signature S, pr-3 on A, pr-4 on B), a
// deletion that does not happen gets back the tags removed ahead of it,
// each still free; what is not put back stays recorded as removed, the
// deletion's reason says why, and LeftUntagged names the manifest.
func TestTagsBack(t *testing.T) {
	tests := []struct {
		name      string
		noRestore bool // a backend without backend.Restorer
		setup     func(f *restoring)
		// want: the outcome of each untag-first record, by tag
		want     map[string]Outcome
		restored []string
		saved    []string // manifests read to be put back or saved before deletion
		reason   string   // in the reason of the deletion that did not happen
		left     []string
	}{
		{
			name:     "refused-alone",
			setup:    func(f *restoring) { f.errs["delete:"+dA] = backend.ErrRefused },
			want:     map[string]Outcome{"pr-1": Untagged, "v1": Untagged, "sig": Untagged, "pr-3": Restored, "pr-4": Untagged},
			restored: []string{dA + " pr-3"},
			saved:    []string{dS, dI, dC1, dC2, dA}, // the unit's, and A read once after the refusal
			reason:   "put back: pr-3",
		},
		{
			// I was saved before its DELETE (it belongs to a unit): no
			// second read. Its signature, deleted first, comes back by the
			// unit's rule with its tag, then I's own tags.
			name:     "refused-index",
			setup:    func(f *restoring) { f.errs["delete:"+dI] = backend.ErrRefused },
			want:     map[string]Outcome{"pr-1": Restored, "v1": Restored, "sig": Restored, "pr-3": Untagged, "pr-4": Untagged},
			restored: []string{dS + " sig", dI + " pr-1,v1"},
			saved:    []string{dS, dI},
			reason:   "put back: pr-1, v1",
		},
		{
			// The signature refused: its index, skipped with it, is kept
			// and gets its tags back too.
			name:     "refused-signature-keeps-index-tagged",
			setup:    func(f *restoring) { f.errs["delete:"+dS] = backend.ErrRefused },
			want:     map[string]Outcome{"pr-1": Restored, "v1": Restored, "sig": Restored, "pr-3": Untagged, "pr-4": Untagged},
			restored: []string{dS + " sig", dI + " pr-1,v1"},
			saved:    []string{dS, dI},
			reason:   "put back: sig",
		},
		{
			name: "moved-tag-stays-where-it-is",
			setup: func(f *restoring) {
				f.errs["delete:"+dA] = backend.ErrRefused
				f.tagNow["pr-3"] = dK
			},
			want:   map[string]Outcome{"pr-1": Untagged, "v1": Untagged, "sig": Untagged, "pr-3": Untagged, "pr-4": Untagged},
			saved:  []string{dS, dI, dC1, dC2, dA},
			reason: "its tags pr-3, removed ahead of the deletion to make it cheap, are not put back: they name another manifest now",
			left:   []string{dA},
		},
		{
			name: "push-fails",
			setup: func(f *restoring) {
				f.errs["delete:"+dA] = backend.ErrRefused
				f.failPut[dA] = errors.New("PUT denied")
			},
			want:   map[string]Outcome{"pr-1": Untagged, "v1": Untagged, "sig": Untagged, "pr-3": Untagged, "pr-4": Untagged},
			saved:  []string{dS, dI, dC1, dC2, dA},
			reason: "are not put back: pushing it again failed: PUT denied",
			left:   []string{dA},
		},
		{
			name:     "failed-delete-manifest-still-there",
			setup:    func(f *restoring) { f.errs["delete:"+dA] = errors.New("502 after retries") },
			want:     map[string]Outcome{"pr-1": Untagged, "v1": Untagged, "sig": Untagged, "pr-3": Restored, "pr-4": Untagged},
			restored: []string{dA + " pr-3"},
			saved:    []string{dS, dI, dC1, dC2, dA},
			reason:   "put back: pr-3",
		},
		{
			// The failed DELETE did its work after all: nothing to tag.
			name: "failed-delete-manifest-gone",
			setup: func(f *restoring) {
				f.errs["delete:"+dA] = errors.New("502 after retries")
				f.failSave[dA] = backend.ErrNotFound
			},
			want:   map[string]Outcome{"pr-1": Untagged, "v1": Untagged, "sig": Untagged, "pr-3": Untagged, "pr-4": Untagged},
			saved:  []string{dS, dI, dC1, dC2},
			reason: "the manifest is gone nonetheless",
		},
		{
			name:      "backend-cannot-push",
			noRestore: true,
			setup:     func(f *restoring) { f.errs["delete:"+dA] = backend.ErrRefused },
			want:      map[string]Outcome{"pr-1": Untagged, "v1": Untagged, "sig": Untagged, "pr-3": Untagged, "pr-4": Untagged},
			reason:    "are not put back: this registry's backend cannot push a manifest again",
			left:      []string{dA},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := fixture()
			p, _ := untagFirstFixture()
			f := newRestoring()
			tt.setup(f)
			var b backend.Backend = f
			if tt.noRestore {
				b = f.fake
			}
			res := Run(context.Background(), b, g, p, Options{Concurrency: 1})
			got := map[string]Outcome{}
			for _, rec := range res.Records {
				if !rec.Op.BeforeDelete {
					continue
				}
				got[rec.Op.Tag] = rec.Outcome
				switch rec.Outcome {
				case Restored:
					if rec.Tags != nil || !strings.Contains(rec.Reason, "put back") {
						t.Errorf("untag-first %s put back: %+v, want no tag gone and the reason", rec.Op.Tag, rec)
					}
				case Untagged:
					if !slices.Equal(rec.Tags, []string{rec.Op.Tag}) {
						t.Errorf("untag-first %s not put back: tags %v, want it named removed", rec.Op.Tag, rec.Tags)
					}
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("untag-first outcomes = %v\nwant %v", got, tt.want)
			}
			if !reflect.DeepEqual(f.restored, tt.restored) {
				t.Errorf("put back %q, want %q", f.restored, tt.restored)
			}
			if s := slices.Sorted(slices.Values(f.saved)); !slices.Equal(s, slices.Sorted(slices.Values(tt.saved))) {
				t.Errorf("read %v, want %v", f.saved, tt.saved)
			}
			if !slices.Equal(res.LeftUntagged, tt.left) {
				t.Errorf("LeftUntagged = %v, want %v", res.LeftUntagged, tt.left)
			}
			if tt.reason != "" {
				found := false
				for _, rec := range res.Records {
					found = found || rec.Op.Kind == "delete" && strings.Contains(rec.Reason, tt.reason)
				}
				if !found {
					t.Errorf("no deletion's reason says %q: %+v", tt.reason, res.Records)
				}
			}
		})
	}
}
