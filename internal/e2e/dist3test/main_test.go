// The provider tests (cli, container, github, gitlab, woodpecker) run the real regsweep binary the way each CI system
// runs it (GitHub Actions, GitLab CI, Woodpecker, Drone, a plain terminal)
// against the embedded distribution v3 registry, with only the environment
// that CI sets, and checks settings, outputs in that CI's format, secret
// handling and the registry's final state.

package dist3test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// The binary is built once per package run with a known version, so
// --version can be checked.
const (
	binVersion  = "v9.8.7-e2e"
	binRevision = "e2e0rev"
)

// binary is the path of the regsweep binary TestMain built.
var binary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "regsweep-providertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "regsweep")
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "the go command is not on PATH:", err)
		return 1
	}
	cmd := exec.Command(goTool, "build", "-o", binary,
		"-ldflags", "-X main.version="+binVersion+" -X main.revision="+binRevision,
		"github.com/regsweep/regsweep")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build regsweep:", err)
		return 1
	}
	code := e2e.Main(m, 0)
	snaps.Clean(m, snaps.CleanOpts{Sort: true})
	return code
}

// result is what one run of the binary left behind.
type result struct {
	Code   int
	Stdout string
	Stderr string
}

// Log is everything the CI log shows (both streams).
func (r result) Log() string { return r.Stdout + r.Stderr }

// runBinary runs the binary with exactly env plus PATH, a fresh HOME and
// an empty DOCKER_CONFIG (no credentials of this machine), as a CI step.
func runBinary(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runBinaryIn(t, "", env, args...)
}

// runBinaryIn is runBinary in the working directory dir ("" for the
// test's own), as a CI job runs in its workspace.
func runBinaryIn(t *testing.T, dir string, env map[string]string, args ...string) result {
	t.Helper()
	return runCommand(t, dir, env, binary, args...)
}

// runShell runs one line of a CI job's script with sh, as GitLab does.
func runShell(t *testing.T, dir string, env map[string]string, line string) result {
	t.Helper()
	return runCommand(t, dir, env, "sh", "-c", line)
}

// runCommand runs name with the environment runBinary describes.
func runCommand(t *testing.T, dir string, env map[string]string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	base := map[string]string{
		"PATH":          os.Getenv("PATH"),
		"HOME":          t.TempDir(),
		"DOCKER_CONFIG": t.TempDir(),
	}
	for k, v := range env {
		base[k] = v
	}
	cmd.Env = make([]string, 0, len(base))
	for k, v := range base {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	sort.Strings(cmd.Env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run regsweep: %v", err)
		}
		code = ee.ExitCode()
	}
	return result{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}
}

// creds are registry credentials; zero means anonymous.
type creds struct{ User, Pass string }

// registry is a running embedded distribution v3 that, with credentials
// set, answers only requests carrying exactly those (HTTP basic auth), so a
// passing run proves the CI's credentials were read and used.
type registry struct {
	Host  string
	creds creds
	mu    sync.Mutex
	// wrong counts requests that carried other credentials.
	wrong int
	// users is every basic-auth user name seen.
	users map[string]int
	// open lets the test's own seeding through without credentials.
	open bool
}

func startRegistry(t *testing.T, c creds) *registry {
	t.Helper()
	r := &registry{creds: c, users: map[string]int{}}
	d := dist3.Start(t.Context(), dist3.Options{Wrap: r.wrap})
	t.Cleanup(d.Close)
	r.Host = d.Host
	return r
}

func (r *registry) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		r.mu.Lock()
		if ok {
			r.users[u]++
		}
		if r.creds != (creds{}) && ok && (u != r.creds.User || p != r.creds.Pass) {
			r.wrong++
		}
		open := r.open
		r.mu.Unlock()
		if !open && r.creds != (creds{}) && (!ok || u != r.creds.User || p != r.creds.Pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="providertest"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		h.ServeHTTP(w, req)
	})
}

// Wrong returns how many requests carried credentials other than the
// expected ones.
func (r *registry) Wrong() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wrong
}

// Users returns the basic-auth user names seen.
func (r *registry) Users() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for u := range r.users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// basicRT adds the registry's credentials to the test's own requests.
type basicRT struct{ c creds }

