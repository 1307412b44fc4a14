// Package transport is the one HTTP transport every backend shares: retries
// with backoff and jitter that honour Retry-After and rate-limit headers,
// pacing under a request rate, bounded bodies, and counters for the summary
// and the benchmark.
//
// STUB: passthrough until the real implementation lands.
package transport

import (
	"net/http"
	"sync"
	"time"
)

// Options configure a Transport.
type Options struct {
	// Base is the underlying transport; nil means a clone of http.DefaultTransport.
	Base http.RoundTripper
	// Insecure skips TLS verification (plain HTTP is a matter of the URL scheme).
	Insecure bool
	// MaxRetries bounds retries of one request (default 5).
	MaxRetries int
	// MaxWait bounds the total time one request may spend waiting (default 2m).
	MaxWait time.Duration
	// DeleteRate, if > 0, paces DELETE requests to at most this many per second.
	DeleteRate float64
}

// Stats are what the transport counted.
type Stats struct {
	Requests    map[string]int `json:"requests"` // by method, every attempt
	Retries     int            `json:"retries"`
	Waited      time.Duration  `json:"waited"` // time spent in backoff, Retry-After and pacing
	MaxInFlight int            `json:"maxInFlight"`
}

// Transport is an http.RoundTripper safe for concurrent use.
type Transport struct {
	base  http.RoundTripper
	mu    sync.Mutex
	stats Stats
}

// New returns a Transport.
func New(opts Options) *Transport {
	base := opts.Base
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &Transport{base: base, stats: Stats{Requests: map[string]int{}}}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.stats.Requests[req.Method]++
	t.mu.Unlock()
	return t.base.RoundTrip(req)
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
