// Package bench measures regsweep against the sequential per-tag loop users
// write today: both sweep identical, freshly seeded repositories
// on an embedded CNCF distribution v3 registry whose every request is
// delayed server-side, and the registry counts what it was asked.
//
// The registry is driven through a small control API under /_bench/ so the
// same code measures an in-process registry (testing.B) and one running in
// a child process (cmd/sweepbench, which keeps the registry's in-memory
// storage out of regsweep's heap figures).
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// controlPrefix is where the meter's control API lives; distribution serves
// nothing there.
const controlPrefix = "/_bench/"

// Counts is what the registry saw since the last reset. Control requests
// are not counted.
type Counts struct {
	Requests map[string]int `json:"requests"` // by method
	// PeakInFlight is the most requests the registry held at once
	// (including their injected delay).
	PeakInFlight int `json:"peakInFlight"`
	// TagResolves counts HEAD/GET of a manifest by tag (not by digest);
	// MaxResolvesPerTag is the most any single tag was asked for.
	TagResolves       int    `json:"tagResolves"`
	MaxResolvesPerTag int    `json:"maxResolvesPerTag"`
	MostResolvedTag   string `json:"mostResolvedTag,omitempty"`
	// Statuses counts answers by method and status ("DELETE 202").
	Statuses map[string]int `json:"statuses"`
	// FirstDelete and LastDelete are when the first and last DELETE
	// arrived (zero without deletes), to measure the deletion rate.
	FirstDelete time.Time `json:"firstDelete"`
	LastDelete  time.Time `json:"lastDelete"`
	// Kinds counts requests by what they ask for ("GET ping", "HEAD
	// manifest-by-tag", "GET tags-list"...), with when the first arrived
	// and the last ended: the timeline shows where a run spends its time.
	Kinds map[string]*Kind `json:"kinds"`
	// Busy is the sum of every request's time in the server (delay
	// included); Busy / wall time is the mean number in flight.
	Busy time.Duration `json:"busy"`
}

