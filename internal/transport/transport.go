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
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// retryable reports whether a request with this method may be sent again
// after an answer that may or may not have been acted on. DELETE is
// included on purpose: a retried DELETE whose first answer was lost gets
// 404, which the backends count as deleted.
func retryable(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
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

// shouldRetry decides whether attempt n (0-based) deserves another and how
// long to wait first; refused says the server refused it for a rate limit
// (so did nothing).
func (t *Transport) shouldRetry(req *http.Request, resp *http.Response, err error, n int) (delay time.Duration, again, refused bool) {
	if err != nil {
		if !retryable(req.Method) || !transientError(err) {
			return 0, false, false
		}
		return t.backoff(n), true, false
	}
	h := resp.Header
	if resp.StatusCode < 300 {
		t.mu.Lock()
		t.refusals = 0
		t.mu.Unlock()
		return 0, false, false
	}
	hinted, ok := t.serverDelay(h)
	limited := resp.StatusCode == http.StatusTooManyRequests ||
		// GitHub: primary limit spent, or the secondary limit (403, with a
		// retry-after or only its message).
		(resp.StatusCode == http.StatusForbidden && (ok || h.Get("X-Ratelimit-Remaining") == "0" || secondaryLimit(resp)))
	switch {
	case limited:
		// The server refused to act: safe to send again whatever the method.
		if !ok {
			hinted = t.refusalWait(n)
		}
		// Everyone waits, not only this request.
		t.holdUntil(req.URL.Host, t.opts.Now().Add(hinted), req.URL.Host+" refused a request for its rate limit, holding every request")
		return hinted, true, true
	case resp.StatusCode == http.StatusInternalServerError, resp.StatusCode == http.StatusBadGateway,
		resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		if !retryable(req.Method) {
			return 0, false, false
		}
	default:
		return 0, false, false
	}
	if ok {
		return hinted, true, false
	}
	return t.backoff(n), true, false
}

// backoff is full jitter: random in [0, min(max, base*2^n)).
func (t *Transport) backoff(n int) time.Duration {
	d := t.opts.BackoffBase
	for i := 0; i < n && d < t.opts.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, t.opts.BackoffMax)
	return t.opts.Jitter(d)
}

// serverDelay reads how long the server asked us to wait: Retry-After
// (seconds or HTTP date), X-Retry-After (Docker Hub: epoch seconds or
// seconds), or x-ratelimit-remaining: 0 with x-ratelimit-reset (GitHub,
// epoch seconds).
func (t *Transport) serverDelay(h http.Header) (time.Duration, bool) {
	now := t.opts.Now()
	if v := h.Get("Retry-After"); v != "" {
		if d, ok := parseDelay(v, now); ok {
			return d, true
		}
	}
	if v := h.Get("X-Retry-After"); v != "" {
		if d, ok := parseDelay(v, now); ok {
			return d, true
		}
	}
	if h.Get("X-Ratelimit-Remaining") == "0" {
		if v := h.Get("X-Ratelimit-Reset"); v != "" {
			if sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				// Add a second: the reset time is truncated to seconds.
				return max(time.Unix(sec, 0).Sub(now)+time.Second, 0), true
			}
		}
	}
	return 0, false
}

// epochThreshold tells a delay in seconds from a Unix time: no server asks
// for a wait of 30 years.
const epochThreshold = 1_000_000_000

// parseDelay reads a header that is seconds, a Unix time or an HTTP date.
func parseDelay(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n >= epochThreshold {
			return max(time.Unix(n, 0).Sub(now), 0), true
		}
		return time.Duration(n) * time.Second, true
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < epochThreshold {
		return time.Duration(f * float64(time.Second)), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// transientError reports whether a connection-level failure is worth
// another attempt: resets, unexpected EOFs, timeouts. TLS and DNS failures
// and refused connections are not: they are configuration, and retrying
// them only delays the message.
func transientError(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// net/http reports a connection the server closed before answering this way.
	return strings.Contains(err.Error(), "server closed idle connection") ||
		strings.Contains(err.Error(), "connection reset by peer")
}

// ErrBodyTooLarge is returned by ReadLimited when a body exceeds its bound.
var ErrBodyTooLarge = errors.New("response body too large")

// ReadLimited reads all of r but at most n bytes; a longer body is an error
// matching ErrBodyTooLarge, so a hostile server cannot exhaust memory.
func ReadLimited(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, fmt.Errorf("%w (more than %d bytes)", ErrBodyTooLarge, n)
	}
	return b, nil
}

// maxRedirects matches net/http's own limit.
const maxRedirects = 10

// Client returns an http.Client over rt (usually a Transport, or an
// authenticating transport wrapping one) whose redirects never carry
// credentials to another host nor downgrade https to http.
func Client(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: rt, CheckRedirect: CheckRedirect}
}

// CheckRedirect is an http.Client CheckRedirect: registries legitimately
// redirect blob downloads to a storage host, so a redirect to another host
// is followed but without Authorization or cookies (net/http already drops
// them across domains, but keeps them for a subdomain; we drop them for any
// other host). A redirect from https to http is refused.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	first := via[0]
	if first.URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing redirect from https to %s (%s)", req.URL.Scheme, req.URL.Redacted())
	}
	if !strings.EqualFold(req.URL.Host, first.URL.Host) {
		req.Header.Del("Authorization")
		req.Header.Del("Cookie")
		req.Header.Del("Proxy-Authorization")
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
