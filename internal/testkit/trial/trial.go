package trial

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

// Registry is one embedded registry a trial seeds and checks.
type Registry struct {
	Host   string       // host:port, plain HTTP
	Client *http.Client // a client for Host
}

// Config is what varies between registry generations.
type Config struct {
	// Start runs a fresh registry and registers its shutdown with t.Cleanup.
	Start func(t *testing.T) Registry
	// CanUntag says the registry removes a tag alone (DELETE by tag):
	// distribution 3 does, 2.8 refuses with 400, so there a matching tag on
	// a kept manifest is kept with rule cannot-untag.
	CanUntag bool
	// DefaultTrials is the number of trials when REGSWEEP_TRIALS is unset.
	DefaultTrials uint64
	// Package is the calling test package ("./internal/e2e/dist3test"),
	// printed in the replay command.
	Package string
}

// counts are the trial's figures, printed at the end.
type counts struct {
	trials, dryRuns           atomic.Int64
	deletedManifests, removed atomic.Int64 // deletions the model asked for, checked
	keptManifests, keptTags   atomic.Int64 // things the model keeps, checked
	cannotUntag               atomic.Int64 // of keptTags: matching tags the registry cannot untag
	violations                atomic.Int64
}

func envInt(t *testing.T, name string, def uint64) uint64 {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return n
}

