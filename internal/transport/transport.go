// Package transport is the one HTTP transport every backend shares: retries
// with backoff and jitter that honour Retry-After and rate-limit headers,
// pacing of deletions under a request rate, bounded bodies, and counters for
// the summary and the benchmark.
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Defaults for a zero Options.
const (
	DefaultMaxRetries = 5
	// DefaultMaxWait is the longest single wait for a rate limit: longer
	// (an hour-long primary-limit reset) stops the run with the reset time,
	// rather than holding a CI job idle.
	DefaultMaxWait     = 10 * time.Minute
	DefaultBackoffBase = 250 * time.Millisecond
	DefaultBackoffMax  = 15 * time.Second
	// DefaultResponseTimeout is generous: a registry answering a DELETE of a
	// large index can take a while, one that says nothing for a minute is stuck.
	DefaultResponseTimeout = 60 * time.Second
)

// Options configure a Transport.
type Options struct {
	// Base is the underlying transport; nil means a clone of http.DefaultTransport.
	Base http.RoundTripper
	// Insecure skips TLS verification (plain HTTP is a matter of the URL scheme).
	Insecure bool
	// MaxRetries bounds retries of one request (default 5; negative: none).
	MaxRetries int
	// MaxWait is the longest single wait for a rate limit or pacing
	// (default DefaultMaxWait); a longer one, or one past the deadline of the
	// run (see WithRun), is not made: the request fails with a *WaitError.
	// Waiting has no other bound: an operation queued behind the pacer is
	// not failing.
	MaxWait time.Duration
	// DeleteRate, if > 0, paces DELETE requests to at most this many per second.
	DeleteRate float64
	// PointsPerMinute, if > 0, paces requests that carry a cost (WithCost)
	// so that the points sent in any minute stay within it (GitHub's
	// secondary limit counts REST points).
	PointsPerMinute float64
	// Serial sends requests that carry a cost one at a time (GitHub asks
	// for serial REST calls).
	Serial bool
	// LimitWait, if > 0, is the wait after a rate-limit refusal that says
	// no time (GitHub: "at least one minute"), doubled for each such
	// refusal in a row; 0 uses the ordinary backoff.
	LimitWait time.Duration
	// MaxConcurrent, if > 0, bounds requests in flight through this
	// transport, whoever sends them: repositories swept at once share one
	// budget instead of multiplying it.
	MaxConcurrent int
	// ResponseTimeout bounds the wait for a response's headers when Base is
	// nil (default 60s): a registry that hangs costs a retry, not the job.
	ResponseTimeout time.Duration

	// BackoffBase and BackoffMax shape the exponential backoff used when the
	// server gives no hint: attempt n waits a random time in
	// [0, min(BackoffMax, BackoffBase*2^n)) ("full jitter").
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// Sleep waits for d or until ctx ends; nil means a real timer. Tests
	// inject one that returns at once and records the waits, or a scaled
	// clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used for HTTP-date and epoch headers and pacing; nil
	// means time.Now.
	Now func() time.Time
	// Jitter returns a random duration in [0, max); nil means math/rand/v2.
	Jitter func(max time.Duration) time.Duration
}

// Stats are what the transport counted.
type Stats struct {
	Requests    map[string]int `json:"requests"` // by method, every attempt
	Retries     int            `json:"retries"`
	Waited      time.Duration  `json:"waited"` // wall-clock time during which some request waited (backoff, Retry-After, pacing)
	MaxInFlight int            `json:"maxInFlight"`
}

// Total is the number of requests of every method.
func (s Stats) Total() int {
	n := 0
	for _, v := range s.Requests {
		n += v
	}
	return n
}

// Transport is an http.RoundTripper safe for concurrent use.
type Transport struct {
	base http.RoundTripper
	opts Options

	mu       sync.Mutex
	stats    Stats
	inFlight int
	// nextDelete and nextPoints are the earliest times the next DELETE, and
	// the next request with a cost, may start (pacing).
	nextDelete, nextPoints time.Time
	// slots is the MaxConcurrent semaphore (nil: unbounded); serial is the
	// one slot of requests with a cost under Options.Serial.
	slots, serial chan struct{}
	// limits hold every request to a host back after it said "wait until"
	// (429 Retry-After, a window spent), so that concurrent workers do not
	// keep hammering a registry that already asked them to stop.
	limits map[string]*hostLimit
	// refusals counts rate-limit refusals without a hint in a row.
	refusals int
	// waiting requests since waitFrom: Stats.Waited is wall-clock time.
	waiting  int
	waitFrom time.Time
}

