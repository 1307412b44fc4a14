package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func secondaryBody(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`)
}

// GitHub's secondary limit answered with 403 and no retry-after: at least a
// minute, doubling while it repeats; a 403 that is a permission problem
// stays final, its message intact.
func TestSecondaryLimitWithoutRetryAfter(t *testing.T) {
	srv, calls := scripted(t, secondaryBody, secondaryBody, status(204))
	c := newFakeClock()
	tr := newTestTransport(c, Options{LimitWait: time.Minute})
	resp, err := do(t, tr, http.MethodDelete, srv.URL, nil)
	if err != nil || resp.StatusCode != http.StatusNoContent || calls.Load() != 3 {
		t.Fatalf("resp %v err %v after %d calls, want 204 after 3", resp, err, calls.Load())
	}
	if got, want := c.Sleeps(), []time.Duration{time.Minute, 2 * time.Minute}; !equalDurations(got, want) {
		t.Fatalf("sleeps = %v, want %v", got, want)
	}

	forbidden := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"message":"Resource not accessible by integration"}`)
	}
	srv, calls = scripted(t, forbidden, status(204))
	resp, err = do(t, newTestTransport(newFakeClock(), Options{LimitWait: time.Minute}), http.MethodDelete, srv.URL, nil)
	if err != nil || resp.StatusCode != http.StatusForbidden || calls.Load() != 1 {
		t.Fatalf("resp %v err %v after %d calls, want the 403 after 1", resp, err, calls.Load())
	}
	if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), "not accessible") {
		t.Fatalf("body = %q: the message was lost", b)
	}
}

// A Retry-After of 55 s is waited out, however long: waiting is not
// failing. With a run deadline 30 s away the same wait stops at once, with
// the time it would have ended and what it was longer than.
func TestLongRetryAfterWaitedOrStopped(t *testing.T) {
	srv, calls := scripted(t, status(403, "Retry-After", "55"), status(204))
	c := newFakeClock()
	resp, err := do(t, newTestTransport(c, Options{}), http.MethodDelete, srv.URL, nil)
	if err != nil || resp.StatusCode != http.StatusNoContent || calls.Load() != 2 {
		t.Fatalf("resp %v err %v after %d calls", resp, err, calls.Load())
	}
	if got := c.Sleeps(); !equalDurations(got, []time.Duration{55 * time.Second}) {
		t.Fatalf("sleeps = %v", got)
	}

	srv, calls = scripted(t, status(403, "Retry-After", "55"), status(204))
	tr := New(Options{Sleep: c.Sleep}) // the real clock, as the deadline is real
	run, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(WithRun(context.Background(), run), http.MethodDelete, srv.URL, nil)
	_, err = tr.RoundTrip(req)
	var we *WaitError
	if !errors.As(err, &we) || !errors.Is(err, ErrNotSent) || !strings.Contains(err.Error(), "what remains of the run's timeout") || calls.Load() != 1 {
		t.Fatalf("err = %v after %d calls, want a WaitError bounded by the timeout after 1", err, calls.Load())
	}
	if we.Wait != 55*time.Second && (we.Wait < 54*time.Second || we.Wait > 56*time.Second) {
		t.Fatalf("wait = %v, want 55s", we.Wait)
	}
}

