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
	DefaultMaxRetries  = 5
	DefaultMaxWait     = 2 * time.Minute
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
	// MaxWait bounds the total time one request may spend waiting (default 2m).
	MaxWait time.Duration
	// DeleteRate, if > 0, paces DELETE requests to at most this many per second.
	DeleteRate float64
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
	// inject one that returns at once and records the waits.
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
	Waited      time.Duration  `json:"waited"` // time spent in backoff, Retry-After and pacing
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
	// nextDelete is the earliest time the next DELETE may start (pacing).
	nextDelete time.Time
	// slots is the MaxConcurrent semaphore (nil: unbounded).
	slots chan struct{}
	// notBefore holds every request back after a server said "wait until"
	// (429 Retry-After, rate limit exhausted), so that concurrent workers do
	// not keep hammering a registry that already asked them to stop.
	notBefore time.Time
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
	t := &Transport{base: base, opts: opts, stats: Stats{Requests: map[string]int{}}}
	if opts.MaxConcurrent > 0 {
		t.slots = make(chan struct{}, opts.MaxConcurrent)
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
	var waited time.Duration // this request's total wait, bounded by MaxWait

	if req.Method == http.MethodDelete && t.opts.DeleteRate > 0 {
		d := t.reserveDelete()
		if d > 0 {
			if err := t.wait(ctx, d, &waited); err != nil {
				return nil, err
			}
		}
	}

	for attempt := 0; ; attempt++ {
		if d := t.holdBack(); d > 0 {
			if waited+d > t.opts.MaxWait {
				d = max(t.opts.MaxWait-waited, 0)
			}
			if err := t.wait(ctx, d, &waited); err != nil {
				return nil, err
			}
		}
		r := req
		if attempt > 0 {
			var err error
			if r, err = rewind(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.send(r)
		if ctx.Err() != nil {
			// The caller gave up; whatever happened is theirs to see.
			return resp, err
		}
		delay, again := t.shouldRetry(req, resp, err, attempt)
		if !again || attempt >= t.opts.MaxRetries || waited+delay > t.opts.MaxWait {
			return resp, err
		}
		if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
			return resp, err // cannot replay the body
		}
		if resp != nil {
			// Drain a little so the connection can be reused, then drop it.
			_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
			resp.Body.Close()
		}
		t.mu.Lock()
		t.stats.Retries++
		t.mu.Unlock()
		if err := t.wait(ctx, delay, &waited); err != nil {
			return nil, err
		}
	}
}

// send does one attempt and keeps the counters.
func (t *Transport) send(r *http.Request) (*http.Response, error) {
	if t.slots != nil {
		select {
		case t.slots <- struct{}{}:
			defer func() { <-t.slots }()
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
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

// wait sleeps d (cancellable) and accounts for it.
func (t *Transport) wait(ctx context.Context, d time.Duration, waited *time.Duration) error {
	if d <= 0 {
		return nil
	}
	start := t.opts.Now()
	err := t.opts.Sleep(ctx, d)
	// With an injected clock that does not move, count the asked duration.
	spent := t.opts.Now().Sub(start)
	if spent <= 0 || err == nil && spent < d {
		spent = d
	}
	*waited += spent
	t.mu.Lock()
	t.stats.Waited += spent
	t.mu.Unlock()
	if err != nil {
		return fmt.Errorf("waiting before retry: %w", err)
	}
	return nil
}

// reserveDelete takes the next DELETE slot and returns how long to wait
// for it. Burst is one: pacing exists to stay under a server's limit, so it
// never front-loads.
func (t *Transport) reserveDelete() time.Duration {
	interval := time.Duration(float64(time.Second) / t.opts.DeleteRate)
	now := t.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	slot := t.nextDelete
	if slot.Before(now) {
		slot = now
	}
	t.nextDelete = slot.Add(interval)
	return slot.Sub(now)
}

func (t *Transport) holdBack() time.Duration {
	now := t.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.notBefore.After(now) {
		return t.notBefore.Sub(now)
	}
	return 0
}

// shouldRetry decides whether attempt n (0-based) deserves another and how
// long to wait first.
func (t *Transport) shouldRetry(req *http.Request, resp *http.Response, err error, n int) (time.Duration, bool) {
	if err != nil {
		if !retryable(req.Method) || !transientError(err) {
			return 0, false
		}
		return t.backoff(n), true
	}
	h := resp.Header
	hinted, ok := t.serverDelay(h)
	if resp.StatusCode < 300 {
		// This answer spent the last request of a rate-limit window (GitHub's
		// x-ratelimit-remaining: 0): hold every request until the window
		// resets instead of being refused. A reset further away than a
		// request may wait is left to the refusal, which fails fast.
		if ok && h.Get("X-Ratelimit-Remaining") == "0" && hinted <= t.opts.MaxWait {
			t.holdUntil(t.opts.Now().Add(hinted))
		}
		return 0, false
	}
	limited := resp.StatusCode == http.StatusTooManyRequests ||
		// GitHub: primary limit exhausted, or the secondary limit (403 + retry-after).
		(resp.StatusCode == http.StatusForbidden && (ok || h.Get("X-Ratelimit-Remaining") == "0"))
	switch {
	case limited:
		// The server refused to act: safe to send again whatever the method.
	case resp.StatusCode == http.StatusInternalServerError, resp.StatusCode == http.StatusBadGateway,
		resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		if !retryable(req.Method) {
			return 0, false
		}
	default:
		return 0, false
	}
	if ok {
		if limited {
			// Everyone waits, not only this request.
			t.holdUntil(t.opts.Now().Add(hinted))
		}
		return hinted, true
	}
	return t.backoff(n), true
}

// holdUntil holds every request back until the given time.
func (t *Transport) holdUntil(until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until.After(t.notBefore) {
		t.notBefore = until
	}
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
