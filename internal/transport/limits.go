package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The rate-limit side of the transport: when a request may go out (holds,
// pacing, a points budget, spreading what is left of a window), how long a
// wait may be, and what a refusal without a hint costs.

// ErrNotSent marks an error returned before the request reached the server,
// or after the server refused it for a rate limit: the server did nothing,
// so a record may say the operation was not attempted.
var ErrNotSent = errors.New("request not sent")

// ErrWaitTooLong marks a wait for a rate limit that is longer than the
// longest accepted wait (Options.MaxWait) or than what remains of the run's
// deadline. The run should stop before its next request.
var ErrWaitTooLong = errors.New("rate-limit wait too long")

// WaitError is a wait the transport refused to make.
type WaitError struct {
	Host  string
	Until time.Time     // when the request could have gone out
	Wait  time.Duration // how long that was from now
	Why   string        // what asked for the wait
	Bound string        // what the wait was longer than
}

func (e *WaitError) Error() string {
	at := e.Until.UTC().Format("15:04:05 UTC")
	return fmt.Sprintf("%s until %s (%s from now), longer than %s: stopped before the next request; run again after %s",
		e.Why, at, e.Wait.Round(time.Second), e.Bound, at)
}

// Is makes a WaitError match ErrWaitTooLong and ErrNotSent.
func (e *WaitError) Is(target error) bool { return target == ErrWaitTooLong || target == ErrNotSent }

type runKey struct{}
type costKey struct{}
type resentKey struct{}

// WithResent returns ctx and a flag set when a request is sent again after
// an attempt whose answer never came (a reset, a timeout): that attempt may
// have been acted on, so a DELETE's 404 then is this run's own deletion,
// not a manifest that was already absent.
func WithResent(ctx context.Context) (context.Context, *atomic.Bool) {
	f := &atomic.Bool{}
	return context.WithValue(ctx, resentKey{}, f), f
}

func markResent(ctx context.Context) {
	if f, ok := ctx.Value(resentKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}

// WithRun returns ctx carrying run, the context of the whole run: waits for
// pacing and rate limits end when run ends (the request is then not sent)
// and are bounded by run's deadline, while ctx itself, which may outlive
// run (an operation allowed to finish after a cancel), bounds the request.
func WithRun(ctx, run context.Context) context.Context {
	return context.WithValue(ctx, runKey{}, run)
}

func runOf(ctx context.Context) context.Context {
	if run, ok := ctx.Value(runKey{}).(context.Context); ok {
		return run
	}
	return ctx
}

// WithCost returns ctx marking its requests as costing points of a budget
// (Options.PointsPerMinute) and, with Options.Serial, sent one at a time.
func WithCost(ctx context.Context, points int) context.Context {
	return context.WithValue(ctx, costKey{}, points)
}

func costOf(ctx context.Context) int {
	c, _ := ctx.Value(costKey{}).(int)
	return max(c, 0)
}

// hostLimit is what one host's answers said about its rate limit.
type hostLimit struct {
	// notBefore holds every request back (a refusal's Retry-After, a window
	// spent); why says what asked for it.
	notBefore time.Time
	why       string
	// every spaces requests until `until`, spreading the few left in a
	// window over the time before it resets; next is the next free slot.
	every       time.Duration
	until, next time.Time
}

func (t *Transport) limitLocked(host string) *hostLimit {
	hl, ok := t.limits[host]
	if !ok {
		hl = &hostLimit{}
		t.limits[host] = hl
	}
	return hl
}

// reserve takes the earliest slot at which a request may go out, given the
// holds, the spreading, the DELETE pacing and the points budget, and books
// it in every schedule it is subject to, so that requests released after a
// hold still go out one pace apart.
func (t *Transport) reserve(now time.Time, method, host string, cost int) (time.Time, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	slot, why := now, ""
	later := func(at time.Time, reason string) {
		if at.After(slot) {
			slot, why = at, reason
		}
	}
	hl := t.limitLocked(host)
	later(hl.notBefore, hl.why)
	spread := hl.every > 0 && now.Before(hl.until)
	if spread {
		later(hl.next, "the rate limit of "+host+" is nearly spent, spacing the requests left")
	}
	// Requests sent one at a time are paced once they hold their turn
	// (paceInline), from the time they really go out.
	inline := cost > 0 && t.serial != nil
	deletes := method == http.MethodDelete && t.opts.DeleteRate > 0 && !inline
	if deletes {
		later(t.nextDelete, t.deletePacing())
	}
	points := cost > 0 && t.opts.PointsPerMinute > 0 && !inline
	if points {
		later(t.nextPoints, t.pointsPacing())
	}
	if spread {
		hl.next = slot.Add(hl.every)
	}
	if deletes {
		t.nextDelete = slot.Add(time.Duration(float64(time.Second) / t.opts.DeleteRate))
	}
	if points {
		t.nextPoints = slot.Add(time.Duration(float64(cost) * float64(time.Minute) / t.opts.PointsPerMinute))
	}
	return slot, why
}

func (t *Transport) deletePacing() string {
	return fmt.Sprintf("pacing at %g deletions a second queues this request", t.opts.DeleteRate)
}

func (t *Transport) pointsPacing() string {
	return fmt.Sprintf("pacing under %g points a minute queues this request", t.opts.PointsPerMinute)
}

// paceInline paces a request that holds the one serial turn, from the time
// it really goes out: nothing can go between, so time spent waiting for the
// turn never brings two requests closer than their pace (a points budget
// counted where they arrive would see that).
func (t *Transport) paceInline(ctx, run context.Context, method, host string, cost int) error {
	for {
		now := t.opts.Now()
		t.mu.Lock()
		slot, why := now, ""
		deletes := method == http.MethodDelete && t.opts.DeleteRate > 0
		if deletes && t.nextDelete.After(slot) {
			slot, why = t.nextDelete, t.deletePacing()
		}
		points := t.opts.PointsPerMinute > 0
		if points && t.nextPoints.After(slot) {
			slot, why = t.nextPoints, t.pointsPacing()
		}
		if !slot.After(now) {
			if deletes {
				t.nextDelete = now.Add(time.Duration(float64(time.Second) / t.opts.DeleteRate))
			}
			if points {
				t.nextPoints = now.Add(time.Duration(float64(cost) * float64(time.Minute) / t.opts.PointsPerMinute))
			}
			t.mu.Unlock()
			return nil
		}
		t.mu.Unlock()
		d := slot.Sub(now)
		if limit, bound := t.waitBound(run, now); d > limit {
			return &WaitError{Host: host, Until: slot, Wait: d, Why: why, Bound: bound}
		}
		if err := t.wait(ctx, run, d, true); err != nil {
			return err
		}
	}
}

// held is how long host still holds every request back.
func (t *Transport) held(now time.Time, host string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if hl, ok := t.limits[host]; ok && hl.notBefore.After(now) {
		return hl.notBefore.Sub(now)
	}
	return 0
}

// holdUntil holds every request to host back until the given time.
func (t *Transport) holdUntil(host string, until time.Time, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if hl := t.limitLocked(host); until.After(hl.notBefore) {
		hl.notBefore, hl.why = until, why
	}
}

// waitBound is the longest wait accepted now: MaxWait, or what remains of
// the run's deadline when that is shorter.
func (t *Transport) waitBound(run context.Context, now time.Time) (time.Duration, string) {
	limit := t.opts.MaxWait
	bound := fmt.Sprintf("the longest wait regsweep accepts (%s)", limit)
	if dl, ok := run.Deadline(); ok && dl.Sub(now) < limit {
		limit = max(dl.Sub(now), 0)
		bound = fmt.Sprintf("what remains of the run's timeout (%s)", limit.Round(time.Second))
	}
	return limit, bound
}

// await waits until the request may go out. A wait longer than waitBound
// is not made: it returns a *WaitError. When run ends first, the request is
// not sent.
func (t *Transport) await(ctx, run context.Context, method, host string, cost int) error {
	for {
		now := t.opts.Now()
		slot, why := t.reserve(now, method, host, cost)
		d := slot.Sub(now)
		if d <= 0 {
			return nil
		}
		if limit, bound := t.waitBound(run, now); d > limit {
			return &WaitError{Host: host, Until: slot, Wait: d, Why: why, Bound: bound}
		}
		if err := t.wait(ctx, run, d, true); err != nil {
			return err
		}
		// A hold set while this request waited for its slot: book again
		// after it, behind the requests already booked there.
		if t.held(t.opts.Now(), host) <= 0 {
			return nil
		}
	}
}

// wait sleeps d, or until ctx or run ends, and counts the wall-clock time
// during which at least one request was waiting. notSent says the server
// has done nothing for this request so far.
func (t *Transport) wait(ctx, run context.Context, d time.Duration, notSent bool) error {
	if d <= 0 {
		return nil
	}
	sctx := ctx
	if run != ctx {
		var cancel context.CancelFunc
		sctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(run, cancel)()
	}
	t.beginWait()
	err := t.opts.Sleep(sctx, d)
	t.endWait()
	if err == nil {
		return nil
	}
	cause := ctx.Err()
	if cause == nil {
		cause = context.Cause(run)
	}
	if cause == nil {
		cause = err
	}
	if notSent {
		return fmt.Errorf("%w: the run stopped while it waited: %w", ErrNotSent, cause)
	}
	return fmt.Errorf("waiting before retry: %w", cause)
}

func (t *Transport) beginWait() {
	now := t.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.waiting == 0 {
		t.waitFrom = now
	}
	t.waiting++
}

func (t *Transport) endWait() {
	now := t.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.waiting--
	if t.waiting == 0 {
		t.stats.Waited += max(now.Sub(t.waitFrom), 0)
	}
}

// lowFraction: a window with at most this share of its requests left is
// nearly spent, and what is left is spread until it resets.
const lowFraction = 0.1

// observe reads an answer's rate-limit headers ahead of any refusal:
// GitHub's x-ratelimit-limit/-remaining/-reset (epoch seconds), the IETF
// draft's ratelimit-limit/-remaining/-reset (seconds), and Docker Hub's
// values in the form `100;w=21600` (w: the window in seconds). A window
// spent holds every request to the host until it resets; a window nearly
// spent spaces them so that what is left lasts until the reset.
func (t *Transport) observe(host string, h http.Header) {
	remaining, window, ok := limitValue(h, "X-Ratelimit-Remaining", "Ratelimit-Remaining")
	if !ok {
		return
	}
	limit, w2, _ := limitValue(h, "X-Ratelimit-Limit", "Ratelimit-Limit")
	window = max(window, w2)
	now := t.opts.Now()
	var reset time.Time
	if v := h.Get("X-Ratelimit-Reset"); v != "" {
		if sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && sec >= epochThreshold {
			// Add a second: the reset is truncated to seconds.
			reset = time.Unix(sec, 0).Add(time.Second)
		}
	}
	if v := h.Get("Ratelimit-Reset"); reset.IsZero() && v != "" {
		if d, ok := parseDelay(v, now); ok {
			reset = now.Add(d)
		}
	}
	low := remaining <= 0 || limit > 0 && float64(remaining) <= lowFraction*float64(limit)
	t.mu.Lock()
	defer t.mu.Unlock()
	hl := t.limitLocked(host)
	switch {
	case !low:
		hl.every = 0 // a new window
	case remaining <= 0 && !reset.IsZero():
		if reset.After(hl.notBefore) {
			hl.notBefore = reset
			hl.why = "the rate limit of " + host + " is spent, holding every request"
		}
	case remaining <= 0:
	case !reset.IsZero() && reset.After(now):
		hl.every, hl.until = reset.Sub(now)/time.Duration(remaining+1), reset
	case window > 0 && limit > 0:
		// No reset time (Docker Hub): the window's average pace.
		hl.every, hl.until = window/time.Duration(limit), now.Add(window)
	}
	if hl.every > 0 && hl.next.Before(now) {
		hl.next = now
	}
}

// limitValue reads the first of the named headers as `N` or `N;w=SECONDS`.
func limitValue(h http.Header, names ...string) (n int, window time.Duration, ok bool) {
	for _, name := range names {
		v := h.Get(name)
		if v == "" {
			continue
		}
		num, params, _ := strings.Cut(v, ";")
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil || n < 0 {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			if k, val, found := strings.Cut(strings.TrimSpace(p), "="); found && strings.EqualFold(k, "w") {
				if s, err := strconv.Atoi(val); err == nil && s > 0 {
					window = time.Duration(s) * time.Second
				}
			}
		}
		return n, window, true
	}
	return 0, 0, false
}

// secondaryLimit reports whether a 403 that names no wait is a rate limit
// (GitHub's secondary limit says so only in its message). The body is read
// (bounded) and put back for the caller.
func secondaryLimit(resp *http.Response) bool {
	if resp.Body == nil {
		return false
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	return err == nil && strings.Contains(strings.ToLower(string(b)), "rate limit")
}

// refusalWait is the wait after a rate-limit refusal that names no time:
// with Options.LimitWait set (GitHub: at least a minute), LimitWait doubled
// for every such refusal in a row; else the ordinary backoff.
func (t *Transport) refusalWait(n int) time.Duration {
	if t.opts.LimitWait <= 0 {
		return t.backoff(n)
	}
	t.mu.Lock()
	streak := t.refusals
	t.refusals++
	t.mu.Unlock()
	d := t.opts.LimitWait
	for i := 0; i < streak && d < 24*time.Hour; i++ {
		d *= 2
	}
	return d
}
