package apply

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/plan"
)

func untagFirst(t, d string) plan.Op {
	return plan.Op{Kind: plan.OpUntag, Digest: d, Tag: t, BeforeDelete: true}
}

// untagFirstFixture is fixture() with the untag-first schedule: the tags of
// every deleted manifest go in phase 0, their DELETEs after.
func untagFirstFixture() (*plan.Plan, []plan.Op) {
	g, p := fixture()
	_ = g
	first := []plan.Op{untagFirst("pr-1", dI), untagFirst("v1", dI), untagFirst("sig", dS), untagFirst("pr-3", dA), untagFirst("pr-4", dB)}
	p.Phases[0] = append(p.Phases[0], first...)
	return p, first
}

// TestRunUntagFirst: the tags removed ahead of their manifest are recorded
// once (by their untag), the DELETE's record names only what it removed
// itself, and the summary's left-untagged list is exact.
func TestRunUntagFirst(t *testing.T) {
	g, _ := fixture()
	p, _ := untagFirstFixture()
	f := newFake()
	res := Run(context.Background(), f, g, p, Options{Concurrency: 1})
	if res.Stopped != nil {
		t.Fatal(res.Stopped)
	}
	for _, rec := range res.Records {
		switch {
		case rec.Op.Kind == plan.OpDelete && rec.Outcome != Deleted:
			t.Errorf("%s: %s", recKey(rec.Op), rec.Outcome)
		case rec.Op.Kind == plan.OpDelete && len(rec.Tags) > 0:
			t.Errorf("delete %s names tags %v its untag-first records already name", rec.Op.Digest, rec.Tags)
		case rec.Op.BeforeDelete && (rec.Outcome != Untagged || !reflect.DeepEqual(rec.Tags, []string{rec.Op.Tag})):
			t.Errorf("untag-first %s: %s %v", rec.Op.Tag, rec.Outcome, rec.Tags)
		}
	}
	if len(res.LeftUntagged) != 0 {
		t.Errorf("LeftUntagged = %v after a complete run", res.LeftUntagged)
	}
	// Every untag before every DELETE by digest.
	keys := f.keys()
	lastUntag, firstDelete := -1, len(keys)
	for i, k := range keys {
		if k[:6] == "untag:" {
			lastUntag = i
		} else if firstDelete == len(keys) {
			firstDelete = i
		}
	}
	if lastUntag > firstDelete {
		t.Errorf("an untag ran after a DELETE: %v", keys)
	}

	// A dry run records the same.
	dry := Run(context.Background(), newFake(), g, p, Options{DryRun: true})
	for i := range dry.Records {
		if a, b := dry.Records[i], res.Records[i]; a.Outcome != b.Outcome || !slices.Equal(a.Tags, b.Tags) {
			t.Errorf("dry run %s: %s %v, real run %s %v", recKey(a.Op), a.Outcome, a.Tags, b.Outcome, b.Tags)
		}
	}
}

// TestRunUntagFirstInterrupted stops the run after each operation in turn
// (cancel, and a fatal error) and checks that the record is exact: what the
// fake did is what the records say, and LeftUntagged names exactly the
// manifests that lost every tag and were not deleted.
func TestRunUntagFirstInterrupted(t *testing.T) {
	g, _ := fixture()
	p, _ := untagFirstFixture()
	total := 0
	for _, ph := range p.Phases {
		total += len(ph)
	}
	for _, how := range []string{"cancel", "fatal"} {
		for k := 0; k <= total; k++ {
			f := newFake()
			ctx, cancel := context.WithCancel(context.Background())
			switch how {
			case "cancel":
				f.hook = func(_ context.Context, _ string) error {
					f.mu.Lock()
					n := f.n
					f.mu.Unlock()
					if n == k {
						cancel()
					}
					return nil
				}
				if k == 0 {
					cancel()
				}
			case "fatal":
				f.nth[k+1] = backend.ErrUnauthorized
			}
			res := Run(ctx, f, g, p, Options{Concurrency: 1})
			cancel()

			if k < total && res.Stopped == nil {
				t.Fatalf("%s after %d: the run did not stop", how, k)
			}
			var wantLeft []string
			for _, d := range []string{dI, dS, dA, dB} {
				all := true
				for _, tag := range g.Manifests[d].Tags {
					all = all && f.untag[tag]
				}
				if all && !f.deleted[d] {
					wantLeft = append(wantLeft, d)
				}
			}
			slices.Sort(wantLeft)
			if !slices.Equal(res.LeftUntagged, wantLeft) {
				t.Errorf("%s after %d: LeftUntagged = %v, want %v", how, k, res.LeftUntagged, wantLeft)
			}
			for _, rec := range res.Records {
				done := f.deleted[rec.Op.Digest]
				if rec.Op.Kind == plan.OpUntag {
					done = f.untag[rec.Op.Tag]
				}
				if rec.Outcome.Gone() != done {
					t.Errorf("%s after %d: %s recorded %s, but done=%v", how, k, recKey(rec.Op), rec.Outcome, done)
				}
				if rec.Outcome == "" {
					t.Errorf("%s after %d: %s has no outcome", how, k, recKey(rec.Op))
				}
			}
			if how == "fatal" && k < total && !errors.Is(res.Stopped, backend.ErrUnauthorized) {
				t.Errorf("fatal after %d: stopped by %v", k, res.Stopped)
			}
		}
	}
}
