package transport

import (
	"bytes"
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

// fakeClock is a clock that only moves when the transport sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// maxJitter makes backoff deterministic: always the upper bound.
func maxJitter(d time.Duration) time.Duration { return d }

func newTestTransport(c *fakeClock, o Options) *Transport {
	o.Sleep = c.Sleep
	o.Now = c.Now
	o.Jitter = maxJitter
	return New(o)
}

// script answers attempt i with steps[i] (the last step repeats).
type step func(w http.ResponseWriter, r *http.Request)

func scripted(t *testing.T, steps ...step) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i >= len(steps) {
			i = len(steps) - 1
		}
		steps[i](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, hdr ...string) step {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, strconv.Itoa(code))
	}
}

// hangup closes the connection without an answer (a reset or lost answer).
func hangup(before func()) step {
	return func(w http.ResponseWriter, r *http.Request) {
		if before != nil {
			before()
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		conn.Close()
	}
}

func do(t *testing.T, tr http.RoundTripper, method, url string, body []byte) (*http.Response, error) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err == nil {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp, err
}

func TestRetries(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		method     string
		steps      []step
		opts       Options
		wantStatus int
		wantErr    bool
		wantCalls  int
		wantSleeps []time.Duration
	}{
		{
			name:       "429 Retry-After seconds",
			method:     http.MethodGet,
			steps:      []step{status(429, "Retry-After", "2"), status(200)},
			wantStatus: 200, wantCalls: 2,
			wantSleeps: []time.Duration{2 * time.Second},
		},
		{
			name:   "429 Retry-After HTTP date",
			method: http.MethodHead,
			steps: []step{
				status(429, "Retry-After", base.Add(7*time.Second).Format(http.TimeFormat)),
				status(200),
			},
			wantStatus: 200, wantCalls: 2,
			wantSleeps: []time.Duration{7 * time.Second},
		},
		{
			name:   "Docker Hub X-Retry-After epoch",
			method: http.MethodDelete,
			steps: []step{
				status(429, "X-Retry-After", strconv.FormatInt(base.Add(30*time.Second).Unix(), 10)),
				status(202),
			},
			wantStatus: 202, wantCalls: 2,
			wantSleeps: []time.Duration{30 * time.Second},
		},
		{
			name:   "GitHub primary limit exhausted",
			method: http.MethodGet,
			steps: []step{
				status(403, "X-Ratelimit-Remaining", "0", "X-Ratelimit-Reset", strconv.FormatInt(base.Add(10*time.Second).Unix(), 10)),
				status(200),
			},
			wantStatus: 200, wantCalls: 2,
			wantSleeps: []time.Duration{11 * time.Second},
		},
		{
			name:       "GitHub secondary limit 403 with retry-after",
			method:     http.MethodDelete,
			steps:      []step{status(403, "Retry-After", "60"), status(204)},
			wantStatus: 204, wantCalls: 2,
			wantSleeps: []time.Duration{60 * time.Second},
		},
		{
			name:       "plain 403 is final",
			method:     http.MethodDelete,
			steps:      []step{status(403), status(204)},
			wantStatus: 403, wantCalls: 1,
		},
		{
			name:       "503 burst with exponential backoff",
			method:     http.MethodGet,
			steps:      []step{status(503), status(502), status(504), status(500), status(200)},
			opts:       Options{BackoffBase: time.Second, BackoffMax: 5 * time.Second},
			wantStatus: 200, wantCalls: 5,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second},
		},
		{
			name:       "retries bounded by MaxRetries",
			method:     http.MethodGet,
			steps:      []step{status(503)},
			opts:       Options{MaxRetries: 2, BackoffBase: time.Second},
			wantStatus: 503, wantCalls: 3,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name:       "negative MaxRetries: no retry",
			method:     http.MethodGet,
			steps:      []step{status(503), status(200)},
			opts:       Options{MaxRetries: -1},
			wantStatus: 503, wantCalls: 1,
		},
		{
			name:      "Retry-After beyond MaxWait stops at once",
			method:    http.MethodGet,
			steps:     []step{status(429, "Retry-After", "3600"), status(200)},
			opts:      Options{MaxWait: time.Minute},
			wantErr:   true,
			wantCalls: 1,
		},
		{
			name:       "POST not retried on 503",
			method:     http.MethodPost,
			steps:      []step{status(503), status(200)},
			wantStatus: 503, wantCalls: 1,
		},
		{
			name:       "POST retried on 429 (not acted on)",
			method:     http.MethodPost,
			steps:      []step{status(429, "Retry-After", "1"), status(200)},
			wantStatus: 200, wantCalls: 2,
			wantSleeps: []time.Duration{time.Second},
		},
		{
			name:       "connection reset on GET",
			method:     http.MethodGet,
			steps:      []step{hangup(nil), hangup(nil), status(200)},
			opts:       Options{BackoffBase: time.Second},
			wantStatus: 200, wantCalls: 3,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name:      "connection reset on POST is final",
			method:    http.MethodPost,
			steps:     []step{hangup(nil), status(200)},
			wantErr:   true,
			wantCalls: 1,
		},
		{
			name:       "404 is final",
			method:     http.MethodGet,
			steps:      []step{status(404), status(200)},
			wantStatus: 404, wantCalls: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := scripted(t, tc.steps...)
			c := newFakeClock()
			tr := newTestTransport(c, tc.opts)
			var body []byte
			if tc.method == http.MethodPost {
				body = []byte("{}")
			}
			resp, err := do(t, tr, tc.method, srv.URL+"/x", body)
			if tc.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && resp.StatusCode != tc.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if got := int(calls.Load()); got != tc.wantCalls {
				t.Errorf("server saw %d calls, want %d", got, tc.wantCalls)
			}
			if got := c.Sleeps(); !equalDurations(got, tc.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", got, tc.wantSleeps)
			}
			st := tr.Stats()
			if st.Requests[tc.method] != tc.wantCalls {
				t.Errorf("Stats.Requests[%s] = %d, want %d", tc.method, st.Requests[tc.method], tc.wantCalls)
			}
			if st.Retries != tc.wantCalls-1 {
				t.Errorf("Stats.Retries = %d, want %d", st.Retries, tc.wantCalls-1)
			}
			var sum time.Duration
			for _, d := range tc.wantSleeps {
				sum += d
			}
			if st.Waited != sum {
				t.Errorf("Stats.Waited = %v, want %v", st.Waited, sum)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A DELETE the server performed but whose answer was lost: the retry gets
// 404, which the transport returns as is (the backend counts it as deleted).
func TestLostDeleteAnswer(t *testing.T) {
	var deleted atomic.Bool
	srv, calls := scripted(t,
		hangup(func() { deleted.Store(true) }),
		func(w http.ResponseWriter, r *http.Request) {
			if deleted.Load() {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		},
	)
	tr := newTestTransport(newFakeClock(), Options{})
	resp, err := do(t, tr, http.MethodDelete, srv.URL+"/v2/app/manifests/sha256:x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNotFound || calls.Load() != 2 {
		t.Fatalf("status %d after %d calls, want 404 after 2", resp.StatusCode, calls.Load())
	}
}

func TestBodyReplayedOnRetry(t *testing.T) {
	var bodies []string
	var mu sync.Mutex
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	tr := newTestTransport(newFakeClock(), Options{})
	resp, err := do(t, tr, http.MethodPut, srv.URL, []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if strings.Join(bodies, ",") != "payload,payload" {
		t.Fatalf("bodies = %q", bodies)
	}
}

func TestDeletePacing(t *testing.T) {
	srv, _ := scripted(t, status(202))
	c := newFakeClock()
	tr := newTestTransport(c, Options{DeleteRate: 10})
	for i := 0; i < 5; i++ {
		if _, err := do(t, tr, http.MethodDelete, srv.URL, nil); err != nil {
			t.Fatal(err)
		}
	}
	// GETs are not paced.
	if _, err := do(t, tr, http.MethodGet, srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}
	if got := c.Sleeps(); !equalDurations(got, want) {
		t.Fatalf("sleeps = %v, want %v", got, want)
	}
	if st := tr.Stats(); st.Waited != 400*time.Millisecond || st.Retries != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

// A 429 with Retry-After holds back every request, not only the one that got it.
func TestRateLimitHoldsEveryone(t *testing.T) {
	srv, _ := scripted(t, status(429, "Retry-After", "5"), status(200))
	c := newFakeClock()
	tr := newTestTransport(c, Options{})
	if _, err := do(t, tr, http.MethodGet, srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	// The clock moved by the 5 s; a new request does not wait again.
	if _, err := do(t, tr, http.MethodGet, srv.URL, nil); err != nil {
		t.Fatal(err)
	}
	if got := c.Sleeps(); !equalDurations(got, []time.Duration{5 * time.Second}) {
		t.Fatalf("sleeps = %v", got)
	}
}

// A success that spends the last request of GitHub's window holds the next
// request until the reset, so it is not refused; a reset beyond MaxWait
// stops the next request before it is sent, with the reset time.
func TestRateLimitExhaustedHoldsBeforeRefusal(t *testing.T) {
	for _, c := range []struct {
		name  string
		reset time.Duration
		want  []time.Duration
	}{
		{"reset-soon", 30 * time.Second, []time.Duration{31 * time.Second}},
		{"reset-beyond-max-wait", time.Hour, nil},
	} {
		stops := c.reset > DefaultMaxWait
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			reset := strconv.FormatInt(clock.Now().Add(c.reset).Unix(), 10)
			srv, n := scripted(t, status(200, "X-Ratelimit-Remaining", "0", "X-Ratelimit-Reset", reset), status(200))
			tr := newTestTransport(clock, Options{})
			for i := range 2 {
				resp, err := do(t, tr, http.MethodGet, srv.URL, nil)
				if i == 1 && stops {
					at := clock.Now().Add(c.reset + time.Second).UTC().Format("15:04:05 UTC")
					if !errors.Is(err, ErrWaitTooLong) || !errors.Is(err, ErrNotSent) || !strings.Contains(err.Error(), at) {
						t.Fatalf("err = %v, want a WaitError naming the reset %s", err, at)
					}
					continue
				}
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("%v %v", resp, err)
				}
			}
			if got := clock.Sleeps(); !equalDurations(got, c.want) {
				t.Fatalf("sleeps = %v, want %v", got, c.want)
			}
			if want := map[bool]int32{false: 2, true: 1}[stops]; n.Load() != want {
				t.Fatalf("%d requests, want %d", n.Load(), want)
			}
		})
	}
}

func TestSleepCancelledByContext(t *testing.T) {
	hit := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hit <- struct{}{}:
		default:
		}
		w.Header().Set("Retry-After", "100")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	tr := New(Options{MaxWait: time.Hour}) // real sleep
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-hit
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	_, err := tr.RoundTrip(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestMaxInFlight(t *testing.T) {
	const n = 4
	var arrived sync.WaitGroup
	arrived.Add(n)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release
	}))
	defer srv.Close()
	tr := New(Options{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodHead, srv.URL, nil)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	arrived.Wait() // all n are inside the server at once
	close(release)
	wg.Wait()
	st := tr.Stats()
	if st.MaxInFlight != n || st.Requests[http.MethodHead] != n || st.Total() != n {
		t.Fatalf("stats = %+v, want MaxInFlight %d", st, n)
	}
}

func TestReadLimited(t *testing.T) {
	tests := []struct {
		body    string
		n       int64
		wantErr bool
	}{
		{"", 0, false},
		{"abc", 3, false},
		{"abcd", 3, true},
		{strings.Repeat("x", 1<<20), 1 << 10, true},
	}
	for _, tc := range tests {
		b, err := ReadLimited(strings.NewReader(tc.body), tc.n)
		if tc.wantErr {
			if !errors.Is(err, ErrBodyTooLarge) {
				t.Errorf("ReadLimited(%d bytes, %d) err = %v, want ErrBodyTooLarge", len(tc.body), tc.n, err)
			}
			continue
		}
		if err != nil || string(b) != tc.body {
			t.Errorf("ReadLimited(%d bytes, %d) = %d bytes, %v", len(tc.body), tc.n, len(b), err)
		}
	}
}

// authEcho answers with the Authorization header it received.
func authEcho() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "auth="+r.Header.Get("Authorization"))
	}))
}

