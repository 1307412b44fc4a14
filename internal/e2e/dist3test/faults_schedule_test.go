package dist3test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/faults"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// cancelAfter is a base transport that cancels the run once the k-th
// DELETE of a planned operation has been sent (the untag probe's DELETE of
// a random tag is not counted). The operation in flight runs to its answer,
// so the run stops right after k operations.
type cancelAfter struct {
	next   http.RoundTripper
	k      int
	cancel context.CancelFunc

	mu sync.Mutex
	n  int
}

func (c *cancelAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodDelete && !strings.Contains(req.URL.Path, "regsweep-probe-") {
		c.mu.Lock()
		c.n++
		if c.n == c.k {
			c.cancel()
		}
		c.mu.Unlock()
	}
	return c.next.RoundTrip(req)
}

func (c *cancelAfter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// seedScheduleFixture: four single-tag PR images, one PR image with two
// tags, a PR tag on latest's image (untagged alone), a signed PR image and
// the kept latest and v1.
func seedScheduleFixture(t *testing.T, r *reg, path string) *fixture {
	t.Helper()
	f := seedFixture(t, r, path, 4)
	ctx := context.Background()
	multi := seed.Image("pr-multi", day0)
	d, err := f.pusher.Image(ctx, "pr-multi-a", multi)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.pusher.Tag(ctx, "pr-multi-b", multi); err != nil {
		t.Fatal(err)
	}
	signed, err := f.pusher.Image(ctx, "pr-signed", seed.Image("pr-signed", day0))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := f.pusher.Sign(ctx, signed)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.pusher.Tag(ctx, "pr-latest", seed.Image("release-latest", day0)); err != nil {
		t.Fatal(err)
	}
	f.planned = append(f.planned, d.String(), signed.String(), sig.String())
	sort.Strings(f.planned)
	f.before = f.state(t)
	return f
}

// TestUntagFirstInterrupted runs the untag-first schedule on distribution 3
// and cancels it after the k-th operation, for every k: nothing kept is
// lost, every output equals the registry's real change, and the summary
// names every manifest left untagged (and no other).
func TestUntagFirstInterrupted(t *testing.T) {
	t.Parallel() // own registry; runs beside the package's other long tests
	r := startFaultsRegistry(t, false)
	inputs := func(repo string) map[string]string {
		return withCreds(map[string]string{"repository": repo, "tags": "pr-*", "concurrency": "1"})
	}

	// The whole run first: exact, and how many operations it takes.
	f := seedScheduleFixture(t, r, "full")
	ca := &cancelAfter{next: http.DefaultTransport, k: -1, cancel: func() {}}
	res := e2e.RunWith(t, e2e.Options{Base: ca, UntagFirstAt: 1}, inputs(f.repo))
	f.tags = nil
	for tag := range f.before {
		if _, kept := f.keep[tag]; !kept {
			f.tags = append(f.tags, tag)
		}
	}
	sort.Strings(f.tags)
	checkExact(t, f, res, nil)
	total := ca.count()
	// 10 tag removals (8 ahead of their manifest, pr-latest alone, the
	// signature's tag) and 7 manifest DELETEs.
	if total != 9+7 {
		t.Fatalf("the schedule sent %d DELETEs, want 16 (9 tags, 7 manifests)\n%s", total, res.Log)
	}

	for k := 1; k < total; k++ {
		t.Run(fmt.Sprintf("after-%02d", k), func(t *testing.T) {
			f := seedScheduleFixture(t, r, fmt.Sprintf("cut%d", k))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ca := &cancelAfter{next: http.DefaultTransport, k: k, cancel: cancel}
			res := e2e.RunWith(t, e2e.Options{Ctx: ctx, Base: ca, UntagFirstAt: 1}, inputs(f.repo))
			noSecret(t, res)
			checkKeys(t, res)
			if res.Code == 0 {
				t.Errorf("exit 0 after cancellation")
			}
			if n := ca.count(); n != k {
				t.Errorf("%d operations sent, want the run to stop after %d", n, k)
			}
			after := f.state(t)
			for _, tag := range []string{"latest", "v1"} {
				if after[tag] != f.before[tag] {
					t.Errorf("KEPT TAG LOST: %s = %q, was %s", tag, after[tag], f.before[tag])
				}
			}
			var goneTags, goneDigests, left []string
			for tag := range f.before {
				if _, ok := after[tag]; !ok {
					goneTags = append(goneTags, tag)
				}
			}
			tagged := map[string]bool{}
			for _, d := range after {
				tagged[d] = true
			}
			for _, d := range f.planned {
				switch {
				case !f.exists(t, d):
					goneDigests = append(goneDigests, d)
				case !tagged[d] && hadTag(f.before, d):
					left = append(left, d)
				}
			}
			sort.Strings(goneTags)
			sort.Strings(goneDigests)
			if got := res.Tags(t, "deleted-tags"); !equalStrings(got, goneTags) {
				t.Errorf("deleted-tags = %v, registry lost %v", got, goneTags)
			}
			if got := res.Strings(t, "deleted-digests"); !equalStrings(got, goneDigests) {
				t.Errorf("deleted-digests = %v, registry lost %v", got, goneDigests)
			}
			if len(left) > 0 && !strings.Contains(res.Summary, "Left untagged") {
				t.Errorf("%d manifests left untagged, the summary does not say so:\n%s", len(left), res.Summary)
			}
			for _, d := range f.planned {
				want := contains(left, d)
				if got := strings.Contains(res.Summary, "`"+d+"`"); got != want {
					t.Errorf("summary names %s as left untagged: %v, want %v", d, got, want)
				}
			}
			if t.Failed() {
				t.Logf("log:\n%s\nsummary:\n%s", res.Log, res.Summary)
			}
		})
	}
}

func hadTag(state map[string]string, d string) bool {
	for _, v := range state {
		if v == d {
			return true
		}
	}
	return false
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func equalStrings(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestLeftUntaggedReclaimedByGC: what the summary tells users to do with
// manifests left untagged works. A run stopped right after the untag-first
// step leaves every doomed manifest untagged; distribution's garbage
// collector with --delete-untagged (MarkAndSweep, RemoveUntagged) removes
// them all, and nothing kept.
func TestLeftUntaggedReclaimedByGC(t *testing.T) {
	root := t.TempDir()
	inj := faults.New(1)
	auth := &faults.BearerAuth{Username: secretUser, Password: secretPassword}
	d3 := dist3.Start(t.Context(), dist3.Options{
		RootDirectory: root,
		Wrap:          func(h http.Handler) http.Handler { return auth.Wrap(inj.Wrap(h)) },
	})
	t.Cleanup(d3.Close)
	r := &reg{Registry: d3, inj: inj, auth: auth, direct: faults.HandlerTransport{Handler: inj.Next()}}
	f := seedScheduleFixture(t, r, "gc")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const untags = 9 // every DELETE by tag, none by digest
	ca := &cancelAfter{next: http.DefaultTransport, k: untags, cancel: cancel}
	res := e2e.RunWith(t, e2e.Options{Ctx: ctx, Base: ca, UntagFirstAt: 1},
		withCreds(map[string]string{"repository": f.repo, "tags": "pr-*", "concurrency": "1"}))
	for _, d := range f.planned {
		if !strings.Contains(res.Summary, "`"+d+"`") {
			t.Fatalf("%s is not named as left untagged:\n%s", d, res.Summary)
		}
		if !f.exists(t, d) {
			t.Fatalf("%s was deleted; the run should have stopped before any DELETE by digest", d)
		}
	}

	drv := filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 10})
	ns, err := storage.NewRegistry(t.Context(), drv, storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.MarkAndSweep(t.Context(), drv, ns, storage.GCOpts{RemoveUntagged: true, Quiet: true}); err != nil {
		t.Fatal(err)
	}
	for _, d := range f.planned {
		if f.exists(t, d) {
			t.Errorf("left-untagged manifest %s survived garbage-collect --delete-untagged", d)
		}
	}
	after := f.state(t)
	for tag, d := range f.keep {
		if after[tag] != d || !f.exists(t, d) {
			t.Errorf("kept %s (%s) lost to the garbage collection: %v", tag, d, after)
		}
	}
}
