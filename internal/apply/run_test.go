package apply

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
)

func dg(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// call is one backend call as the fake saw it, with a global sequence number
// at start and end so tests can assert order without clocks.
type call struct {
	key        string // "delete:<digest>" or "untag:<tag>"
	start, end int
}

// fake is an in-memory backend.Backend that records calls and injects
// errors, delays and hooks.
type fake struct {
	mu       sync.Mutex
	seq      int
	n        int // calls started
	calls    []call
	inflight int
	peak     int

	errs    map[string]error                            // by key
	nth     map[int]error                               // by call number (1-based)
	onCall  func(n int)                                 // runs at the start of call n
	delay   time.Duration                               // each call sleeps (honouring ctx)
	deleted map[string]bool                             // digests deleted
	untag   map[string]bool                             // tags removed
	hook    func(ctx context.Context, key string) error // runs inside the call after onCall
	cancel  context.CancelFunc                          // cancels the run's context
}

func newFake() *fake {
	return &fake{errs: map[string]error{}, nth: map[int]error{}, deleted: map[string]bool{}, untag: map[string]bool{}}
}

func (f *fake) Name() string { return "fake" }
func (f *fake) Discover(context.Context, backend.DiscoverOptions) (*graph.Graph, error) {
	return nil, errors.New("not used")
}
func (f *fake) ProbeUntag(context.Context) (graph.Tri, error) { return graph.Yes, nil }
func (f *fake) ListTags(context.Context) (map[string]string, error) {
	return nil, errors.New("not used")
}

func (f *fake) DeleteManifest(ctx context.Context, m *graph.Manifest) error {
	return f.do(ctx, "delete:"+m.Digest, func() { f.deleted[m.Digest] = true })
}

func (f *fake) Untag(ctx context.Context, tag string, m *graph.Manifest) error {
	return f.do(ctx, "untag:"+tag, func() { f.untag[tag] = true })
}

func (f *fake) do(ctx context.Context, key string, apply func()) error {
	f.mu.Lock()
	f.seq++
	f.n++
	n := f.n
	idx := len(f.calls)
	f.calls = append(f.calls, call{key: key, start: f.seq})
	f.inflight++
	if f.inflight > f.peak {
		f.peak = f.inflight
	}
	onCall := f.onCall
	f.mu.Unlock()

	defer func() {
		f.mu.Lock()
		f.seq++
		f.calls[idx].end = f.seq
		f.inflight--
		f.mu.Unlock()
	}()
	if onCall != nil {
		onCall(n)
	}
	if f.delay > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", key, ctx.Err())
		case <-time.After(f.delay):
		}
	}
	if f.hook != nil {
		if err := f.hook(ctx, key); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err, ok := f.nth[n]; ok {
		return fmt.Errorf("%s: %w", key, err)
	}
	if err, ok := f.errs[key]; ok {
		return fmt.Errorf("%s: %w", key, err)
	}
	apply()
	return nil
}

func (f *fake) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = c.key
	}
	return out
}

func (f *fake) call(key string) (call, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.key == key {
			return c, true
		}
	}
	return call{}, false
}

func del(d string) plan.Op      { return plan.Op{Kind: plan.OpDelete, Digest: d} }
func untag(t, d string) plan.Op { return plan.Op{Kind: plan.OpUntag, Digest: d, Tag: t} }
func recKey(op plan.Op) string {
	if op.Kind == plan.OpUntag {
		return "untag:" + op.Tag
	}
	return "delete:" + op.Digest
}

// fixture: index I (tags v1, pr-1) with children C1, C2; a signature S on I
// (tag sha256-….sig); a kept image K tagged latest and pr-2 (pr-2 untagged);
// loose images A, B tagged pr-3, pr-4.
var (
	dI, dC1, dC2, dS, dK, dA, dB = dg(1), dg(2), dg(3), dg(4), dg(5), dg(6), dg(7)
)