// New returns a Transport.
func New(opts Options) *Transport {
	base := opts.Base
	if base == nil {
		ht := http.DefaultTransport.(*http.Transport).Clone()
		// Registries are few hosts with many requests: keep connections.
		ht.MaxIdleConnsPerHost = 64
		ht.ResponseHeaderTimeout = opts.ResponseTimeout
		if ht.ResponseHeaderTimeout <= 0 {
			ht.ResponseHeaderTimeout = DefaultResponseTimeout
		}
		if opts.Insecure {
			ht.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it
		}
		base = ht
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = DefaultMaxRetries
	}
	if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultBackoffMax
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Jitter == nil {
		opts.Jitter = func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return rand.N(max)
		}
	}
	t := &Transport{base: base, opts: opts, stats: Stats{Requests: map[string]int{}}, limits: map[string]*hostLimit{}}
	if opts.MaxConcurrent > 0 {
		t.slots = make(chan struct{}, opts.MaxConcurrent)
	}
	if opts.Serial {
		t.serial = make(chan struct{}, 1)
	}
	return t
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Stats returns a copy of the counters.
func (t *Transport) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	if t.waiting > 0 {
		s.Waited += max(t.opts.Now().Sub(t.waitFrom), 0)
	}
	s.Requests = make(map[string]int, len(t.stats.Requests))
	for k, v := range t.stats.Requests {
		s.Requests[k] = v
	}
	return s
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	run := runOf(ctx)
	cost := costOf(ctx)
	host := req.URL.Host
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 {
			var err error
			if r, err = rewind(req); err != nil {
				return nil, err
			}
		}
		var resp *http.Response
		var err error
		for {
			if err := t.await(ctx, run, req.Method, host, cost); err != nil {
				return nil, err
			}
			// A hold set while this request waited for a free slot sends
			// it back to wait.
			if resp, err = t.send(r, run, cost); !errors.Is(err, errHeld) {
				break
			}
		}
		if resp != nil {
			t.observe(host, resp.Header)
		}
		if ctx.Err() != nil {
			// The caller gave up; whatever happened is theirs to see.
			return resp, err
		}
		delay, again, refused := t.shouldRetry(req, resp, err, attempt)
		if !again || attempt >= t.opts.MaxRetries {
			return resp, err
		}
		if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
			return resp, err // cannot replay the body
		}
		if limit, bound := t.waitBound(run, t.opts.Now()); delay > limit {
			if !refused {
				return resp, err
			}
			// The server refused it: nothing happened, and the run stops
			// here rather than failing every request after it.
			drop(resp)
			return nil, &WaitError{Host: host, Until: t.opts.Now().Add(delay), Wait: delay,
				Why: fmt.Sprintf("%s answered %d, a rate limit, asking to wait", host, resp.StatusCode), Bound: bound}
		}
		if err != nil {
			markResent(ctx)
		}
		drop(resp)
		t.mu.Lock()
		t.stats.Retries++
		t.mu.Unlock()
		if err := t.wait(ctx, run, delay, refused); err != nil {
			return nil, err
		}
	}
}

// drop drains a little of an answer so the connection can be reused, then
// closes it.
func drop(resp *http.Response) {
	if resp != nil {
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		resp.Body.Close()
	}
}

// send does one attempt and keeps the counters.
func (t *Transport) send(r *http.Request, run context.Context, cost int) (*http.Response, error) {
	for _, sem := range []chan struct{}{t.serialFor(cost), t.slots} {
		if sem == nil {
			continue
		}
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		case <-r.Context().Done():
			return nil, fmt.Errorf("%w: %w", ErrNotSent, r.Context().Err())
		case <-run.Done():
			return nil, fmt.Errorf("%w: the run stopped while it waited: %w", ErrNotSent, context.Cause(run))
		}
	}
	if cost > 0 && t.serial != nil {
		if err := t.paceInline(r.Context(), run, r.Method, r.URL.Host, cost); err != nil {
			return nil, err
		}
	}
	if t.held(t.opts.Now(), r.URL.Host) > 0 {
		return nil, errHeld
	}
	t.mu.Lock()
	t.stats.Requests[r.Method]++
	t.inFlight++
	if t.inFlight > t.stats.MaxInFlight {
		t.stats.MaxInFlight = t.inFlight
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.inFlight--
		t.mu.Unlock()
	}()
	return t.base.RoundTrip(r)
}

// rewind returns a copy of req with a fresh body for another attempt.
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r, nil
	}
	if req.GetBody == nil {
		return nil, fmt.Errorf("%s %s: request body cannot be replayed for a retry", req.Method, req.URL.Redacted())
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("%s %s: replay body: %w", req.Method, req.URL.Redacted(), err)
	}
	r.Body = body
	return r, nil
}

// errHeld sends a request back to wait: a hold began while it waited for a
// free slot.
var errHeld = errors.New("held by a rate limit")

// serialFor is the semaphore a request with this cost takes, if any.
func (t *Transport) serialFor(cost int) chan struct{} {
	if cost > 0 {
		return t.serial
	}
	return nil
}

// CloseIdleConnections closes the kept-alive connections of the underlying
// transport, so that a run done in-process (tests, the demo) leaves no open
// sockets behind.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
