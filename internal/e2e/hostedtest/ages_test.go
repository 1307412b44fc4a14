package hostedtest

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/fakes/dockerhub"
	"github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
)

// keptBy returns tag -> the kept-tags entry of a run.
func keptBy(t *testing.T, res e2e.Result) map[string]report.KeptTag {
	t.Helper()
	var kept []report.KeptTag
	res.JSON(t, "kept-tags", &kept)
	out := map[string]report.KeptTag{}
	for _, k := range kept {
		out[k.Tag] = k
	}
	return out
}

// A migrated image on GHCR (built in 2019, its version pushed yesterday) is
// young by its push time and old by its creation time: older-than keeps it
// under age-from pushed (and by default, GitHub reporting pushes) and
// deletes it under age-from created. An image both built and pushed long
// ago goes either way; one pushed again yesterday under a new tag is young
// by updated_at. Every kept tag's reason says where its age came from.
func TestGitHubPackagesAgeFrom(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	old := day.Add(-90 * 24 * time.Hour)
	for _, tc := range []struct {
		ageFrom      string
		migratedGoes bool
		source       string // in the migrated image's reason when kept
	}{
		{"", false, "(registry)"},
		{"pushed", false, "(registry)"},
		{"created", true, ""},
	} {
		t.Run("age-from="+tc.ageFrom, func(t *testing.T) {
			f, host, env := github(t)
			f.AddPackage(ghpackages.Org, "acme", "app")
			migrated := f.AddImageBuilt("acme", "app", "migrated", []string{"v1"}, day.Add(-24*time.Hour), time.Date(2019, 3, 1, 0, 0, 0, 0, time.UTC))
			ancient := f.AddImageBuilt("acme", "app", "ancient", []string{"v0"}, old, old)
			retagged := f.AddImageBuilt("acme", "app", "retagged", []string{"v2"}, old, old)
			f.AddVersion("acme", "app", retagged, []string{"v2-again"}, day.Add(-24*time.Hour), nil, "")
			f.AddImage("acme", "app", "main", []string{"latest"}, day) // so that no v* version is the last tagged one
			res := e2e.RunWith(t, e2e.Options{Env: env, Now: day}, map[string]string{
				"repository": host + "/acme/app", "backend": "github", "github-token": token,
				"tags": "v*", "older-than": "30d", "age-from": tc.ageFrom,
			})
			if res.Code != 0 {
				t.Fatalf("exit %d\n%s", res.Code, res.Log)
			}
			want := []string{ancient}
			if tc.migratedGoes {
				want = append(want, migrated)
			}
			if tc.ageFrom == "created" {
				want = append(want, retagged) // built long ago, whatever its pushes
			}
			if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, sorted(want...)) {
				t.Fatalf("deleted-digests = %v, want %v\n%s", got, sorted(want...), res.Log)
			}
			kept := keptBy(t, res)
			if !tc.migratedGoes {
				k := kept["v1"]
				if k.Rule != "older-than" || !strings.Contains(k.Reason, "pushed ") || !strings.Contains(k.Reason, tc.source) {
					t.Errorf("v1 kept by %s (%s), want older-than by its push time %s", k.Rule, k.Reason, tc.source)
				}
				if !strings.Contains(res.Summary, "(registry)") {
					t.Errorf("the summary does not say where the ages came from:\n%s", res.Summary)
				}
				if k := kept["v2-again"]; k.Rule != "older-than" {
					t.Errorf("v2-again kept by %s (%s), want older-than: pushed again yesterday", k.Rule, k.Reason)
				}
			}
		})
	}
}

