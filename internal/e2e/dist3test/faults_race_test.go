package dist3test

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/faults"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// mutateOnRecheck returns a rule that runs fn once, on the second tag
// listing (the first finds the tags to resolve first, the second is the last
// look before the kept tags are resolved), with a pusher that talks to the
// registry directly.
func mutateOnRecheck(t *testing.T, repo string, fn func(p *seed.Pusher)) faults.Rule {
	return faults.Rule{
		Name: "mutate", Method: http.MethodGet, Path: faults.ListPath(), Skip: 1, Times: 1,
		Hook: func(_ *http.Request, next http.Handler) {
			p, err := seed.NewPusher(context.Background(), repo, faults.HandlerTransport{Handler: next})
			if err != nil {
				t.Error(err)
				return
			}
			fn(p)
		},
	}
}

// TestRegistryChangesBeforeDeletion: another pipeline changes the registry
// between planning and deletion.
func TestRegistryChangesBeforeDeletion(t *testing.T) {
	figs := &figures{}
	t.Cleanup(func() { figs.write(t) })

	// A tag lands on a digest a plan from the first listing would delete,
	// before the last look: a new tag (release), or an existing kept one moved there
	// (latest). Either way the digest must stay, and the tag with it.
	for _, c := range []struct{ name, tag string }{
		{"new-tag-onto-planned-digest", "release"},
		{"latest-moved-onto-planned-digest", "latest"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := startFaultsRegistry(t, false)
			inj := r.inj
			f := seedFixture(t, r, "app", 5)
			target := f.planned[0]
			var pr string
			for tag, d := range f.before {
				if d == target {
					pr = tag
				}
			}
			inj.Add(mutateOnRecheck(t, f.repo, func(p *seed.Pusher) {
				if err := p.Tag(context.Background(), c.tag, seed.Image(pr, day0.AddDate(0, 0, int(pr[3]-'0')))); err != nil {
					t.Error(err)
				}
			}))
			res := e2e.RunWith(t, e2e.Options{}, withCreds(map[string]string{"repository": f.repo, "tags": "pr-*"}))
			figs.run(inj)
			if st := f.state(t); st[c.tag] != target {
				t.Fatalf("%s was put on a planned digest during the run and was lost: registry after run: %v", c.tag, st)
			}
			checkChanged(t, f, res, c.tag, target, pr)
		})
	}

	// A planned tag moves to a new image: the new image is not deleted.
	t.Run("planned-tag-moved-to-new-image", func(t *testing.T) {
		t.Parallel()
		r := startFaultsRegistry(t, false)
		inj := r.inj
		f := seedFixture(t, r, "app", 5)
		newImg := seed.Image("pr-2-rebuilt", day0)
		newDigest, _ := newImg.Digest()
		inj.Add(mutateOnRecheck(t, f.repo, func(p *seed.Pusher) {
			if _, err := p.Image(context.Background(), "pr-2", newImg); err != nil {
				t.Error(err)
			}
		}))
		res := e2e.RunWith(t, e2e.Options{}, withCreds(map[string]string{"repository": f.repo, "tags": "pr-*"}))
		figs.run(inj)
		if res.Code != 0 {
			t.Fatalf("exit %d\n%s", res.Code, res.Log)
		}
		st := f.state(t)
		if !f.exists(t, newDigest.String()) {
			t.Fatalf("the moved tag's new image %s was deleted; registry = %v", newDigest, st)
		}
		for tag, d := range f.keep {
			if st[tag] != d {
				t.Errorf("kept tag %s lost: registry = %v", tag, st)
			}
		}
		if slices.Contains(res.Strings(t, "deleted-digests"), newDigest.String()) {
			t.Errorf("deleted-digests names the new image")
		}
		// The record must equal the change: pr-2 still exists (on the new
		// image), so deleted-tags must not claim it went.
		if st["pr-2"] != newDigest.String() {
			t.Fatalf("pr-2 should still name its new image: registry = %v", st)
		}
		if slices.Contains(res.Tags(t, "deleted-tags"), "pr-2") {
			t.Errorf("deleted-tags lists pr-2, which still exists on its new image")
		}
	})
}

// checkChanged: tag newTag was pointed at target (the image of planned tag
// pr) before the re-check; the run must keep target and newTag, and may
// untag pr.
func checkChanged(t *testing.T, f *fixture, res e2e.Result, newTag, target, pr string) {
	t.Helper()
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	st := f.state(t)
	if st[newTag] != target || !f.exists(t, target) {
		t.Fatalf("newly kept tag %s lost with %s: registry = %v", newTag, target, st)
	}
	for tag, d := range f.keep {
		if tag != newTag && st[tag] != d {
			t.Errorf("kept tag %s lost: registry = %v", tag, st)
		}
	}
	if slices.Contains(res.Strings(t, "deleted-digests"), target) {
		t.Errorf("deleted-digests claims %s, which must stay", target)
	}
	// Every other planned digest is gone, and outputs match.
	var want []string
	for _, d := range f.planned {
		if d != target {
			want = append(want, d)
			if f.exists(t, d) {
				t.Errorf("%s should be deleted", d)
			}
		}
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, want) {
		t.Errorf("deleted-digests = %v, want %v", got, want)
	}
	_ = pr
}

// TestConcurrentRuns: two runs at once on overlapping patterns. Both exit
// 0; together they delete exactly the union of what each planned; no kept
// tag is lost; each digest is reported deleted by exactly one of them or
// as already gone.
func TestConcurrentRuns(t *testing.T) {
	r := startFaultsRegistry(t, false)
	inj := r.inj
	f := seedFixture(t, r, "app", 12)
	patterns := []string{"pr-*", "pr-1*"} // pr-1, pr-10, pr-11 overlap
	var wg sync.WaitGroup
	res := make([]e2e.Result, 2)
	for i, p := range patterns {
		wg.Go(func() {
			res[i] = e2e.RunWith(t, e2e.Options{}, withCreds(map[string]string{"repository": f.repo, "tags": p, "concurrency": "3"}))
		})
	}
	wg.Wait()
	_ = inj
	for i, r := range res {
		if r.Code != 0 {
			t.Errorf("run %d (%s): exit %d\n%s", i, patterns[i], r.Code, r.Log)
		}
	}
	if got := f.state(t); !reflect.DeepEqual(got, f.keep) {
		t.Fatalf("registry after runs = %v, want %v", got, f.keep)
	}
	union := map[string]bool{}
	for _, r := range res {
		for _, d := range r.Strings(t, "deleted-digests") {
			union[d] = true
		}
	}
	for _, d := range f.planned {
		if !union[d] {
			t.Errorf("%s deleted but reported by neither run", d)
		}
		if f.exists(t, d) {
			t.Errorf("%s not deleted", d)
		}
	}
	if len(union) != len(f.planned) {
		t.Errorf("runs reported %d digests, planned %d", len(union), len(f.planned))
	}
}
