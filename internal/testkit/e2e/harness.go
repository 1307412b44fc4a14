// Package e2e runs regsweep the way the Actions runner does (INPUT_*
// variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files) against embedded
// registries, and checks the registry's real state afterwards. The scenarios
// live here; dist3test and dist2test run them against distribution 3 and 2.8
// (two packages: the two generations cannot share a binary).
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"gopkg.in/yaml.v3"

	"github.com/regsweep/regsweep/internal/app"
	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/transport"
)

// Registry is an embedded registry under test.
type Registry struct {
	Host string // host:port
	// Generation is 2 (docker/distribution 2.8) or 3 (distribution v3).
	Generation int
	// Requests counts requests that reached the registry.
	Requests *atomic.Int64
	// Start returns a fresh registry of the same generation (for cases that
	// need deletion disabled).
	Start func(t *testing.T, deleteDisabled bool) *Registry
}

// Counting wraps a handler so that every request is counted.
func Counting(n *atomic.Int64) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			h.ServeHTTP(w, r)
		})
	}
}

// Main runs an end-to-end test binary's tests, from its TestMain. The
// garbage collector is set for in-process registries under the race
// detector: collecting at 4x the live heap instead of 2x cuts the CPU a run
// spends by about a tenth, and the soft limit collects sooner where a test
// holds thousands of manifests. parallel, if not 0, is how many parallel
// tests run at once unless -parallel says otherwise (its default is the CPU
// count, right for tests that wait on the CPU, not for tests that wait on
// paced requests).
func Main(m *testing.M, parallel int) int {
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(2 << 30)
	if parallel > 0 {
		flag.Parse()
		set := false
		flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
		if !set {
			_ = flag.Set("test.parallel", strconv.Itoa(parallel))
		}
	}
	return m.Run()
}

// Chain applies wrappers outermost first.
func Chain(wraps ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		for i := len(wraps) - 1; i >= 0; i-- {
			h = wraps[i](h)
		}
		return h
	}
}

// Result is what one action run left behind.
type Result struct {
	Code    int
	Outputs map[string]string
	Summary string
	Log     string
}

// JSON decodes one output into v.
func (r Result) JSON(t *testing.T, output string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Outputs[output]), v); err != nil {
		t.Fatalf("output %s = %q: %v", output, r.Outputs[output], err)
	}
}

// Strings decodes a JSON-array-of-strings output, sorted.
func (r Result) Strings(t *testing.T, output string) []string {
	t.Helper()
	var s []string
	r.JSON(t, output, &s)
	sort.Strings(s)
	return s
}

// Tags decodes a list of "host/repo:tag" (deleted-tags) and returns the
// tags alone, sorted; an element without a repository fails the test.
func (r Result) Tags(t *testing.T, output string) []string {
	t.Helper()
	return BareTags(t, r.Strings(t, output))
}

// BareTags strips the "host/repo:" of full tag references, sorted; an
// element without one fails the test (a tag holds no ':' or '/').
func BareTags(t *testing.T, refs []string) []string {
	t.Helper()
	out := make([]string, 0, len(refs))
	for _, ref := range refs {
		i := strings.LastIndexByte(ref, ':')
		if i < 0 || !strings.Contains(ref[:i], "/") {
			t.Fatalf("%q is not a full reference host/repo:tag", ref)
		}
		out = append(out, ref[i+1:])
	}
	sort.Strings(out)
	return out
}

// ReadRecord reads and decodes a record file.
func ReadRecord(t *testing.T, path string) report.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("record file: %v", err)
	}
	var rec report.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("record file %s does not parse: %v", path, err)
	}
	if rec.SchemaVersion != report.SchemaVersion {
		t.Fatalf("record file schema-version = %d, want %d", rec.SchemaVersion, report.SchemaVersion)
	}
	return rec
}