func redirector(to string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to, http.StatusTemporaryRedirect)
	}))
}

func getBody(t *testing.T, c *http.Client, url string) (string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestRedirects(t *testing.T) {
	storage := authEcho()
	defer storage.Close()
	// Same host name, other port: net/http keeps Authorization (it compares
	// host names only); our client must drop it.
	otherPort := redirector(storage.URL + "/blob")
	defer otherPort.Close()
	// Another host name: net/http itself drops it.
	otherName := redirector(strings.Replace(storage.URL, "127.0.0.1", "localhost", 1) + "/blob")
	defer otherName.Close()
	// Same host: a path redirect keeps credentials.
	self := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/end", http.StatusTemporaryRedirect)
			return
		}
		_, _ = io.WriteString(w, "auth="+r.Header.Get("Authorization"))
	}))
	defer self.Close()

	tests := []struct {
		name   string
		client *http.Client
		url    string
		want   string
	}{
		{"ours, other port", Client(New(Options{})), otherPort.URL, "auth="},
		{"ours, other host name", Client(New(Options{})), otherName.URL, "auth="},
		{"ours, same host", Client(New(Options{})), self.URL + "/start", "auth=Bearer s3cret"},
		{"net/http, other host name", &http.Client{}, otherName.URL, "auth="},
		{"net/http, other port (why we check)", &http.Client{}, otherPort.URL, "auth=Bearer s3cret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := getBody(t, tc.client, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRedirectDowngradeRefused(t *testing.T) {
	plain := authEcho()
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL, http.StatusFound)
	}))
	defer tlsSrv.Close()
	c := Client(New(Options{Base: tlsSrv.Client().Transport}))
	_, err := getBody(t, c, tlsSrv.URL)
	if err == nil || !strings.Contains(err.Error(), "refusing redirect from https") {
		t.Fatalf("err = %v, want a refused downgrade", err)
	}
}

