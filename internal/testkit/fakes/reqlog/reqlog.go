// Package reqlog records what a fake API was asked and what it answered, so
// tests can count requests by method, path and status.
package reqlog

import (
	"net/http"
	"strings"
	"sync"
)

// Request is one answered request.
type Request struct {
	Method string
	Path   string // escaped path, without query
	Query  string
	Status int
}

// Log is safe for concurrent use; its zero value is ready.
type Log struct {
	mu   sync.Mutex
	reqs []Request
}

// Serve runs h and records the request with the status it answered.
func (l *Log) Serve(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request)) {
	rec := &recorder{ResponseWriter: w}
	h(rec, r)
	l.mu.Lock()
	l.reqs = append(l.reqs, Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Status: rec.status})
	l.mu.Unlock()
}

// Requests returns every request answered so far.
func (l *Log) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.reqs...)
}

// Count returns how many requests had method, a path containing part and
// the given status (0: any).
func (l *Log) Count(method, part string, status int) int {
	n := 0
	for _, r := range l.Requests() {
		if r.Method == method && strings.Contains(r.Path, part) && (status == 0 || r.Status == status) {
			n++
		}
	}
	return n
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