func fixture() (*graph.Graph, *plan.Plan) {
	g := graph.New("registry.test/app", "fake", graph.Capabilities{DeleteManifest: true, Untag: graph.Yes})
	g.SetTag("pr-1", dI)
	g.SetTag("v1", dI)
	g.SetTag("sig", dS)
	g.SetTag("latest", dK)
	g.SetTag("pr-2", dK)
	g.SetTag("pr-3", dA)
	g.SetTag("pr-4", dB)
	g.Manifest(dI).Kind = graph.KindIndex
	g.Manifest(dI).Children = []string{dC1, dC2}
	g.Manifest(dC1).Kind = graph.KindImage
	g.Manifest(dC2).Kind = graph.KindImage
	g.Manifest(dS).Kind = graph.KindReferrer
	g.Manifest(dS).Subject = dI
	g.Manifest(dK).Kind = graph.KindImage
	g.Manifest(dA).Kind = graph.KindImage
	g.Manifest(dB).Kind = graph.KindImage
	g.Finish()
	p := &plan.Plan{
		Repository: g.Repository,
		Backend:    g.Backend,
		Phases: [][]plan.Op{
			{untag("pr-2", dK)},
			{del(dS), del(dA), del(dB)},
			{del(dI)},
			{del(dC1), del(dC2)},
		},
	}
	return g, p
}

// freshTags is the tag decisions of a re-checked plan whose listing holds
// exactly these tags.
func freshTags(tags map[string]string) []plan.TagDecision {
	var out []plan.TagDecision
	for t, d := range tags {
		out = append(out, plan.TagDecision{Tag: t, Digest: d, Action: plan.Delete})
	}
	return out
}

func outcomes(res *Result) map[string]Outcome {
	out := map[string]Outcome{}
	for _, r := range res.Records {
		out[recKey(r.Op)] = r.Outcome
	}
	return out
}