// Kind is one kind of request.
type Kind struct {
	N     int       `json:"n"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Handler is the registry's own time (without the injected delay),
	// summed: what the server, not the network, costs.
	Handler time.Duration `json:"handler"`
}

// DeleteRate is DELETEs per second between the first and the last one.
func (c Counts) DeleteRate() float64 {
	n := c.Requests["DELETE"]
	span := c.LastDelete.Sub(c.FirstDelete)
	if n < 2 || span <= 0 {
		return 0
	}
	return float64(n-1) / span.Seconds()
}

// Total is the number of requests of every method.
func (c Counts) Total() int {
	n := 0
	for _, v := range c.Requests {
		n += v
	}
	return n
}

// Meter wraps a registry handler: it delays every request, counts requests
// by method, the peak in flight and how often each tag is resolved, and
// serves the control API.
type Meter struct {
	delay atomic.Int64 // time.Duration

	mu       sync.Mutex
	inFlight int
	counts   Counts
	resolves map[string]int // "repo:tag" -> HEAD/GET count
}

// NewMeter returns a Meter with no delay.
func NewMeter() *Meter {
	m := &Meter{}
	m.resetLocked()
	return m
}

func (m *Meter) resetLocked() {
	m.counts = Counts{Requests: map[string]int{}, Statuses: map[string]int{}, Kinds: map[string]*Kind{}}
	m.resolves = map[string]int{}
}

// SetDelay sets the delay added to every later request.
func (m *Meter) SetDelay(d time.Duration) { m.delay.Store(int64(d)) }

// Reset clears the counters.
func (m *Meter) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resetLocked()
}

// Snapshot returns a copy of the counters.
func (m *Meter) Snapshot() Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counts
	c.Requests = copyMap(m.counts.Requests)
	c.Statuses = copyMap(m.counts.Statuses)
	c.Kinds = make(map[string]*Kind, len(m.counts.Kinds))
	for k, v := range m.counts.Kinds {
		cp := *v
		c.Kinds[k] = &cp
	}
	return c
}

func copyMap(in map[string]int) map[string]int {
	out := make(map[string]int, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// tagRef returns "repo:tag" when the request resolves a manifest by tag.
func tagRef(r *http.Request) (string, bool) {
	if r.Method != http.MethodHead && r.Method != http.MethodGet {
		return "", false
	}
	p := r.URL.Path
	i := strings.LastIndex(p, "/manifests/")
	if !strings.HasPrefix(p, "/v2/") || i < 0 {
		return "", false
	}
	ref := p[i+len("/manifests/"):]
	if strings.Contains(ref, ":") { // a digest
		return "", false
	}
	return p[len("/v2/"):i] + ":" + ref, true
}

// kindOf names what a request asks for.
func kindOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case p == "/v2/" || p == "/v2":
		return "ping"
	case strings.HasSuffix(p, "/tags/list"):
		return "tags-list"
	case strings.Contains(p, "/referrers/"):
		return "referrers"
	case strings.Contains(p, "/blobs/"):
		return "blob"
	case strings.Contains(p, "/manifests/"):
		if _, ok := tagRef(r); ok || r.Method != http.MethodHead && r.Method != http.MethodGet && !strings.Contains(p[strings.LastIndex(p, "/"):], ":") {
			return "manifest-by-tag"
		}
		return "manifest-by-digest"
	case strings.HasSuffix(p, "/versions"):
		return "versions-list"
	case strings.Contains(p, "/versions/"):
		return "version"
	}
	return "other"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Wrap is the dist3.Options.Wrap hook.
func (m *Meter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, controlPrefix) {
			m.control(w, r)
			return
		}
		m.mu.Lock()
		m.counts.Requests[r.Method]++
		m.inFlight++
		m.counts.PeakInFlight = max(m.counts.PeakInFlight, m.inFlight)
		if r.Method == http.MethodDelete {
			now := time.Now()
			if m.counts.FirstDelete.IsZero() {
				m.counts.FirstDelete = now
			}
			m.counts.LastDelete = now
		}
		if ref, ok := tagRef(r); ok {
			m.counts.TagResolves++
			m.resolves[ref]++
			if n := m.resolves[ref]; n > m.counts.MaxResolvesPerTag {
				m.counts.MaxResolvesPerTag, m.counts.MostResolvedTag = n, ref
			}
		}
		kind := r.Method + " " + kindOf(r)
		start := time.Now()
		k := m.counts.Kinds[kind]
		if k == nil {
			k = &Kind{First: start}
			m.counts.Kinds[kind] = k
		}
		k.N++
		m.mu.Unlock()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			end := time.Now()
			m.mu.Lock()
			m.counts.Busy += end.Sub(start)
			if end.After(k.Last) {
				k.Last = end
			}
			m.inFlight--
			m.counts.Statuses[fmt.Sprintf("%s %d", r.Method, rec.status)]++
			m.mu.Unlock()
		}()
		// The delay stands for the network round trip: the client waits it
		// whatever the server does, so it comes before the handler.
		if d := time.Duration(m.delay.Load()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				rec.status = 499
				return
			}
		}
		hs := time.Now()
		next.ServeHTTP(rec, r)
		hd := time.Since(hs)
		m.mu.Lock()
		k.Handler += hd
		m.mu.Unlock()
	})
}

// control serves POST /_bench/delay?d=20ms, POST /_bench/reset and
// GET /_bench/counts.
func (m *Meter) control(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case controlPrefix + "delay":
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || r.Method != http.MethodPost {
			http.Error(w, "want POST ?d=<duration>", http.StatusBadRequest)
			return
		}
		m.SetDelay(d)
	case controlPrefix + "reset":
		if r.Method != http.MethodPost {
			http.Error(w, "want POST", http.StatusMethodNotAllowed)
			return
		}
		m.Reset()
	case controlPrefix + "counts":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(m.Snapshot())
	default:
		http.NotFound(w, r)
	}
}

// Control drives a metered registry over its control API.
type Control struct {
	base   string // http://host:port
	client *http.Client
}

// NewControl returns a Control for the registry at host (host:port).
func NewControl(host string) *Control {
	return &Control{base: "http://" + host, client: &http.Client{Timeout: 30 * time.Second}}
}

func (c *Control) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+controlPrefix+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("registry control %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("registry control %s: %s", path, resp.Status)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("registry control %s: %w", path, err)
		}
	}
	return nil
}

// SetDelay sets the per-request delay.
func (c *Control) SetDelay(ctx context.Context, d time.Duration) error {
	return c.do(ctx, http.MethodPost, "delay?d="+url.QueryEscape(d.String()), nil)
}

// Reset clears the counters.
func (c *Control) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "reset", nil)
}

// Counts returns the counters.
func (c *Control) Counts(ctx context.Context) (Counts, error) {
	var out Counts
	err := c.do(ctx, http.MethodGet, "counts", &out)
	return out, err
}
