package apply

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
)

// TestFailedReferrerFoundByTagKeepsSubject: a referrer that only its tag
// links to its subject (no subject field: a referrers index under its
// truncated sha512 fallback tag, which the GitHub Packages and Docker Hub
// backends cannot resolve to a subject; a cosign signature in a graph no
// backend filled in) is deleted before its subject because the plan reads
// it as a referrer. When its DELETE fails, the subject must stay, as it
// does for a referrer by subject field: deleting it would leave the
// referrer pointing at nothing.
func TestFailedReferrerFoundByTagKeepsSubject(t *testing.T) {
	h512 := strings.Repeat("ab", 64)
	for _, tc := range []struct {
		name, subject, tag string
	}{
		{"truncated sha512 fallback tag", "sha512:" + h512, "sha512-" + h512[:64]},
		{"cosign signature tag", dg(9), "sha256-" + strings.TrimPrefix(dg(9), "sha256:") + ".sig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, ref := tc.subject, dg(8)
			g := graph.New("ghcr.io/o/app", "fake", graph.Capabilities{DeleteManifest: true, ListUntagged: true})
			g.SetTag("pr-1", img)
			g.SetTag(tc.tag, ref)
			g.Manifest(img).Kind = graph.KindImage
			g.Manifest(ref).Kind = graph.KindReferrer
			g.Finish()
			p := &plan.Plan{Repository: g.Repository, Backend: g.Backend, Phases: [][]plan.Op{{del(ref)}, {del(img)}}}
			f := newFake()
			f.errs["delete:"+ref] = errors.New("500 internal server error")
			res := Run(context.Background(), f, g, p, Options{Concurrency: 1})
			if got, want := outcomes(res), map[string]Outcome{"delete:" + ref: Failed, "delete:" + img: Skipped}; !reflect.DeepEqual(got, want) {
				t.Errorf("outcomes = %v, want %v", got, want)
			}
			if rec := find(res, "delete:"+img); !strings.Contains(rec.Reason, ref) {
				t.Errorf("subject's reason %q does not name the referrer %s", rec.Reason, ref)
			}
			if _, ok := f.call("delete:" + img); ok {
				t.Errorf("the subject's DELETE was sent: %v", f.keys())
			}
		})
	}
}