// Docker Hub reports pulls: pulled-within keeps a tag pulled two days ago
// and deletes one pulled two months ago and one never pulled.
func TestDockerHubPulledWithin(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f := dockerhub.New("alice", "dckr_pat_secret")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.AddRepository("alice", "web", false)
	old := day.Add(-100 * 24 * time.Hour)
	f.AddTag("alice", "web", "pr-1", digest("a"), old)
	f.AddTag("alice", "web", "pr-2", digest("b"), old)
	f.AddTag("alice", "web", "pr-3", digest("c"), old)
	f.SetPulled("alice", "web", "pr-1", day.Add(-48*time.Hour))
	f.SetPulled("alice", "web", "pr-2", day.Add(-60*24*time.Hour))
	res := e2e.RunWith(t, e2e.Options{DockerHubURL: srv.URL, Now: day}, map[string]string{
		"repository": "docker.io/alice/web", "tags": "pr-*", "pulled-within": "30d", "username": "alice", "password": "dckr_pat_secret",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got, want := f.Tags("alice", "web"), map[string]string{"pr-1": digest("a")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("tags left %v, want %v\n%s", got, want, res.Log)
	}
	k := keptBy(t, res)["pr-1"]
	if k.Rule != "pulled-within" || !strings.Contains(k.Reason, "pulled 2026-05-30T00:00:00Z (registry)") {
		t.Fatalf("pr-1 kept by %s (%s), want pulled-within with its pull time", k.Rule, k.Reason)
	}
	if strings.Contains(res.Log, "does not report pulls") {
		t.Fatalf("Docker Hub reports pulls, yet the run says it cannot check them:\n%s", res.Log)
	}
}

// A tag pushed during the run onto an old untagged version makes it young
// (updated_at moves): the re-check before deleting reads the push time the
// version has now, and older-than keeps it. Found by the GitHub trial.
func TestGitHubPackagesPushDuringRunMakesYoung(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "app")
	old := day.Add(-90 * 24 * time.Hour)
	revived := f.AddImage("acme", "app", "revived", nil, old)
	stray := f.AddImage("acme", "app", "stray", nil, old)
	base := &onSecondListing{change: func() {
		f.AddVersion("acme", "app", revived, []string{"main"}, day, nil, "")
	}}
	res := e2e.RunWith(t, e2e.Options{Env: env, Base: base, Now: day}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "github-token": token,
		"tags": "*", "untagged": "true", "older-than": "30d",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, []string{stray}) {
		t.Fatalf("deleted-digests = %v, want only the stray %s (main was pushed onto %s during the run)", got, stray, revived)
	}
	if got := f.Tags("acme", "app"); got["main"] != revived {
		t.Fatalf("tags left %v, want main on %s", got, revived)
	}
}

// onHubRelisting runs change once, just before the second tag listing
// reaches the Docker Hub fake (the listing before deleting).
type onHubRelisting struct {
	once   sync.Once
	mu     sync.Mutex
	n      int
	change func()
}

func (o *onHubRelisting) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/tags") {
		o.mu.Lock()
		o.n++
		second := o.n == 2
		o.mu.Unlock()
		if second {
			o.once.Do(o.change)
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// Docker Hub: a tag pulled, and another pushed again, during the run are
// seen by the listing before deleting, and kept.
func TestDockerHubPullAndPushDuringRun(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f := dockerhub.New("alice", "dckr_pat_secret")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.AddRepository("alice", "web", false)
	old := day.Add(-100 * 24 * time.Hour)
	f.AddTag("alice", "web", "pr-1", digest("a"), old)
	f.AddTag("alice", "web", "pr-2", digest("b"), old)
	f.AddTag("alice", "web", "pr-3", digest("c"), old)
	base := &onHubRelisting{change: func() {
		f.SetPulled("alice", "web", "pr-1", day)
		f.AddTag("alice", "web", "pr-2", digest("b"), day)
	}}
	res := e2e.RunWith(t, e2e.Options{DockerHubURL: srv.URL, Now: day, Base: base}, map[string]string{
		"repository": "docker.io/alice/web", "tags": "pr-*", "pulled-within": "30d", "older-than": "30d",
		"username": "alice", "password": "dckr_pat_secret",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got, want := f.Tags("alice", "web"), map[string]string{"pr-1": digest("a"), "pr-2": digest("b")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("tags left %v, want %v\n%s", got, want, res.Log)
	}
}

// Docker Hub gives no image creation time: under age-from created every
// age is unknown, so older-than keeps everything and the run says why once.
func TestDockerHubAgeFromCreatedUnknown(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f := dockerhub.New("alice", "dckr_pat_secret")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.AddRepository("alice", "web", false)
	old := day.Add(-100 * 24 * time.Hour)
	f.AddTag("alice", "web", "pr-1", digest("a"), old)
	f.AddTag("alice", "web", "pr-2", digest("b"), old)
	res := e2e.RunWith(t, e2e.Options{DockerHubURL: srv.URL, Now: day}, map[string]string{
		"repository": "docker.io/alice/web", "tags": "pr-*", "older-than": "30d", "age-from": "created",
		"username": "alice", "password": "dckr_pat_secret",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got := f.Tags("alice", "web"); len(got) != 2 {
		t.Fatalf("tags left %v, want both kept\n%s", got, res.Log)
	}
	for tag, k := range keptBy(t, res) {
		if k.Rule != "age-unknown" || !strings.Contains(k.Reason, "creation time is unknown") {
			t.Errorf("%s kept by %s (%s), want age-unknown", tag, k.Rule, k.Reason)
		}
	}
	if n := strings.Count(res.Log, "Docker Hub does not report the images' creation times"); n != 1 {
		t.Fatalf("the log says it %d times, want once:\n%s", n, res.Log)
	}
}
