package trial

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
)

// The GitHub Packages trial: random packages on the Packages fake, where
// every manifest is a version (untagged platform images, untagged indexes,
// indexes of indexes, tags on children), random `untagged`/`older-than`
// sweeps, and another pipeline changing the package between discovery and
// the re-check before deleting (an untagged version tagged, an index pushed
// over old versions, a tag moved). The model reads the fake's state before
// and after that change and deletes what both readings delete; GHCR cannot
// remove a tag alone.

const ghTrialToken = "ghp_trial-token-0123456789"

// GitHubConfig configures RunGitHub.
type GitHubConfig struct {
	DefaultTrials uint64
	Package       string // the calling test package, for the replay command
}

// ghState is the package as the fake holds it.
type ghState struct {
	tags     map[string]string // tag -> digest
	created  map[string]time.Time
	children map[string][]string
	isNew    map[string]bool // appeared during the run
}

func readGHState(f *ghpackages.Fake, before *ghState) *ghState {
	s := &ghState{tags: map[string]string{}, created: map[string]time.Time{}, children: map[string][]string{}, isNew: map[string]bool{}}
	for _, v := range f.Versions("acme", "app") {
		s.created[v.Digest] = v.PushedAt() // the age the plan reads by default
		for _, t := range v.Tags {
			s.tags[t] = v.Digest
		}
		var m struct {
			Manifests []struct{ Digest string } `json:"manifests"`
		}
		if json.Unmarshal(v.Manifest, &m) == nil {
			for _, c := range m.Manifests {
				s.children[v.Digest] = append(s.children[v.Digest], c.Digest)
			}
		}
		if before != nil {
			if _, ok := before.created[v.Digest]; !ok {
				s.isNew[v.Digest] = true
			}
		}
	}
	return s
}

// ghModel deletes (with internal/plan's documented rules, read again), as a greatest fixpoint, every version the policy lets
// go that nothing kept names: a version is kept by a tag no rule lets go,
// by being new, by being untagged with `untagged` off or too young, or by a
// kept index naming it; it goes when all its tags go, when it is an old
// enough untagged version under `untagged`, or with a deleted index.
func ghModel(s *ghState, p policy) map[string]bool {
	include, exclude := matcher(p.Tags, p.Regex), matcher(p.Exclude, p.Regex)
	// An index is as young as its youngest part, however deep: its newest
	// manifest's time, or its own push time when that is newer (the plan's
	// rule); an image is its version's creation time.
	var age func(d string, depth int) time.Time
	age = func(d string, depth int) time.Time {
		if len(s.children[d]) == 0 || depth > 10 {
			return s.created[d]
		}
		t := s.created[d]
		for _, c := range s.children[d] {
			if ct := age(c, depth+1); ct.After(t) {
				t = ct
			}
		}
		return t
	}
	// latest is kept unless a pattern names it exactly (protect-latest);
	// none of the trial's patterns does.
	names := func(t string) bool { return t != "latest" }
	oldEnough := func(d string) bool {
		return p.olderThan <= 0 || age(d, 0).Before(now.Add(-p.olderThan))
	}
	tagsOn := map[string][]string{}
	for t, d := range s.tags {
		tagsOn[d] = append(tagsOn[d], t)
	}
	parents := map[string][]string{}
	for d, cs := range s.children {
		for _, c := range cs {
			if _, ok := s.created[c]; ok && c != d {
				parents[c] = append(parents[c], d)
			}
		}
	}
	fix := func(kept string) map[string]bool {
		del := map[string]bool{}
		for d := range s.created {
			keep := s.isNew[d] || d == kept
			for _, t := range tagsOn[d] {
				keep = keep || !include(t) || exclude(t) || !names(t) || !oldEnough(d)
			}
			if !keep {
				del[d] = true
			}
		}
		for changed := true; changed; {
			changed = false
			for d := range del {
				justified := len(tagsOn[d]) > 0 || p.Untagged && oldEnough(d)
				blocked := false
				for _, par := range parents[d] {
					justified = justified || del[par]
					blocked = blocked || !del[par]
				}
				if !justified || blocked {
					delete(del, d)
					changed = true
				}
			}
		}
		return del
	}
	del := fix("")
	// GitHub refuses to delete a package's last tagged version: when every
	// tagged version would go, the newest one no deleted index names stays
	// (then the newest of all, then the greatest digest).
	last := ""
	rootOf := func(d string) bool {
		for _, par := range parents[d] {
			if del[par] {
				return false
			}
		}
		return true
	}
	for d := range tagsOn {
		if !del[d] {
			return del
		}
		switch {
		case last == "", rootOf(d) && !rootOf(last):
			last = d
		case rootOf(d) != rootOf(last):
		case s.created[d].After(s.created[last]), s.created[d].Equal(s.created[last]) && d > last:
			last = d
		}
	}
	if last == "" {
		return del
	}
	return fix(last)
}