// ActionInputs reads action.yml's inputs with the values the runner sends
// for a step that sets none: the declared default, "" without one, and
// githubToken for the ${{ github.token }} expression. Any other expression
// fails the test: it would have no value here.
func ActionInputs(t *testing.T, githubToken string) map[string]string {
	t.Helper()
	// Every caller is two levels below internal/: action.yml is three up.
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "action.yml"))
	if err != nil {
		t.Fatalf("read action.yml: %v", err)
	}
	var a struct {
		Inputs map[string]struct {
			Default string `yaml:"default"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatalf("parse action.yml: %v", err)
	}
	if len(a.Inputs) == 0 {
		t.Fatal("action.yml declares no inputs")
	}
	out := map[string]string{}
	for k, v := range a.Inputs {
		d := v.Default
		if d == "${{ github.token }}" {
			d = githubToken
		} else if strings.Contains(d, "${{") {
			t.Fatalf("input %s: default %q is an expression this test cannot evaluate", k, d)
		}
		out[k] = d
	}
	return out
}

// RunAction runs regsweep in-process as the runner runs a container action.
func RunAction(t *testing.T, inputs map[string]string) Result {
	t.Helper()
	return RunActionAt(t, time.Now(), inputs)
}

// RunActionAt is RunAction with a fixed clock (age rules).
func RunActionAt(t *testing.T, now time.Time, inputs map[string]string) Result {
	t.Helper()
	return RunWith(t, Options{Now: now}, inputs)
}

// Options are the less common knobs of a run.
type Options struct {
	Now          time.Time         // zero: time.Now
	Env          map[string]string // extra environment (GITHUB_API_URL, ...)
	DockerHubURL string            // Docker Hub API base (its fake)
	Ctx          context.Context   // nil: a 2-minute timeout
	// Base is app.Env.Base: the HTTP transport under regsweep's own (fault
	// tests give one with short timeouts).
	Base http.RoundTripper
	// Stats, if set, receives the transport's counters (app.Env.Stats).
	Stats func(transport.Stats)
	// UntagFirstAt is app.Env.UntagFirstAt (1 forces the untag-first
	// schedule on a small repository).
	UntagFirstAt int
}

// RunWith runs the action with Options.
func RunWith(t *testing.T, o Options, inputs map[string]string) Result {
	t.Helper()
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	dir := t.TempDir()
	outFile := filepath.Join(dir, "output")
	sumFile := filepath.Join(dir, "summary")
	for _, f := range []string{outFile, sumFile} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"GITHUB_ACTIONS":      "true",
		"GITHUB_OUTPUT":       outFile,
		"GITHUB_STEP_SUMMARY": sumFile,
		"HOME":                dir, // no docker config of the machine's
		"DOCKER_CONFIG":       dir,
	}
	for k, v := range o.Env {
		env[k] = v
	}
	all := ActionInputs(t, "") // no token unless a test passes github-token
	for k, v := range inputs {
		if _, ok := all[k]; !ok {
			t.Fatalf("input %q is not declared in action.yml", k)
		}
		all[k] = v
	}
	for k, v := range all {
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	var log strings.Builder
	w := &syncWriter{b: &log}
	ctx := o.Ctx
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
	}
	code := app.Run(ctx, app.Env{
		Getenv:       func(k string) string { return env[k] },
		Stdout:       w,
		Stderr:       w,
		Version:      "test",
		Now:          func() time.Time { return now },
		DockerHubURL: o.DockerHubURL,
		Base:         o.Base,
		Stats:        o.Stats,
		UntagFirstAt: o.UntagFirstAt,
	})
	outs, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(sumFile)
	if err != nil {
		t.Fatal(err)
	}
	return Result{Code: code, Outputs: ParseOutputFile(t, string(outs)), Summary: string(sum), Log: log.String()}
}

// ParseOutputFile parses a GITHUB_OUTPUT file by the runner's rules:
// `name=value` lines and `name<<DELIM` ... `DELIM` blocks.
func ParseOutputFile(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if k, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(k, "=") {
			var val []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				val = append(val, sc.Text())
			}
			if !closed {
				t.Fatalf("output %s: heredoc %q not closed", k, delim)
			}
			out[k] = strings.Join(val, "\n")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("malformed output line %q", line)
		}
		out[k] = v
	}
	return out
}

// State is a repository's real tag -> digest map, read from the registry.
func State(t *testing.T, repo string) map[string]string {
	t.Helper()
	r, err := name.NewRepository(repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r)
	if err != nil {
		if strings.Contains(err.Error(), "NAME_UNKNOWN") {
			return map[string]string{}
		}
		t.Fatalf("list %s: %v", repo, err)
	}
	out := map[string]string{}
	for _, tag := range tags {
		d, err := remote.Head(r.Tag(tag))
		if err != nil {
			t.Fatalf("head %s:%s: %v", repo, tag, err)
		}
		out[tag] = d.Digest.String()
	}
	return out
}

// Exists reports whether a manifest digest still resolves in repo.
func Exists(t *testing.T, repo, digest string) bool {
	t.Helper()
	ref, err := name.NewDigest(repo+"@"+digest, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Head(ref)
	return err == nil
}

var (
	hostPort = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	duration = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m|h)\b(\d+(\.\d+)?(ms|s))?`)
)

// Normalize replaces hosts, ports and durations so snapshots are stable.
func Normalize(s string) string {
	s = hostPort.ReplaceAllString(s, "registry.test")
	return duration.ReplaceAllString(s, "<duration>")
}

// syncWriter lets stdout and stderr share one log safely.
type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