func TestTLSVerifiedByDefault(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	strict := New(Options{})
	if _, err := do(t, strict, http.MethodGet, srv.URL, nil); err == nil {
		t.Fatal("self-signed certificate accepted by default")
	}
	if st := strict.Stats(); st.Retries != 0 {
		t.Fatalf("a TLS failure was retried: %+v", st)
	}
	insecure := New(Options{Insecure: true})
	resp, err := do(t, insecure, http.MethodGet, srv.URL, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("insecure: %v", err)
	}
}

func TestParseDelay(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"0", 0, true},
		{" 12 ", 12 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{strconv.FormatInt(now.Add(time.Minute).Unix(), 10), time.Minute, true},
		{strconv.FormatInt(now.Add(-time.Minute).Unix(), 10), 0, true},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseDelay(tc.in, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("parseDelay(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

// MaxConcurrent is one budget for every sender of the transport.
func TestMaxConcurrent(t *testing.T) {
	var mu sync.Mutex
	inFlight, peak := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	defer srv.Close()
	tr := New(Options{MaxConcurrent: 3})
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if peak > 3 || tr.Stats().MaxInFlight > 3 {
		t.Fatalf("peak in flight %d (transport saw %d), want <= 3", peak, tr.Stats().MaxInFlight)
	}
	if peak < 2 {
		t.Fatalf("peak in flight %d: requests were not concurrent at all", peak)
	}
}