// ghLayout seeds the fake with a random package and returns a change
// another pipeline makes during the run (nil: none) and its description.
func ghLayout(r *rand.Rand, f *ghpackages.Fake) (func(), string) {
	pool := []string{"pr-1", "pr-2", "pr-3", "pr-4", "pr-5", "pr-6", "sha-1a2b3c4", "sha-5d6e7f8", "v1.0.0", "v1.1.0", "v2.0.0", "latest", "main", "edge"}
	r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	tags := func(p float64) []string {
		var out []string
		for r.Float64() < p && len(pool) > 0 {
			out, pool = append(out, pool[0]), pool[1:]
			p /= 3
		}
		return out
	}
	created := func() time.Time { return now.Add(-time.Duration(r.IntN(60*24)) * time.Hour) }
	var all []string
	for i := range 3 + r.IntN(8) {
		all = append(all, f.AddImage("acme", "app", fmt.Sprint("img-", i, "-", r.Uint64()), tags(0.4), created()))
	}
	for range r.IntN(5) {
		var cs []string
		for range 1 + r.IntN(3) {
			cs = append(cs, all[r.IntN(len(all))])
		}
		sort.Strings(cs)
		cs = uniqStrings(cs)
		all = append(all, f.AddIndexOf("acme", "app", tags(0.5), created(), cs...))
	}
	switch r.IntN(5) {
	case 0, 1:
		return nil, "none"
	case 2:
		d := all[r.IntN(len(all))]
		return func() { f.AddVersion("acme", "app", d, []string{"promoted"}, now, nil, "") }, "tag " + short(d) + " promoted"
	case 3:
		cs := uniqStrings([]string{all[r.IntN(len(all))], all[r.IntN(len(all))]})
		sort.Strings(cs)
		tag := [][]string{nil, {"pr-new"}, {"release-new"}}[r.IntN(3)]
		return func() { f.AddIndexOf("acme", "app", tag, now, cs...) }, fmt.Sprintf("push index %v over %v", tag, shortAll(cs))
	default:
		st := readGHState(f, nil)
		var names []string
		for t := range st.tags {
			names = append(names, t)
		}
		if len(names) == 0 {
			return nil, "none"
		}
		sort.Strings(names)
		t, d := names[r.IntN(len(names))], all[r.IntN(len(all))]
		return func() { f.AddVersion("acme", "app", d, []string{t}, now, nil, "") }, "move " + t + " to " + short(d)
	}
}

func uniqStrings(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func ghPolicy(r *rand.Rand) policy {
	pats := [][]string{{"pr-*"}, {"pr-*", "sha-*"}, {"*"}, {"v1.*"}, {"sha-*", "edge"}}
	p := policy{Tags: pats[r.IntN(len(pats))], DeleteReferrers: true, Untagged: r.IntN(3) > 0, DryRun: r.IntN(8) == 0}
	if r.IntN(3) == 0 {
		p.Exclude = []string{"latest", "v1.1.0"}[:1+r.IntN(2)]
	}
	if r.IntN(2) == 0 {
		p.OlderThan, p.olderThan = "30d", 30*24*time.Hour
	}
	return p
}

// changeHook runs change once, just before the second versions listing (the
// re-check before deleting) reaches the fake.
type changeHook struct {
	base   http.RoundTripper
	change func()
	// snap reads the state just after the change, before any deletion.
	snap  func() *ghState
	n     atomic.Int32
	once  sync.Once
	mu    sync.Mutex
	after *ghState
}

func (h *changeHook) RoundTrip(req *http.Request) (*http.Response, error) {
	if h.change != nil && req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/versions") && h.n.Add(1) == 2 {
		h.once.Do(func() {
			h.change()
			h.mu.Lock()
			h.after = h.snap()
			h.mu.Unlock()
		})
	}
	return h.base.RoundTrip(req)
}

func (h *changeHook) changed() *ghState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.after
}

