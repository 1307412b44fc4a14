// Package faults puts a fault-injecting http.Handler in front of a registry
// (usually the embedded distribution in internal/testregistry): by rule it
// answers 429 with Retry-After, 5xx bursts, resets connections, holds
// requests past the client's deadline, forwards a DELETE and then drops its
// answer, and runs hooks that change the registry at a chosen moment. Every
// injected fault is recorded so the tests can report figures.
package faults

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Kind is a kind of injected fault.
type Kind string

// Fault kinds.
const (
	// Status answers with Fault.Status (and Retry-After when set) without
	// forwarding: 429, 502, 503, 401, 403...
	Status Kind = "status"
	// Reset hijacks the connection and closes it without an answer: the
	// client sees a reset or an unexpected EOF. Nothing is forwarded.
	Reset Kind = "reset"
	// Timeout holds the request for Fault.Delay without answering, then
	// drops the connection: a client with a shorter deadline times out.
	Timeout Kind = "timeout"
	// LostAnswer forwards the request to the registry (which acts on it)
	// and then drops the connection instead of answering.
	LostAnswer Kind = "lost-answer"
	// CutOff is a request the client gave up on while the registry worked
	// on it (a client deadline under load): the registry gets it with its
	// context already cancelled, does what it does before noticing, and
	// the connection is dropped. Distribution deletes a manifest and then
	// stops looking for its tags, so they stay listed, naming nothing.
	CutOff Kind = "cut-off"
	// Hook runs Rule.Hook and then forwards the request; it is recorded but
	// is not a fault the client sees.
	Hook Kind = "hook"
)

// Fault is what a rule does to a request it picks.
type Fault struct {
	Kind Kind
	// Status is the answer's status code (Kind Status).
	Status int
	// RetryAfter, if set, is sent as the Retry-After header (seconds).
	RetryAfter string
	// Body, if set, is the answer's body (Kind Status); else a registry-style
	// error document.
	Body string
	// Delay is how long a Timeout holds the request.
	Delay time.Duration
}

// Rule picks requests and says what to do to them. Counting is per rule,
// over the requests the rule's Method and Path match.
type Rule struct {
	// Name labels the rule in the record.
	Name string
	// Method matches the request method ("" any).
	Method string
	// Path matches the URL path (nil any).
	Path *regexp.Regexp
	// Skip lets the first Skip matching requests through untouched.
	Skip int
	// Every picks every Nth matching request after Skip (0 or 1: each).
	Every int
	// Times bounds how many requests the rule picks (0: no bound).
	Times int
	// Probability, if > 0, picks a candidate only with this probability,
	// drawn from the injector's seeded RNG.
	Probability float64
	// Fault is what happens to a picked request.
	Fault Fault
	// Hook runs (Kind Hook, or before any other fault when set) with the
	// request and the underlying registry handler, before the request is
	// forwarded. Mutations must go to next directly (see Client), never
	// through the injector.
	Hook func(r *http.Request, next http.Handler)
	// After, if set, runs once the request was forwarded and answered (a
	// rule without Fault.Kind): cancel a run right after its first DELETE.
	After func(r *http.Request)
}

// Event is one injected fault.
type Event struct {
	Rule   string
	Kind   Kind
	Status int
	Method string
	Path   string
}

// Injector is the fault-injecting handler. Create it with New, then use
// Wrap as dist3.Options.Wrap.
type Injector struct {
	mu      sync.Mutex
	rules   []Rule
	matched []int
	picked  []int
	rng     *rand.Rand
	events  []Event
	next    http.Handler
	seen    map[string]int // requests by method, faulted or not
}

// New returns an injector applying rules in order (the first rule that
// picks a request wins). seed makes probabilistic rules reproducible.
func New(seed uint64, rules ...Rule) *Injector {
	return &Injector{
		rules:   rules,
		matched: make([]int, len(rules)),
		picked:  make([]int, len(rules)),
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		seen:    map[string]int{},
	}
}

// Add appends a rule (safe while serving).
func (in *Injector) Add(r Rule) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = append(in.rules, r)
	in.matched = append(in.matched, 0)
	in.picked = append(in.picked, 0)
}

// Wrap returns next behind the injector; it fits dist3.Options.Wrap.
func (in *Injector) Wrap(next http.Handler) http.Handler {
	in.mu.Lock()
	in.next = next
	in.mu.Unlock()
	return in
}

// Next is the underlying registry handler, for mutations that must not be
// faulted or counted.
func (in *Injector) Next() http.Handler {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.next
}

