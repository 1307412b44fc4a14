// The faults_*_test.go files run regsweep end to end against the embedded
// distribution 3 registry behind internal/testkit/faults, and against a hostile fake
// registry, and checks the registry's real state and every output after
// each run.

package dist3test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/faults"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// day0 anchors seeded creation times so digests are stable.
var day0 = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// secret is the distinctive password every credentialed run uses; no log,
// output, summary or error may ever contain it.
const (
	secretUser     = "sweeper"
	secretPassword = "s3cr3t-PASSWORD-xyz"
)

// figures collects what the fault tests injected, for SAFETY.md.
type figures struct {
	tally faults.Tally
	mu    sync.Mutex
	runs  int
	viol  int
}

func (f *figures) run(inj *faults.Injector) {
	f.mu.Lock()
	f.runs++
	f.mu.Unlock()
	if inj != nil {
		f.tally.Add(inj.Events())
	}
}

// write logs the figures and, with REGSWEEP_FIGURES=path, writes them as
// JSON for SAFETY.md.
func (f *figures) write(t *testing.T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]any{"runs": f.runs, "violations": f.viol, "faults": f.tally.Counts()}
	b, _ := json.MarshalIndent(out, "", "  ")
	t.Logf("figures: %s", b)
	if p := os.Getenv("REGSWEEP_FIGURES"); p != "" {
		if err := os.WriteFile(p+"."+t.Name()+".json", b, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// reg is a distribution 3 behind bearer-token authentication (with the
// secret credentials) and a fault injector (no rules until a test adds
// them). direct reaches the registry itself: seeding and state checks go
// there, never faulted, authenticated or counted.
type reg struct {
	*dist3.Registry
	inj    *faults.Injector
	auth   *faults.BearerAuth
	direct http.RoundTripper
}

func startFaultsRegistry(t *testing.T, deleteDisabled bool) *reg {
	t.Helper()
	inj := faults.New(uint64(len(t.Name())))
	auth := &faults.BearerAuth{Username: secretUser, Password: secretPassword}
	r := dist3.Start(t.Context(), dist3.Options{
		DeleteDisabled: deleteDisabled,
		Wrap:           func(h http.Handler) http.Handler { return auth.Wrap(inj.Wrap(h)) },
	})
	t.Cleanup(r.Close)
	return &reg{Registry: r, inj: inj, auth: auth, direct: faults.HandlerTransport{Handler: inj.Next()}}
}

// withCreds adds to in the inputs that give regsweep the secret credentials.
func withCreds(in map[string]string) map[string]string {
	in["username"] = secretUser
	in["password"] = secretPassword
	return in
}

// fixture is a seeded repository and what a `pr-*` sweep must do to it.
type fixture struct {
	repo    string
	pusher  *seed.Pusher
	planned []string          // digests the sweep deletes, sorted
	tags    []string          // tags the sweep removes, sorted
	keep    map[string]string // the registry's state after a correct run
	before  map[string]string
	direct  http.RoundTripper
}

// state is the repository's real tag -> digest map.
func (f *fixture) state(t *testing.T) map[string]string {
	t.Helper()
	r, err := name.NewRepository(f.repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r, remote.WithTransport(f.direct))
	if err != nil {
		t.Fatalf("list %s: %v", f.repo, err)
	}
	out := map[string]string{}
	for _, tag := range tags {
		d, err := remote.Head(r.Tag(tag), remote.WithTransport(f.direct))
		if err != nil {
			t.Fatalf("head %s:%s: %v", f.repo, tag, err)
		}
		out[tag] = d.Digest.String()
	}
	return out
}

// exists reports whether digest still resolves.
func (f *fixture) exists(t *testing.T, digest string) bool {
	t.Helper()
	ref, err := name.NewDigest(f.repo+"@"+digest, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Head(ref, remote.WithTransport(f.direct))
	return err == nil
}

// seedFixture pushes n pr-N images (each its own digest), `latest` and
// `v1` (kept), through rt (nil: straight to the registry host).
func seedFixture(t *testing.T, r *reg, path string, n int) *fixture {
	t.Helper()
	repo := r.Host + "/" + path
	rt := r.direct
	p, err := seed.NewPusher(context.Background(), repo, rt)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{repo: repo, pusher: p, keep: map[string]string{}, direct: rt}
	for i := range n {
		tag := fmt.Sprintf("pr-%d", i)
		d, err := p.Image(context.Background(), tag, seed.Image(tag, day0.AddDate(0, 0, i)))
		if err != nil {
			t.Fatal(err)
		}
		f.planned = append(f.planned, d.String())
		f.tags = append(f.tags, tag)
	}
	for _, tag := range []string{"latest", "v1"} {
		d, err := p.Image(context.Background(), tag, seed.Image("release-"+tag, day0))
		if err != nil {
			t.Fatal(err)
		}
		f.keep[tag] = d.String()
	}
	sort.Strings(f.planned)
	sort.Strings(f.tags)
	f.before = f.state(t)
	return f
}

// shortTimeouts is a base transport whose deadlines are short, so an
// injected hang costs a fraction of a second.
func shortTimeouts() http.RoundTripper {
	ht := http.DefaultTransport.(*http.Transport).Clone()
	ht.ResponseHeaderTimeout = 400 * time.Millisecond
	return ht
}

// checkExact asserts a completed run: exit 0, the registry holds exactly
// keep, every planned digest is gone, and the outputs equal the change.
func checkExact(t *testing.T, f *fixture, res e2e.Result, figs *figures) {
	t.Helper()
	bad := false
	fail := func(format string, args ...any) {
		t.Helper()
		bad = true
		t.Errorf(format, args...)
	}
	if res.Code != 0 {
		fail("exit %d, want 0\n%s", res.Code, res.Log)
	}
	if got := f.state(t); !reflect.DeepEqual(got, f.keep) {
		fail("registry after run = %v, want %v", got, f.keep)
	}
	for _, d := range f.planned {
		if f.exists(t, d) {
			fail("planned digest %s still resolves", d)
		}
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, f.planned) {
		fail("deleted-digests = %v, want %v", got, f.planned)
	}
	if got := res.Tags(t, "deleted-tags"); !reflect.DeepEqual(got, f.tags) {
		fail("deleted-tags = %v, want %v", got, f.tags)
	}
	if got := res.Outputs["deleted-count"]; got != strconv.Itoa(len(f.planned)) {
		fail("deleted-count = %q, want %d", got, len(f.planned))
	}
	noSecret(t, res)
	if got := res.Outputs["failed-count"]; got != "0" {
		fail("failed-count = %q, want 0", got)
	}
	if bad && figs != nil {
		figs.mu.Lock()
		figs.viol++
		figs.mu.Unlock()
	}
}

var retriesRe = regexp.MustCompile(`(\d+) retr(y|ies)`)

// summaryRetries reads "N retries" from the summary's footer.
func summaryRetries(t *testing.T, summary string) int {
	t.Helper()
	m := retriesRe.FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("summary does not show retries:\n%s", summary)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// checkKeys checks that the outputs are exactly the sweep's defined ones.
func checkKeys(t *testing.T, res e2e.Result) {
	t.Helper()
	var expectedKeys []string
	for _, d := range report.OutputDefinitions() {
		if d.ExpandOnly() {
			continue
		}
		expectedKeys = append(expectedKeys, d.Name)
	}
	sort.Strings(expectedKeys)
	var got []string
	for k := range res.Outputs {
		got = append(got, k)
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, expectedKeys) {
		t.Errorf("output keys = %v, want exactly %v", got, expectedKeys)
	}
}

// oneSentence reports the run's ::error:: lines.
func errorLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, "::error") {
			out = append(out, l)
		}
	}
	return out
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// noSecret fails when the password or its basic-auth form shows anywhere a
// run left text: log (error lines included), outputs, summary.
func noSecret(t *testing.T, res e2e.Result) {
	t.Helper()
	basic := base64.StdEncoding.EncodeToString([]byte(secretUser + ":" + secretPassword))
	// ::add-mask:: is the runner's own command to mask the value: it is
	// the one place the secret must appear (and the runner removes it).
	var log []string
	masked := false
	for _, l := range strings.Split(res.Log, "\n") {
		if v, ok := strings.CutPrefix(l, "::add-mask::"); ok {
			masked = masked || v == secretPassword
			continue
		}
		log = append(log, l)
	}
	if !masked {
		t.Errorf("the password was never masked with ::add-mask::")
	}
	texts := map[string]string{"log": strings.Join(log, "\n"), "summary": res.Summary}
	for k, v := range res.Outputs {
		texts["output "+k] = v
	}
	for where, text := range texts {
		for _, s := range []string{secretPassword, basic, "PASSWORD-xyz"} {
			if i := strings.Index(text, s); i >= 0 {
				lo, hi := max(i-120, 0), min(i+len(s)+40, len(text))
				t.Errorf("secret %q found in %s: ...%s...", s, where, strings.ReplaceAll(text[lo:hi], s, "<SECRET>"))
			}
		}
	}
}
