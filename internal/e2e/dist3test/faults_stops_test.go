package dist3test

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/faults"
)

// TestTokenExpiry: the bearer token expires after some requests; the run
// fetches a new one once and goes on.
func TestTokenExpiry(t *testing.T) {
	r := startFaultsRegistry(t, false)
	f := seedFixture(t, r, "app", 8)
	r.auth.ExpireAfter = 12
	res := e2e.RunWith(t, e2e.Options{}, withCreds(map[string]string{"repository": f.repo, "tags": "pr-*"}))
	issued, expired := r.auth.Stats()
	if expired < 1 {
		t.Fatalf("no token expired (issued %d): the test tests nothing", issued)
	}
	checkExact(t, f, res, nil)
	if issued != expired+1 {
		t.Errorf("tokens issued = %d for %d expiries, want one new token per expiry", issued, expired)
	}
}

// stopCase is a run that must stop: exit 1, one clear sentence, and the
// outputs list exactly what had been deleted up to then.
type stopCase struct {
	name string
	// setup adds rules; deleteDisabled starts the registry so.
	setup          func(r *reg)
	deleteDisabled bool
	// wantDeleted is how many pr-* manifests go before the stop
	// (concurrency 1 makes it exact).
	wantDeleted int
	// sentence must appear in the error line.
	sentence string
}

func stopCases() []stopCase {
	return []stopCase{
		{
			name:     "credentials-rejected",
			setup:    func(r *reg) { r.auth.SetRejectAll(true) },
			sentence: "unauthorized",
		},
		{
			name: "credentials-revoked-mid-run",
			setup: func(r *reg) {
				// Revoked while the third DELETE is being handled (it has
				// passed the auth check): it goes, the fourth is refused.
				// Acting inside the request, not after its answer, keeps
				// the client from racing ahead of the revocation.
				r.inj.Add(faults.Rule{Name: "revoke", Method: http.MethodDelete, Path: faults.DigestPath(), Skip: 2, Times: 1,
					Hook: func(*http.Request, http.Handler) { r.auth.SetRejectAll(true) }})
			},
			wantDeleted: 3,
			sentence:    "unauthorized",
		},
		{
			name:           "deletion-disabled",
			deleteDisabled: true,
			sentence:       "storage.delete.enabled",
		},
		{
			name: "permission-denied-on-DELETE",
			setup: func(r *reg) {
				r.inj.Add(faults.Rule{Name: "403", Method: http.MethodDelete, Path: faults.DigestPath(), Skip: 3,
					Fault: faults.Fault{Kind: faults.Status, Status: http.StatusForbidden}})
			},
			wantDeleted: 3,
			sentence:    "permission denied",
		},
	}
}

func TestStops(t *testing.T) {
	for _, c := range stopCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := startFaultsRegistry(t, c.deleteDisabled)
			f := seedFixture(t, r, "app", 6)
			if c.setup != nil {
				c.setup(r)
			}
			res := e2e.RunWith(t, e2e.Options{}, withCreds(map[string]string{"repository": f.repo, "tags": "pr-*", "concurrency": "1"}))
			noSecret(t, res)
			checkKeys(t, res)
			checkStopped(t, f, res, c.wantDeleted, c.sentence)
		})
	}
}

// checkStopped: exit 1, a clear error naming the cause, kept tags intact,
// and deleted-* outputs equal to the registry's real change.
func checkStopped(t *testing.T, f *fixture, res e2e.Result, wantDeleted int, sentence string) {
	t.Helper()
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Log)
	}
	errs := errorLines(res.Log)
	if len(errs) == 0 {
		t.Fatalf("no ::error:: line\n%s", res.Log)
	}
	joined := strings.Join(errs, "\n")
	if !strings.Contains(strings.ToLower(joined), strings.ToLower(sentence)) {
		t.Errorf("error lines do not say %q:\n%s", sentence, joined)
	}
	for _, e := range errs {
		if len(e) > 600 {
			t.Errorf("error line is not one clear sentence (%d bytes): %s", len(e), e)
		}
	}
	st := f.state(t)
	for tag, d := range f.keep {
		if st[tag] != d {
			t.Errorf("kept tag %s lost: %v", tag, st)
		}
	}
	var gone []string
	for _, d := range f.planned {
		if !f.exists(t, d) {
			gone = append(gone, d)
		}
	}
	slices.Sort(gone)
	if gone == nil {
		gone = []string{}
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, gone) {
		t.Errorf("deleted-digests = %v, registry really lost %v", got, gone)
	}
	if res.Outputs["deleted-count"] != strconv.Itoa(len(gone)) {
		t.Errorf("deleted-count = %s, registry really lost %d", res.Outputs["deleted-count"], len(gone))
	}
	if len(gone) != wantDeleted {
		t.Errorf("%d manifests deleted before the stop, want %d (the run must stop before the next deletion)\n%s", len(gone), wantDeleted, res.Log)
	}
}