// pick returns the rule that picks r, if any, and records the event.
func (in *Injector) pick(r *http.Request) (Rule, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.seen[r.Method]++
	for i, rule := range in.rules {
		if rule.Method != "" && rule.Method != r.Method {
			continue
		}
		if rule.Path != nil && !rule.Path.MatchString(r.URL.Path) {
			continue
		}
		in.matched[i]++
		n := in.matched[i] - rule.Skip
		if n <= 0 {
			continue
		}
		if rule.Every > 1 && n%rule.Every != 0 {
			continue
		}
		if rule.Times > 0 && in.picked[i] >= rule.Times {
			continue
		}
		if rule.Probability > 0 && in.rng.Float64() >= rule.Probability {
			continue
		}
		in.picked[i]++
		kind := rule.Fault.Kind
		if kind == "" && (rule.Hook != nil || rule.After != nil) {
			kind = Hook
		}
		in.events = append(in.events, Event{Rule: rule.Name, Kind: kind, Status: rule.Fault.Status, Method: r.Method, Path: r.URL.Path})
		return rule, true
	}
	return Rule{}, false
}

// ServeHTTP implements http.Handler.
func (in *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	next := in.Next()
	rule, ok := in.pick(r)
	if !ok {
		next.ServeHTTP(w, r)
		return
	}
	if rule.Hook != nil {
		rule.Hook(r, next)
	}
	switch rule.Fault.Kind {
	case Status:
		if rule.Fault.RetryAfter != "" {
			w.Header().Set("Retry-After", rule.Fault.RetryAfter)
		}
		body := rule.Fault.Body
		if body == "" {
			body = `{"errors":[{"code":"` + codeFor(rule.Fault.Status) + `","message":"injected fault"}]}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rule.Fault.Status)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(body))
		}
	case Reset:
		drop(w)
	case Timeout:
		t := time.NewTimer(rule.Fault.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		drop(w)
	case LostAnswer:
		// The registry acts; the client never hears of it.
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		drop(w)
	case CutOff:
		ctx, cancel := context.WithCancel(r.Context())
		cancel()
		next.ServeHTTP(httptest.NewRecorder(), r.WithContext(ctx))
		drop(w)
	default:
		next.ServeHTTP(w, r)
		if rule.After != nil {
			if f, ok := w.(http.Flusher); ok {
				f.Flush() // the answer is on the wire before After acts
			}
			rule.After(r)
		}
	}
}

func codeFor(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "TOOMANYREQUESTS"
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusForbidden:
		return "DENIED"
	}
	return "UNAVAILABLE"
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// Events returns a copy of the injected faults, in order.
func (in *Injector) Events() []Event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Event(nil), in.events...)
}

// Count returns the number of injected events of kind k (all kinds when
// k is empty).
func (in *Injector) Count(k Kind) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, e := range in.events {
		if k == "" || e.Kind == k {
			n++
		}
	}
	return n
}

// Seen returns how many requests of each method reached the injector.
func (in *Injector) Seen() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]int, len(in.seen))
	for k, v := range in.seen {
		out[k] = v
	}
	return out
}

// Tally adds up events by a label ("429", "503", "reset", "timeout",
// "lost-answer", "hook"): the figures for SAFETY.md.
type Tally struct {
	mu sync.Mutex
	n  map[string]int
}

// Add counts the events of one injector.
func (t *Tally) Add(events []Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[string]int{}
	}
	for _, e := range events {
		t.n[Label(e)]++
	}
}

// Label names an event for the figures.
func Label(e Event) string {
	if e.Kind == Status {
		return http.StatusText(e.Status) + " (" + strconv.Itoa(e.Status) + ")"
	}
	return string(e.Kind)
}

// Counts returns the tally, by label.
func (t *Tally) Counts() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int, len(t.n))
	for k, v := range t.n {
		out[k] = v
	}
	return out
}

// Labels returns the tally's labels, sorted.
func (t *Tally) Labels() []string {
	c := t.Counts()
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ListPath matches tag listing.
func ListPath() *regexp.Regexp { return regexp.MustCompile(`/tags/list$`) }

// ManifestPath matches manifests by tag or digest.
func ManifestPath() *regexp.Regexp { return regexp.MustCompile(`/manifests/[^/]+$`) }

// DigestPath matches manifests by digest only.
func DigestPath() *regexp.Regexp { return regexp.MustCompile(`/manifests/sha256:[a-f0-9]{64}$`) }