// RunGitHub runs the GitHub Packages trials (REGSWEEP_TRIALS,
// REGSWEEP_TRIAL_SEED and REGSWEEP_TRIAL_WORKERS as for Run).
func RunGitHub(t *testing.T, cfg GitHubConfig) {
	n := envInt(t, "REGSWEEP_TRIALS", cfg.DefaultTrials)
	seedV := envInt(t, "REGSWEEP_TRIAL_SEED", rand.Uint64())
	workers := max(1, int(envInt(t, "REGSWEEP_TRIAL_WORKERS", 6)))
	t.Logf("seed %d (replay: REGSWEEP_TRIAL_SEED=%d REGSWEEP_TRIALS=%d)", seedV, seedV, n)
	var trials, changes, deleted, kept, violations atomic.Int64
	jobs := make(chan uint64)
	var wg sync.WaitGroup
	for range workers {
		base := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(base.CloseIdleConnections)
		wg.Go(func() {
			for i := range jobs {
				t.Run(fmt.Sprintf("trial-%04d", i), func(t *testing.T) {
					d, k, changed, bad := ghTrial(t, base, seedV, i, cfg.Package)
					trials.Add(1)
					deleted.Add(int64(d))
					kept.Add(int64(k))
					if changed {
						changes.Add(1)
					}
					violations.Add(int64(bad))
				})
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Logf("seed %d: %d trials, %d with a change during the run; checked %d version deletions, %d kept versions; %d violations",
		seedV, trials.Load(), changes.Load(), deleted.Load(), kept.Load(), violations.Load())
	if v := violations.Load(); v > 0 {
		t.Errorf("%d violations; replay with REGSWEEP_TRIAL_SEED=%d", v, seedV)
	}
}

func ghTrial(t *testing.T, base http.RoundTripper, seed, i uint64, pkg string) (deleted, kept int, changed bool, bad int) {
	r := rand.New(rand.NewPCG(seed, i))
	f := ghpackages.New(ghTrialToken)
	f.AddPackage(ghpackages.Org, "acme", "app")
	change, what := ghLayout(r, f)
	p := ghPolicy(r)
	srv := httptest.NewServer(f)
	defer srv.Close()
	before := readGHState(f, nil)
	hook := &changeHook{base: base, change: change, snap: func() *ghState { return readGHState(f, before) }}
	inputs := p.inputs(strings.TrimPrefix(srv.URL, "http://") + "/acme/app")
	inputs["backend"], inputs["github-token"], inputs["github-delete-rate"] = "github", ghTrialToken, "3"
	res := e2e.RunWith(t, e2e.Options{Now: now, Base: hook, Env: map[string]string{"GITHUB_API_URL": srv.URL}}, inputs)

	want := ghModel(before, p)
	after := before
	if a := hook.changed(); a != nil {
		after = a
		second := ghModel(after, p)
		for d := range want {
			if !second[d] {
				delete(want, d)
			}
		}
	}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if res.Code != 0 {
		fail("exit code %d, want 0", res.Code)
	}
	left := map[string]bool{}
	for _, d := range f.Digests("acme", "app") {
		left[d] = true
	}
	var gone []string
	for d := range before.created {
		switch {
		case p.DryRun && !left[d]:
			fail("WRONG DELETION: dry run deleted %s", short(d))
		case p.DryRun:
		case want[d] && left[d]:
			fail("MISSED DELETION: %s still a version", short(d))
		case !want[d] && !left[d]:
			fail("WRONG DELETION: %s kept by the model is gone", short(d))
		}
		if !left[d] {
			gone = append(gone, d)
		}
	}
	sort.Strings(gone)
	modelDel := keys(want)
	if got := res.Strings(t, "deleted-digests"); p.DryRun && !equal(got, modelDel) || !p.DryRun && !equal(got, gone) {
		fail("deleted-digests = %v, model %v, gone %v", shortAll(got), shortAll(modelDel), shortAll(gone))
	}
	// Every tag of a version that stays still names it (GHCR cannot
	// untag), and no other tag is left.
	final := readGHState(f, nil).tags
	for tag, d := range after.tags {
		if left[d] && final[tag] != d {
			fail("WRONG DELETION: tag %s of kept version %s now names %q", tag, short(d), short(final[tag]))
		}
	}
	for tag, d := range final {
		if after.tags[tag] != d {
			fail("tag %s names %s, want %q", tag, short(d), short(after.tags[tag]))
		}
	}
	if len(problems) > 0 {
		t.Errorf("trial %d (replay: REGSWEEP_TRIAL_SEED=%d go test -run 'TestGitHubTrial/trial-%04d' %s):\n%s\npolicy: %s\nchange: %s\nversions before: %s\nlog:\n%s",
			i, seed, i, pkg, strings.Join(problems, "\n"), p, what, ghDump(before), clip(res.Log, 6000))
	}
	return len(want), len(before.created) - len(want), hook.changed() != nil, len(problems)
}

func ghDump(s *ghState) string {
	var b strings.Builder
	byDigest := map[string][]string{}
	for t, d := range s.tags {
		byDigest[d] = append(byDigest[d], t)
	}
	var ds []string
	for d := range s.created {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	for _, d := range ds {
		sort.Strings(byDigest[d])
		fmt.Fprintf(&b, "\n  %s created=%s tags=%v children=%v", short(d), s.created[d].Format(time.DateOnly), byDigest[d], shortAll(s.children[d]))
	}
	return b.String()
}