// Run runs random repositories and policies through the whole app against
// cfg's registry and checks each run against the model: zero wrong
// deletions, zero missed deletions, outputs equal to the registry's real
// change; dry runs change nothing and report the model's plan. Each trial
// is a subtest "trial-NNNN" of t.
//
// REGSWEEP_TRIALS=5000 runs more; REGSWEEP_TRIAL_SEED=<seed> replays a run
// (add -run '<TestName>/trial-0042' for one trial); REGSWEEP_TRIAL_WORKERS
// sets the concurrency (default 6).
func Run(t *testing.T, cfg Config) {
	if cfg.Start == nil || cfg.DefaultTrials == 0 || cfg.Package == "" {
		t.Fatalf("trial.Config needs Start, DefaultTrials and Package: %+v", cfg)
	}
	n := envInt(t, "REGSWEEP_TRIALS", cfg.DefaultTrials)
	seedV := envInt(t, "REGSWEEP_TRIAL_SEED", rand.Uint64())
	workers := max(1, int(envInt(t, "REGSWEEP_TRIAL_WORKERS", 6)))
	t.Logf("seed %d (replay: REGSWEEP_TRIAL_SEED=%d REGSWEEP_TRIALS=%d)", seedV, seedV, n)
	rc := runConfig{canUntag: cfg.CanUntag, seed: seedV, test: t.Name(), pkg: cfg.Package}

	// A few registries spread the in-memory driver's locking.
	regs := make([]*checker, min(workers, 3))
	for i := range regs {
		r := cfg.Start(t)
		regs[i] = &checker{host: r.Host, client: r.Client}
	}

	var c counts
	jobs := make(chan uint64)
	var wg sync.WaitGroup
	for w := range workers {
		// One connection pool per worker, handed to the app as its base
		// transport: app.Run leaves its own pool's idle connections open, and
		// thousands of in-process runs ran out of file descriptors.
		base := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(base.CloseIdleConnections)
		wg.Go(func() {
			for i := range jobs {
				t.Run(trialName(i), func(t *testing.T) {
					trial(t, regs[w%len(regs)], base, rc, i, &c)
				})
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	// A rule-set trial for every four: several rules, group-by, keep.
	for i := range n / 4 {
		jobs <- ruleSetTrial | i
	}
	close(jobs)
	wg.Wait()
	t.Logf("seed %d: %d trials (%d dry runs); checked %d manifest deletions, %d tag removals, %d kept manifests, %d kept tags (%d cannot-untag); %d violations",
		seedV, c.trials.Load(), c.dryRuns.Load(), c.deletedManifests.Load(), c.removed.Load(),
		c.keptManifests.Load(), c.keptTags.Load(), c.cannotUntag.Load(), c.violations.Load())
	if v := c.violations.Load(); v > 0 {
		t.Errorf("%d violations; replay with REGSWEEP_TRIAL_SEED=%d", v, seedV)
	}
}

// runConfig is what every trial of one Run shares.
type runConfig struct {
	canUntag bool
	seed     uint64
	test     string // the top-level test's name, for the replay command
	pkg      string
}

func trial(t *testing.T, reg *checker, base http.RoundTripper, rc runConfig, i uint64, c *counts) {
	r := rand.New(rand.NewPCG(rc.seed, i))
	path := fmt.Sprintf("trial/t%d", i&^ruleSetTrial)
	if i&ruleSetTrial != 0 {
		path = fmt.Sprintf("trial/r%d", i&^ruleSetTrial)
	}
	repo := reg.host + "/" + path
	l, p := generate(r, repo)
	if i&ruleSetTrial != 0 {
		p = randomRuleSet(r, l, p)
	}
	if err := l.push(t.Context(), &uploader{c: reg, repo: path, blobs: map[string]bool{}}); err != nil {
		t.Fatal(err)
	}
	want := model(l, p, rc.canUntag)

	// Odd trials take the untag-first schedule (tags of doomed manifests
	// removed first, then the manifests), even ones today's single DELETE.
	untagFirst := -1
	if i%2 == 1 {
		untagFirst = 1
	}
	res := e2e.RunWith(t, e2e.Options{Now: now, Base: base, UntagFirstAt: untagFirst}, p.inputs(repo))
	c.trials.Add(1)

	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	if res.Code != 0 {
		fail("exit code %d, want 0", res.Code)
	}
	after := reg.state(t, path)
	exists := map[string]bool{}
	for d := range want.Present {
		_, exists[d] = reg.resolve(t, path, d)
	}

	// What really changed.
	var goneDigests, goneTags []string
	for d := range want.Present {
		if !exists[d] {
			goneDigests = append(goneDigests, d)
		}
	}
	for tag, d := range want.Before {
		if after[tag] != d {
			goneTags = append(goneTags, tag)
		}
	}
	for tag := range after {
		if _, ok := want.Before[tag]; !ok {
			fail("new tag %q appeared", tag)
		}
	}
	sort.Strings(goneDigests)
	sort.Strings(goneTags)
	modelDigests, modelTags := keys(want.Deleted), keys(want.RemovedTags)

	if p.DryRun {
		c.dryRuns.Add(1)
		if len(goneDigests) > 0 || len(goneTags) > 0 {
			fail("WRONG DELETION: dry run changed the registry: digests %v, tags %v", goneDigests, goneTags)
		}
		if got := res.Strings(t, "deleted-digests"); !equal(got, modelDigests) {
			fail("dry run deleted-digests = %v, model plans %v", got, modelDigests)
		}
		if got := res.Tags(t, "deleted-tags"); !equal(got, modelTags) {
			fail("dry run deleted-tags = %v, model plans %v", got, modelTags)
		}
	} else {
		for d := range want.Present {
			switch {
			case want.Deleted[d] && exists[d]:
				fail("MISSED DELETION: manifest %s still resolves", short(d))
			case !want.Deleted[d] && !exists[d]:
				fail("WRONG DELETION: manifest %s kept by the model is gone", short(d))
			}
		}
		for tag, d := range want.Before {
			switch got, ok := after[tag]; {
			case want.RemovedTags[tag] && ok:
				fail("MISSED DELETION: tag %q still names %s", tag, short(got))
			case !want.RemovedTags[tag] && got != d:
				fail("WRONG DELETION: tag %q kept by the model now names %q, want %s", tag, got, short(d))
			}
		}
		if got := res.Strings(t, "deleted-digests"); !equal(got, goneDigests) {
			fail("deleted-digests = %v, but the registry lost %v", got, goneDigests)
		}
		if got := res.Tags(t, "deleted-tags"); !equal(got, goneTags) {
			fail("deleted-tags = %v, but the registry lost %v", got, goneTags)
		}
		if got := res.Outputs["deleted-count"]; got != strconv.Itoa(len(goneDigests)) {
			fail("deleted-count = %q, but the registry lost %d manifests", got, len(goneDigests))
		}
	}
	// kept-tags lists every matching tag that stays, with its rule.
	var kept []struct{ Tag, Rule, Reason string }
	res.JSON(t, "kept-tags", &kept)
	keptNames := map[string]bool{}
	for _, k := range kept {
		if referrerTag.MatchString(k.Tag) {
			continue // whether a matching signature tag is listed is presentation
		}
		keptNames[k.Tag] = true
		if k.Rule == "" || k.Reason == "" {
			fail("kept-tags entry %q has no rule or reason", k.Tag)
		}
		if got, want := k.Rule == ruleCannotUntag, want.CannotUntag[k.Tag]; got != want {
			fail("kept-tags entry %q has rule %q, model says cannot-untag: %v", k.Tag, k.Rule, want)
		}
	}
	if got, want := keys(keptNames), keys(want.KeptMatch); !equal(got, want) {
		fail("kept-tags = %v, model keeps matching tags %v", got, want)
	}
	c.deletedManifests.Add(int64(len(want.Deleted)))
	c.removed.Add(int64(len(want.RemovedTags)))
	c.keptManifests.Add(int64(len(want.Present) - len(want.Deleted)))
	c.keptTags.Add(int64(len(want.Before) - len(want.RemovedTags)))
	c.cannotUntag.Add(int64(len(want.CannotUntag)))
	if len(problems) == 0 {
		return
	}
	c.violations.Add(int64(len(problems)))
	var keptRules strings.Builder
	for _, k := range kept {
		fmt.Fprintf(&keptRules, "  %s: %s (%s)\n", k.Tag, k.Rule, k.Reason)
	}
	t.Errorf("trial %d (replay: REGSWEEP_TRIAL_SEED=%d go test -run '%s/%s' %s):\n%s\npolicy: %s\nlayout:\n%smodel deletes %v\nmodel removes tags %v\nmodel keeps (cannot untag) %v\nkept-tags:\n%slog:\n%s",
		i&^ruleSetTrial, rc.seed, rc.test, trialName(i), rc.pkg, strings.Join(problems, "\n"), p, l, shortAll(modelDigests), modelTags, keys(want.CannotUntag), keptRules.String(), clip(res.Log, 6000))
}

// ruleCannotUntag is the kept-tags rule for a tag the registry cannot
// remove alone, spelled out here rather than taken from internal/plan.
const ruleCannotUntag = "cannot-untag"

func keys(m map[string]bool) []string {
	out := []string{}
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func equal(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func shortAll(ds []string) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = short(d)
	}
	return out
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n[... clipped]"
}
