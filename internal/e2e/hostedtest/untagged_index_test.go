package hostedtest

import (
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
)

// onSecondListing runs change once, just before the second versions listing
// reaches the fake: between discovery and the re-check before deleting,
// where another pipeline's push lands during a run.
type onSecondListing struct {
	once   sync.Once
	mu     sync.Mutex
	n      int
	change func()
}

func (o *onSecondListing) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/versions") {
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

func sorted(ds ...string) []string {
	out := append([]string(nil), ds...)
	sort.Strings(out)
	return out
}

// An untagged sweep with older-than: a young untagged index (as old as its
// newest platform image) keeps its old child, which is no free-standing
// untagged version.
func TestGitHubPackagesYoungUntaggedIndexKeepsOldChild(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "app")
	child := f.AddImage("acme", "app", "old-child", nil, day.Add(-90*24*time.Hour))
	young := f.AddImage("acme", "app", "young-child", nil, day)
	idx := f.AddIndexOf("acme", "app", nil, day, child, young)
	stray := f.AddImage("acme", "app", "stray", nil, day.Add(-90*24*time.Hour))
	res := e2e.RunWith(t, e2e.Options{Env: env, Now: day.Add(time.Hour)}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "untagged": "true", "older-than": "30d", "github-token": token,
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got, want := f.Digests("acme", "app"), sorted(idx, child, young); !reflect.DeepEqual(got, want) {
		t.Fatalf("versions left %v, want the young index and its children %v", got, want)
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, []string{stray}) {
		t.Fatalf("deleted-digests = %v, want only the stray %s", got, stray)
	}
}

// An untagged index tagged during the run is kept by the re-check, and so is
// every platform manifest it names.
func TestGitHubPackagesIndexTaggedDuringRunKeepsChildren(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "app")
	idx, children := f.AddIndex("acme", "app", "build", nil, day, "linux/amd64", "linux/arm64")
	stray := f.AddImage("acme", "app", "stray", nil, day)
	base := &onSecondListing{change: func() {
		f.AddVersion("acme", "app", idx, []string{"promoted"}, day, nil, "")
	}}
	res := e2e.RunWith(t, e2e.Options{Env: env, Base: base}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "untagged": "true", "github-token": token,
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got, want := f.Digests("acme", "app"), sorted(append([]string{idx}, children...)...); !reflect.DeepEqual(got, want) {
		t.Fatalf("versions left %v, want the promoted index and its children %v", got, want)
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, []string{stray}) {
		t.Fatalf("deleted-digests = %v, want only the stray %s", got, stray)
	}
}

// A new index pushed during the run that names an old untagged version
// saves it.
func TestGitHubPackagesIndexPushedDuringRunKeepsReusedChild(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "app")
	reused := f.AddImage("acme", "app", "reused", nil, day)
	stray := f.AddImage("acme", "app", "stray", nil, day)
	var idx string
	base := &onSecondListing{change: func() {
		idx = f.AddIndexOf("acme", "app", []string{"v2"}, day, reused)
	}}
	res := e2e.RunWith(t, e2e.Options{Env: env, Base: base}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "untagged": "true", "github-token": token,
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got, want := f.Digests("acme", "app"), sorted(idx, reused); !reflect.DeepEqual(got, want) {
		t.Fatalf("versions left %v, want the new index and the version it reuses %v\n%s", got, want, res.Log)
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, []string{stray}) {
		t.Fatalf("deleted-digests = %v, want only the stray %s", got, stray)
	}
}

// An untagged index goes before its children, in an earlier phase: when
// GitHub refuses to delete the index, its children stay, so the index never
// names deleted versions.
func TestGitHubPackagesUntaggedIndexBeforeChildren(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "app")
	idx, children := f.AddIndex("acme", "app", "build", nil, day, "linux/amd64", "linux/arm64")
	f.SetRefused("acme", "app", idx)
	res := e2e.RunWith(t, e2e.Options{Env: env}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "untagged": "true", "github-token": token,
	})
	if got, want := f.Digests("acme", "app"), sorted(append([]string{idx}, children...)...); !reflect.DeepEqual(got, want) {
		t.Fatalf("exit %d: versions left %v, want the refused index and both its children %v\n%s", res.Code, got, want, res.Log)
	}
	if got := res.Strings(t, "deleted-digests"); len(got) != 0 {
		t.Fatalf("deleted-digests = %v, want none", got)
	}
}

// An index pushed during the run, untagged or with a matching tag, is not
// deleted by this run, so the untagged version it names is not either.
func TestGitHubPackagesNewIndexDuringRunProtects(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	for _, tags := range [][]string{nil, {"pr-new"}} {
		t.Run(strings.Join(append([]string{"tags"}, tags...), "-"), func(t *testing.T) {
			f, host, env := github(t)
			f.AddPackage(ghpackages.Org, "acme", "app")
			reused := f.AddImage("acme", "app", "reused", nil, day)
			pr := f.AddImage("acme", "app", "pr-1", []string{"pr-1"}, day)
			main := f.AddImage("acme", "app", "main", []string{"latest"}, day) // pr-1 is not the last tagged version
			var idx string
			base := &onSecondListing{change: func() {
				idx = f.AddIndexOf("acme", "app", tags, day, reused)
			}}
			res := e2e.RunWith(t, e2e.Options{Env: env, Base: base}, map[string]string{
				"repository": host + "/acme/app", "backend": "github", "tags": "pr-*", "untagged": "true", "github-token": token,
			})
			if res.Code != 0 {
				t.Fatalf("exit %d\n%s", res.Code, res.Log)
			}
			if got, want := f.Digests("acme", "app"), sorted(idx, reused, main); !reflect.DeepEqual(got, want) {
				t.Fatalf("versions left %v, want the new index, what it names and latest %v\n%s", got, want, res.Log)
			}
			if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, []string{pr}) {
				t.Fatalf("deleted-digests = %v, want only pr-1 %s", got, pr)
			}
		})
	}
}