func TestRun(t *testing.T) {
	all := func(o Outcome, keys ...string) map[string]Outcome {
		m := map[string]Outcome{}
		for _, k := range keys {
			m[k] = o
		}
		return m
	}
	merge := func(ms ...map[string]Outcome) map[string]Outcome {
		out := map[string]Outcome{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	kU, kS, kA, kB, kI, kC1, kC2 := "untag:pr-2", "delete:"+dS, "delete:"+dA, "delete:"+dB, "delete:"+dI, "delete:"+dC1, "delete:"+dC2

	tests := []struct {
		name        string
		setup       func(f *fake, opts *Options)
		want        map[string]Outcome
		wantCalls   int // -1: don't check
		wantStopped error
		check       func(t *testing.T, res *Result, f *fake)
	}{
		{
			name:      "all succeed",
			want:      merge(all(Untagged, kU), all(Deleted, kS, kA, kB, kI, kC1, kC2)),
			wantCalls: 7,
			check: func(t *testing.T, res *Result, f *fake) {
				r := find(res, kI)
				if !reflect.DeepEqual(r.Tags, []string{"pr-1", "v1"}) {
					t.Errorf("index tags = %v", r.Tags)
				}
				if r := find(res, kU); !reflect.DeepEqual(r.Tags, []string{"pr-2"}) {
					t.Errorf("untag tags = %v", r.Tags)
				}
			},
		},
		{
			name: "404 is already gone, counted with its tags",
			setup: func(f *fake, _ *Options) {
				f.errs[kA] = backend.ErrNotFound
				f.errs[kI] = backend.ErrNotFound
			},
			want:      merge(all(Untagged, kU), all(Deleted, kS, kB, kC1, kC2), all(AlreadyGone, kA, kI)),
			wantCalls: 7,
			check: func(t *testing.T, res *Result, _ *fake) {
				if r := find(res, kA); !reflect.DeepEqual(r.Tags, []string{"pr-3"}) || r.Err != nil {
					t.Errorf("already gone record = %+v", r)
				}
			},
		},
		{
			name:      "failed index keeps its children",
			setup:     func(f *fake, _ *Options) { f.errs[kI] = errors.New("502 bad gateway") },
			want:      merge(all(Untagged, kU), all(Deleted, kS, kA, kB), all(Failed, kI), all(Skipped, kC1, kC2)),
			wantCalls: 5,
			check: func(t *testing.T, res *Result, _ *fake) {
				if r := find(res, kC1); !strings.Contains(r.Reason, dI) {
					t.Errorf("child skip reason %q does not name the index", r.Reason)
				}
			},
		},
		{
			name:      "failed signature keeps its subject and, transitively, the children",
			setup:     func(f *fake, _ *Options) { f.errs[kS] = errors.New("500") },
			want:      merge(all(Untagged, kU), all(Deleted, kA, kB), all(Failed, kS), all(Skipped, kI, kC1, kC2)),
			wantCalls: 4,
		},
		{
			name:      "refused index keeps its children",
			setup:     func(f *fake, _ *Options) { f.errs[kI] = backend.ErrRefused },
			want:      merge(all(Untagged, kU), all(Deleted, kS, kA, kB), all(Refused, kI), all(Skipped, kC1, kC2)),
			wantCalls: 5,
		},
		{
			name:      "untag unsupported keeps the tag",
			setup:     func(f *fake, _ *Options) { f.errs[kU] = backend.ErrUnsupported },
			want:      merge(all(KeptNoUntag, kU), all(Deleted, kS, kA, kB, kI, kC1, kC2)),
			wantCalls: 7,
			check: func(t *testing.T, res *Result, _ *fake) {
				if r := find(res, kU); len(r.Tags) != 0 || !strings.Contains(r.Reason, "cannot remove a tag") {
					t.Errorf("kept record = %+v", r)
				}
			},
		},
		{
			name: "fatal error stops: nothing more starts",
			setup: func(f *fake, o *Options) {
				o.Concurrency = 1
				f.errs[kB] = fmt.Errorf("DELETE: %w", backend.ErrDeleteDisabled)
			},
			want:        merge(all(Untagged, kU), all(Deleted, kS, kA), all(Failed, kB), all(NotAttempted, kI, kC1, kC2)),
			wantCalls:   4,
			wantStopped: backend.ErrDeleteDisabled,
			check: func(t *testing.T, res *Result, _ *fake) {
				if r := find(res, kI); !strings.Contains(r.Reason, "disabled") {
					t.Errorf("not-attempted reason %q does not say why", r.Reason)
				}
			},
		},
		{
			// The op already in flight when another hits a fatal error is
			// not cancelled: its request is out, so its outcome is waited
			// for and recorded exactly.
			name: "fatal error lets the in-flight op finish",
			setup: func(f *fake, o *Options) {
				o.Concurrency = 3
				aStarted, bFailed, sCalled := make(chan struct{}), make(chan struct{}), make(chan struct{})
				f.hook = func(ctx context.Context, key string) error {
					switch key {
					case kS:
						close(sCalled)
					case kA:
						close(aStarted)
						<-bFailed
					case kB:
						<-aStarted
						<-sCalled
						close(bFailed)
						return backend.ErrForbidden
					}
					return nil
				}
			},
			want:        merge(all(Untagged, kU), all(Deleted, kS, kA), all(Failed, kB), all(NotAttempted, kI, kC1, kC2)),
			wantCalls:   4,
			wantStopped: backend.ErrForbidden,
		},
		{
			name: "unauthorized on the very first call",
			setup: func(f *fake, _ *Options) {
				f.nth[1] = backend.ErrUnauthorized
			},
			want:        merge(all(Failed, kU), all(NotAttempted, kS, kA, kB, kI, kC1, kC2)),
			wantCalls:   1,
			wantStopped: backend.ErrUnauthorized,
		},
		{
			name: "cancellation mid-run: the op in flight finishes, the rest is not attempted",
			setup: func(f *fake, o *Options) {
				o.Concurrency = 1
				f.onCall = func(n int) {
					if n == 3 {
						f.cancel()
					}
				}
				// The op's own context outlives the run's: the registry
				// gets to answer, so the record is exact.
				f.hook = func(ctx context.Context, _ string) error { return ctx.Err() }
			},
			want:        merge(all(Untagged, kU), all(Deleted, kS, kA), all(NotAttempted, kB, kI, kC1, kC2)),
			wantCalls:   3,
			wantStopped: context.Canceled,
		},
		{
			name: "cancellation mid-run: an op still in flight after the grace is reported uncertain",
			setup: func(f *fake, o *Options) {
				o.Concurrency = 1
				o.InFlightGrace = 20 * time.Millisecond
				f.onCall = func(n int) {
					if n == 3 {
						f.cancel()
					}
				}
				var calls atomic.Int32
				f.hook = func(ctx context.Context, _ string) error {
					if calls.Add(1) == 3 {
						<-ctx.Done() // a registry that never answers
						return ctx.Err()
					}
					return nil
				}
			},
			want:        merge(all(Untagged, kU), all(Deleted, kS), all(Failed, kA), all(NotAttempted, kB, kI, kC1, kC2)),
			wantCalls:   3,
			wantStopped: context.Canceled,
			check: func(t *testing.T, res *Result, _ *fake) {
				if r := find(res, kA); !strings.Contains(r.Reason, "may or may not") {
					t.Errorf("interrupted reason = %q", r.Reason)
				}
			},
		},
		{
			name: "dry run makes no call",
			setup: func(f *fake, o *Options) {
				o.DryRun = true
				o.Recheck = func(context.Context) (*plan.Plan, error) {
					t.Error("recheck called in a dry run")
					return nil, nil
				}
			},
			want:      merge(all(Untagged, kU), all(Deleted, kS, kA, kB, kI, kC1, kC2)),
			wantCalls: 0,
			check: func(t *testing.T, res *Result, _ *fake) {
				if !res.DryRun {
					t.Error("Result.DryRun = false")
				}
				if r := find(res, kI); !reflect.DeepEqual(r.Tags, []string{"pr-1", "v1"}) {
					t.Errorf("dry-run index tags = %v", r.Tags)
				}
			},
		},
		{
			name: "recheck drops ops: skipped with the new reason, tags refreshed",
			setup: func(f *fake, o *Options) {
				o.Recheck = func(context.Context) (*plan.Plan, error) {
					if n := len(f.keys()); n != 0 {
						t.Errorf("recheck ran after %d backend calls", n)
					}
					_, p := fixture()
					// someone pushed latest onto A; I lost its v1 tag.
					p.Phases[1] = []plan.Op{del(dS), del(dB)}
					p.Manifests = []plan.ManifestDecision{
						{Digest: dA, Action: plan.Keep, Rule: plan.RuleSharedDigest, Reason: "also tagged latest, which is kept"},
						{Digest: dI, Action: plan.Delete, Tags: []string{"pr-1"}},
					}
					p.Tags = freshTags(map[string]string{"pr-1": dI, "sig": dS, "latest": dK, "pr-2": dK, "pr-3": dA, "pr-4": dB})
					return p, nil
				}
			},
			want:      merge(all(Untagged, kU), all(Deleted, kS, kB, kI, kC1, kC2), all(Skipped, kA)),
			wantCalls: 6,
			check: func(t *testing.T, res *Result, _ *fake) {
				if r := find(res, kA); !strings.Contains(r.Reason, "also tagged latest") || !reflect.DeepEqual(r.Tags, []string{"pr-3"}) {
					t.Errorf("skipped record = %+v", r)
				}
				if r := find(res, kI); !reflect.DeepEqual(r.Tags, []string{"pr-1"}) {
					t.Errorf("index tags after recheck = %v", r.Tags)
				}
			},
		},
		{
			// Someone else deleted pr-3 (and, on GitHub Packages, its
			// version A) and pr-2 before the re-check: both are gone, not
			// kept. Before, both were recorded as skipped and listed in
			// kept-tags.
			name: "recheck: tags gone before it are already absent",
			setup: func(f *fake, o *Options) {
				o.Recheck = func(context.Context) (*plan.Plan, error) {
					_, p := fixture()
					p.Phases[0] = nil
					p.Phases[1] = []plan.Op{del(dS), del(dB)}
					p.Manifests = []plan.ManifestDecision{
						{Digest: dA, Action: plan.Keep, Rule: plan.RuleUntaggedOff, Reason: "nothing references it"},
						{Digest: dI, Action: plan.Delete, Tags: []string{"pr-1", "v1"}},
					}
					p.Tags = freshTags(map[string]string{"pr-1": dI, "v1": dI, "sig": dS, "latest": dK, "pr-4": dB})
					return p, nil
				}
			},
			want:      merge(all(AlreadyGone, kU, kA), all(Deleted, kS, kB, kI, kC1, kC2)),
			wantCalls: 5,
			check: func(t *testing.T, res *Result, _ *fake) {
				for k, tags := range map[string][]string{kA: {"pr-3"}, kU: {"pr-2"}} {
					if r := find(res, k); !reflect.DeepEqual(r.Tags, tags) || !strings.Contains(r.Reason, "removed by someone else") {
						t.Errorf("%s: record = %+v, want already absent with tags %v", k, r, tags)
					}
				}
			},
		},
		{
			name: "recheck error deletes nothing",
			setup: func(f *fake, o *Options) {
				o.Recheck = func(context.Context) (*plan.Plan, error) { return nil, errors.New("relist: 503") }
			},
			want:        all(NotAttempted, kU, kS, kA, kB, kI, kC1, kC2),
			wantCalls:   0,
			wantStopped: errors.New("re-check before deleting: relist: 503"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f.cancel = cancel
			var opts Options
			if tt.setup != nil {
				tt.setup(f, &opts)
			}
			g, p := fixture()
			res := Run(ctx, f, g, p, opts)

			if got := outcomes(res); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("outcomes:\n got %v\nwant %v", got, tt.want)
			}
			assertPlanOrder(t, p, res)
			if n := len(f.keys()); tt.wantCalls >= 0 && n != tt.wantCalls {
				t.Errorf("backend calls = %d %v, want %d", n, f.keys(), tt.wantCalls)
			}
			switch {
			case tt.wantStopped == nil && res.Stopped != nil:
				t.Errorf("Stopped = %v, want nil", res.Stopped)
			case tt.wantStopped != nil && res.Stopped == nil:
				t.Errorf("Stopped = nil, want %v", tt.wantStopped)
			case tt.wantStopped != nil && !errors.Is(res.Stopped, tt.wantStopped) && res.Stopped.Error() != tt.wantStopped.Error():
				t.Errorf("Stopped = %v, want %v", res.Stopped, tt.wantStopped)
			}
			for _, r := range res.Records {
				if r.Outcome == Failed && r.Err == nil {
					t.Errorf("failed record without error: %+v", r)
				}
				if r.Outcome == NotAttempted {
					if _, called := f.call(recKey(r.Op)); called {
						t.Errorf("%s recorded not-attempted but the backend was called", recKey(r.Op))
					}
				}
			}
			if tt.check != nil {
				tt.check(t, res, f)
			}
		})
	}
}

// assertPlanOrder: one record per op, in plan order.
func assertPlanOrder(t *testing.T, p *plan.Plan, res *Result) {
	t.Helper()
	var ops []plan.Op
	for _, ph := range p.Phases {
		ops = append(ops, ph...)
	}
	if len(ops) != len(res.Records) {
		t.Fatalf("%d records for %d ops", len(res.Records), len(ops))
	}
	for i, op := range ops {
		if res.Records[i].Op != op {
			t.Errorf("record %d is %v, want %v", i, res.Records[i].Op, op)
		}
		if res.Records[i].Outcome == "" {
			t.Errorf("record %d has no outcome", i)
		}
	}
}

func find(res *Result, key string) Record {
	for _, r := range res.Records {
		if recKey(r.Op) == key {
			return r
		}
	}
	return Record{}
}

func TestRunPhaseOrder(t *testing.T) {
	f := newFake()
	f.delay = time.Millisecond // widen windows so a missing barrier shows
	g, p := fixture()
	res := Run(context.Background(), f, g, p, Options{Concurrency: 8})
	if n := countOutcome(res, Deleted) + countOutcome(res, Untagged); n != 7 {
		t.Fatalf("done = %d, want 7: %v", n, outcomes(res))
	}
	// Every op of phase k ends before any op of phase k+1 starts.
	for k := 0; k+1 < len(p.Phases); k++ {
		for _, a := range p.Phases[k] {
			ca, _ := f.call(recKey(a))
			for _, b := range p.Phases[k+1] {
				cb, _ := f.call(recKey(b))
				if ca.end > cb.start {
					t.Errorf("%s (phase %d) ended at %d after %s (phase %d) started at %d",
						recKey(a), k, ca.end, recKey(b), k+1, cb.start)
				}
			}
		}
	}
	// The safety facts themselves: referrer before subject, index before children.
	s, _ := f.call("delete:" + dS)
	i, _ := f.call("delete:" + dI)
	c, _ := f.call("delete:" + dC1)
	if !(s.end < i.start && i.end < c.start) {
		t.Errorf("order signature %v, index %v, child %v", s, i, c)
	}
}

func TestRunConcurrencyBound(t *testing.T) {
	for _, limit := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			f := newFake()
			f.delay = time.Millisecond
			g := graph.New("registry.test/many", "fake", graph.Capabilities{DeleteManifest: true})
			var ops []plan.Op
			for n := 100; n < 140; n++ {
				g.SetTag(fmt.Sprintf("pr-%d", n), dg(n))
				ops = append(ops, del(dg(n)))
			}
			g.Finish()
			p := &plan.Plan{Repository: g.Repository, Phases: [][]plan.Op{ops}}
			res := Run(context.Background(), f, g, p, Options{Concurrency: limit})
			if countOutcome(res, Deleted) != len(ops) {
				t.Fatalf("deleted %d of %d", countOutcome(res, Deleted), len(ops))
			}
			if f.peak > limit {
				t.Errorf("peak in flight %d > limit %d", f.peak, limit)
			}
			if len(f.deleted) != len(ops) {
				t.Errorf("backend deleted %d, want %d (duplicates or misses)", len(f.deleted), len(ops))
			}
		})
	}
}