func (b basicRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if b.c != (creds{}) {
		req = req.Clone(req.Context())
		req.SetBasicAuth(b.c.User, b.c.Pass)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// seedDemo pushes seed.Demo's images (pr-1..pr-5, latest = pr-5, v1.0.0,
// v1.1.0, the signed index v1.2.0, a signature on pr-2) to repo.
func (r *registry) seedDemo(t *testing.T, repo string) {
	t.Helper()
	// seed.Demo pushes anonymously: let it through for the time it takes.
	r.mu.Lock()
	r.open = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.open = false
		r.mu.Unlock()
	}()
	if err := seed.Demo(t.Context(), repo); err != nil {
		t.Fatalf("seed %s: %v", repo, err)
	}
}

// push pushes one deterministic image per tag (tag -> image id; tags with
// the same id share a digest), created at the given time.
func (r *registry) push(t *testing.T, repo string, images []image) {
	t.Helper()
	p, err := seed.NewPusher(t.Context(), repo, basicRT{r.creds})
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range images {
		if _, err := p.Image(t.Context(), im.Tag, seed.Image(im.ID, im.Created)); err != nil {
			t.Fatalf("push %s:%s: %v", repo, im.Tag, err)
		}
	}
}

type image struct {
	Tag     string
	ID      string
	Created time.Time
}

// state reads a repository's real tag -> digest map from the registry.
func (r *registry) state(t *testing.T, repo string) map[string]string {
	t.Helper()
	ref, err := name.NewRepository(repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	auth := authn.Anonymous
	if r.creds != (creds{}) {
		auth = &authn.Basic{Username: r.creds.User, Password: r.creds.Pass}
	}
	opts := []remote.Option{remote.WithContext(t.Context()), remote.WithAuth(auth)}
	tags, err := remote.List(ref, opts...)
	if err != nil {
		if strings.Contains(err.Error(), "NAME_UNKNOWN") {
			return map[string]string{}
		}
		t.Fatalf("list %s: %v", repo, err)
	}
	out := map[string]string{}
	for _, tag := range tags {
		d, err := remote.Head(ref.Tag(tag), opts...)
		if err != nil {
			t.Fatalf("head %s:%s: %v", repo, tag, err)
		}
		out[tag] = d.Digest.String()
	}
	return out
}

// checkFinal checks the registry after a run: exactly the tags in
// wantGone are gone, and every other tag still resolves to the digest it
// had before. It returns the tags gone, sorted.
func checkFinal(t *testing.T, before, after map[string]string, wantGone []string) {
	t.Helper()
	gone := map[string]bool{}
	for _, g := range wantGone {
		gone[g] = true
		if _, ok := before[g]; !ok {
			t.Errorf("test bug: %s was never pushed", g)
		}
	}
	for tag, d := range before {
		got, ok := after[tag]
		switch {
		case gone[tag] && ok:
			t.Errorf("tag %s should be deleted, still resolves to %s", tag, got)
		case !gone[tag] && !ok:
			t.Errorf("kept tag %s was deleted (was %s)", tag, d)
		case !gone[tag] && got != d:
			t.Errorf("kept tag %s moved from %s to %s", tag, d, got)
		}
	}
	for tag := range after {
		if _, ok := before[tag]; !ok {
			t.Errorf("tag %s appeared during the run", tag)
		}
	}
}

// removed is the sorted list of tags in before and not in after.
func removed(before, after map[string]string) []string {
	var out []string
	for tag := range before {
		if _, ok := after[tag]; !ok {
			out = append(out, tag)
		}
	}
	sort.Strings(out)
	return out
}

// jsonStrings decodes a JSON array of strings, sorted.
func jsonStrings(t *testing.T, what, s string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("%s = %q is not a JSON array of strings: %v", what, s, err)
	}
	sort.Strings(out)
	return out
}

// checkNoSecret fails when a secret appears in any of the texts.
func checkNoSecret(t *testing.T, secret string, texts map[string]string) {
	t.Helper()
	for where, s := range texts {
		if strings.Contains(s, secret) {
			t.Errorf("secret printed in %s:\n%s", where, s)
		}
	}
}

var (
	hostPort = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	duration = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m|h)\b(\d+(\.\d+)?(ms|s))?`)
	tmpPath  = regexp.MustCompile(`/tmp/[^\s"']+`)
	unixTime = regexp.MustCompile(`section_(start|end):\d+:`)
)

// normalize replaces hosts, ports, durations, temp paths and section
// timestamps so snapshots are stable.
func normalize(s string) string {
	s = hostPort.ReplaceAllString(s, "registry.test")
	s = duration.ReplaceAllString(s, "<duration>")
	s = tmpPath.ReplaceAllString(s, "<tmp>")
	return unixTime.ReplaceAllString(s, "section_$1:<time>:")
}

// sameStrings fails unless got and want hold the same strings.
func sameStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, ",") != strings.Join(w, ",") {
		t.Errorf("%s = %q, want %q", what, g, w)
	}
}