// A request queued behind the pacer when the run stops is never sent.
func TestRunStopWhileQueued(t *testing.T) {
	srv, calls := scripted(t, status(204))
	tr := New(Options{DeleteRate: 0.5})
	run, cancel := context.WithCancel(context.Background())
	ctx := WithRun(context.Background(), run)
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, srv.URL, nil)
	if _, err := tr.RoundTrip(req); err != nil { // takes the first slot
		t.Fatal(err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	req, _ = http.NewRequestWithContext(ctx, http.MethodDelete, srv.URL, nil)
	_, err := tr.RoundTrip(req)
	if !errors.Is(err, ErrNotSent) || !errors.Is(err, context.Canceled) || calls.Load() != 1 {
		t.Fatalf("err = %v after %d calls, want not sent after 1", err, calls.Load())
	}
}

// After a hold, the held DELETEs go out one pace apart, not together.
func TestPacingResumesAfterHold(t *testing.T) {
	const interval = 200 * time.Millisecond
	var mu sync.Mutex
	var sent []time.Time
	var first atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		mu.Lock()
		sent = append(sent, time.Now())
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	tr := New(Options{DeleteRate: float64(time.Second / interval)})
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodDelete, srv.URL, nil)
			resp, err := tr.RoundTrip(req)
			if err != nil || resp.StatusCode != http.StatusNoContent {
				t.Errorf("%v %v", resp, err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	if len(sent) != 5 {
		t.Fatalf("%d DELETEs accepted, want 5", len(sent))
	}
	for i := 1; i < len(sent); i++ {
		// Half the interval: scheduling on a busy machine may delay one
		// send, never bring two together.
		if gap := sent[i].Sub(sent[i-1]); gap < interval/2 {
			t.Errorf("DELETEs %d and %d went out %v apart after the hold, want about %v", i-1, i, gap, interval)
		}
	}
}

// Two requests waiting out the same hold wait one second of wall-clock
// time, not two.
func TestWaitedIsWallClock(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	tr := New(Options{})
	var arrived sync.WaitGroup
	arrived.Add(2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			arrived.Done()
			arrived.Wait()
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
			if resp, err := tr.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if w := tr.Stats().Waited; w < time.Second || w > 1700*time.Millisecond {
		t.Fatalf("Waited = %v for two requests holding together for 1s, want about 1s", w)
	}
}

// Rate-limit headers read ahead of time: a window nearly spent spaces the
// requests left until its reset (GitHub), or at the window's average pace
// when the answer names no reset (Docker Hub's `N;w=SECONDS`); plenty left
// spaces nothing.
func TestRateLimitHeadersAhead(t *testing.T) {
	reset := strconv.FormatInt(newFakeClock().Now().Add(9*time.Second).Unix(), 10)
	for _, c := range []struct {
		name string
		hdr  []string
		want []time.Duration
	}{
		{"plenty left", []string{"X-Ratelimit-Limit", "5000", "X-Ratelimit-Remaining", "4000", "X-Ratelimit-Reset", reset}, nil},
		{"GitHub nearly spent", []string{"X-Ratelimit-Limit", "100", "X-Ratelimit-Remaining", "4", "X-Ratelimit-Reset", reset},
			[]time.Duration{2 * time.Second, 2 * time.Second}},
		{"Docker Hub nearly spent", []string{"Ratelimit-Limit", "100;w=21600", "Ratelimit-Remaining", "6;w=21600"},
			[]time.Duration{216 * time.Second, 216 * time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c0 := newFakeClock()
			srv, _ := scripted(t, status(200, c.hdr...))
			tr := newTestTransport(c0, Options{})
			// The first answer tells; the second request goes at once, the
			// next ones one space apart.
			for range 4 {
				if _, err := do(t, tr, http.MethodGet, srv.URL, nil); err != nil {
					t.Fatal(err)
				}
			}
			if got := c0.Sleeps(); !equalDurations(got, c.want) {
				t.Fatalf("sleeps = %v, want %v", got, c.want)
			}
		})
	}
}

// A points budget paces every request that carries a cost, GETs included,
// and Serial sends them one at a time.
func TestPointsBudget(t *testing.T) {
	var inFlight, most atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}))
	defer srv.Close()
	c := newFakeClock()
	tr := newTestTransport(c, Options{PointsPerMinute: 600, Serial: true}) // 10 points a second
	for _, cost := range []int{1, 5, 1, 0} {
		req, _ := http.NewRequestWithContext(WithCost(context.Background(), cost), http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// After the 1-point GET 100 ms, after the 5-point one 500 ms; the
	// request without a cost is not paced.
	if got, want := c.Sleeps(), []time.Duration{100 * time.Millisecond, 500 * time.Millisecond}; !equalDurations(got, want) {
		t.Fatalf("sleeps = %v, want %v", got, want)
	}
	var wg sync.WaitGroup
	tr = New(Options{Serial: true})
	for range 4 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(WithCost(context.Background(), 1), http.MethodGet, srv.URL, nil)
			if resp, err := tr.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d requests with a cost in flight at once, want 1 (serial)", most.Load())
	}
}