func TestRunProgress(t *testing.T) {
	f := newFake()
	g, p := fixture()
	var mu sync.Mutex
	var calls [][2]int
	res := Run(context.Background(), f, g, p, Options{
		ProgressEvery: time.Microsecond,
		Waited:        func() time.Duration { return 3 * time.Second },
		Progress: func(done, total int, waited time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			if waited != 3*time.Second {
				t.Errorf("waited = %v", waited)
			}
			calls = append(calls, [2]int{done, total})
		},
	})
	mu.Lock()
	defer mu.Unlock()
	if len(calls) == 0 {
		t.Fatal("progress never called")
	}
	last := calls[len(calls)-1]
	if last != [2]int{len(res.Records), len(res.Records)} {
		t.Errorf("last progress = %v, want all done", last)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] < calls[i-1][0] {
			t.Errorf("progress went backwards: %v", calls)
		}
	}
}

func TestRunEmptyPlan(t *testing.T) {
	f := newFake()
	called := false
	res := Run(context.Background(), f, nil, &plan.Plan{}, Options{
		Recheck: func(context.Context) (*plan.Plan, error) { called = true; return &plan.Plan{}, nil },
	})
	if len(res.Records) != 0 || res.Stopped != nil || called {
		t.Errorf("empty plan: %+v, recheck called %v", res, called)
	}
}

// countOutcome returns how many records have outcome o.
func countOutcome(r *Result, o Outcome) int {
	n := 0
	for _, rec := range r.Records {
		if rec.Outcome == o {
			n++
		}
	}
	return n
}
