package transport

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// When a request is sent again, and after how long: which methods and
// failures are retried, backoff, and the server's own Retry-After.

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