// TestCancelled: the run's context is cancelled right after the first
// DELETE was answered (SIGTERM, job timeout). Outputs and summary are
// still written, the exit code is not 0, and the record is exact.
func TestCancelled(t *testing.T) {
	r := startFaultsRegistry(t, false)
	f := seedFixture(t, r, "app", 6)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The run is cancelled while its first DELETE is in flight (before the
	// registry handles it): that DELETE finishes, nothing else starts.
	r.inj.Add(faults.Rule{Name: "cancel", Method: http.MethodDelete, Path: faults.DigestPath(), Times: 1,
		Hook: func(*http.Request, http.Handler) { cancel() }})
	res := e2e.RunWith(t, e2e.Options{Ctx: ctx}, withCreds(map[string]string{"repository": f.repo, "tags": "pr-*", "concurrency": "1"}))
	noSecret(t, res)
	checkKeys(t, res)
	if res.Code == 0 {
		t.Fatalf("exit 0 after cancellation\n%s", res.Log)
	}
	if res.Summary == "" {
		t.Fatalf("no summary written after cancellation")
	}
	st := f.state(t)
	var gone []string
	for _, d := range f.planned {
		if !f.exists(t, d) {
			gone = append(gone, d)
		}
	}
	if len(gone) != 1 {
		t.Fatalf("%d deleted, want exactly the first (state %v)", len(gone), st)
	}
	got := res.Strings(t, "deleted-digests")
	failed, _ := strconv.Atoi(res.Outputs["failed-count"])
	// The DELETE in flight ran to its answer, so the record is exact.
	if !reflect.DeepEqual(got, gone) {
		t.Errorf("deleted-digests = %v, registry really lost %v", got, gone)
	}
	if failed != 0 {
		t.Errorf("failed-count = %d: nothing failed, the rest was not attempted", failed)
	}
	if !strings.Contains(res.Summary, "Not attempted") {
		t.Errorf("the summary does not list what was not attempted:\n%s", res.Summary)
	}
	for tag, d := range f.keep {
		if st[tag] != d {
			t.Errorf("kept tag %s lost: %v", tag, st)
		}
	}
}

// TestCredentialHints: when the registry rejects the credentials, the hint
// names the ones this run used: the inputs, GitLab's job credentials, the
// Docker config, or none (anonymous). Not parallel: the Docker config is
// found through the process environment.
func TestCredentialHints(t *testing.T) {
	r := startFaultsRegistry(t, false)
	f := seedFixture(t, r, "app", 2)
	r.auth.SetRejectAll(true)
	dockerConfig := func(t *testing.T, auths string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{`+auths+`}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("DOCKER_CONFIG", dir)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("someone:wrong"))
	tests := []struct {
		name   string
		setup  func(t *testing.T)
		env    map[string]string
		inputs map[string]string
		want   string
	}{
		{"inputs", func(t *testing.T) { dockerConfig(t, "") }, nil,
			withCreds(map[string]string{"repository": f.repo, "tags": "pr-*"}),
			"The registry rejected the credentials from the username and password inputs: check them."},
		{"docker config", func(t *testing.T) { dockerConfig(t, `"`+r.Host+`":{"auth":"`+basic+`"}`) }, nil,
			map[string]string{"repository": f.repo, "tags": "pr-*"},
			"The registry rejected the credentials the Docker config (DOCKER_CONFIG or ~/.docker/config.json) holds for " + r.Host + ": log in again, or set the username and password inputs."},
		{"anonymous", func(t *testing.T) { dockerConfig(t, "") }, nil,
			map[string]string{"repository": f.repo, "tags": "pr-*"},
			"The registry refused anonymous access: no username and password were set and the Docker config has no credentials for " + r.Host + "; set the username and password inputs."},
		{"gitlab job", func(t *testing.T) { dockerConfig(t, "") }, map[string]string{
			"GITHUB_ACTIONS": "", "GITLAB_CI": "true", "CI_PROJECT_DIR": t.TempDir(),
			"CI_REGISTRY": r.Host, "CI_REGISTRY_IMAGE": f.repo, "CI_REGISTRY_USER": "gitlab-ci-token", "CI_REGISTRY_PASSWORD": "glcbt-x",
			"REGSWEEP_TAGS": "pr-*",
		}, map[string]string{},
			"The registry rejected the gitlab job's registry credentials (CI_REGISTRY_USER and CI_REGISTRY_PASSWORD, or CI_JOB_TOKEN): check them."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup(t)
			res := e2e.RunWith(t, e2e.Options{Env: tt.env}, tt.inputs)
			if res.Code != 1 {
				t.Fatalf("exit %d, want 1\n%s", res.Code, res.Log)
			}
			if !strings.Contains(res.Log, tt.want) {
				t.Errorf("the log lacks the hint %q:\n%s", tt.want, res.Log)
			}
		})
	}
}

// TestLoopbackHostAnyCase: host names are case-insensitive, so
// LOCALHOST:port is the loopback registry, reached over plain HTTP like
// localhost:port, and swept exactly.
func TestLoopbackHostAnyCase(t *testing.T) {
	r := startFaultsRegistry(t, false)
	f := seedFixture(t, r, "app", 3)
	_, port, _ := strings.Cut(r.Host, ":")
	res := e2e.RunWith(t, e2e.Options{}, withCreds(map[string]string{"repository": "LOCALHOST:" + port + "/app", "tags": "pr-*"}))
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got := res.Strings(t, "deleted-digests"); !slices.Equal(got, f.planned) {
		t.Fatalf("deleted-digests = %v, want %v", got, f.planned)
	}
	if got := f.state(t); !reflect.DeepEqual(got, f.keep) {
		t.Fatalf("left %v, want %v", got, f.keep)
	}
}
