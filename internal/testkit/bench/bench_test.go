package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/regsweep/regsweep/internal/plan"
	"github.com/regsweep/regsweep/internal/testkit/bench"
)

// The benchmarks reproduce the README's Speed figures with the registry in this
// process (its storage counts in the heap figure; cmd/sweepbench runs it in
// a child process for a clean heap number):
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/bench

const delay = 20 * time.Millisecond

var seq atomic.Int64

func fresh(b *testing.B, host string, s bench.Shape) string {
	b.Helper()
	repo := fmt.Sprintf("%s/bench/b%d", host, seq.Add(1))
	if err := bench.Seed(b.Context(), repo, s); err != nil {
		b.Fatal(err)
	}
	return repo
}

func measured(b *testing.B, c *bench.Control, f func()) bench.Counts {
	b.Helper()
	ctx := b.Context()
	if err := c.Reset(ctx); err != nil {
		b.Fatal(err)
	}
	if err := c.SetDelay(ctx, delay); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	f()
	b.StopTimer()
	if err := c.SetDelay(ctx, 0); err != nil {
		b.Fatal(err)
	}
	n, err := c.Counts(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func benchSweep(b *testing.B, tags int) {
	reg, _ := bench.StartRegistry(b.Context())
	defer reg.Close()
	c := bench.NewControl(reg.Host)
	s := bench.ShapeFor(tags)
	b.StopTimer()
	for range b.N {
		repo := fresh(b, reg.Host, s)
		var res bench.Sweep
		n := measured(b, c, func() { res = bench.RunRegsweep(b.Context(), repo, 0) })
		if res.Exit != 0 {
			b.Fatalf("regsweep exited %d:\n%s", res.Exit, res.Output)
		}
		if n.MaxResolvesPerTag > 2 { // twice: the re-check of kept tags
			b.Errorf("tag %s resolved %d times", n.MostResolvedTag, n.MaxResolvesPerTag)
		}
		b.ReportMetric(float64(n.Total()), "requests/op")
		b.ReportMetric(float64(bench.ExpectedFor(s, true).Total()), "budget/op")
		b.ReportMetric(float64(n.Requests["DELETE"]), "deletes/op")
		b.ReportMetric(float64(n.PeakInFlight), "peak-in-flight")
		b.ReportMetric(float64(res.Heap.PeakInuse)/(1<<20), "heap-MiB")
		bound := time.Duration(n.Total()) * delay / time.Duration(bench.DefaultConcurrency())
		b.ReportMetric(float64(res.Wall)/float64(bound), "x-bound")
	}
}

// BenchmarkSweep1000 is regsweep on 1,000 tags, 20 ms per request.
func BenchmarkSweep1000(b *testing.B) { benchSweep(b, 1000) }

// BenchmarkSweep10000 is regsweep on 10,000 tags (slow: distribution's
// DELETE cost grows with the repository's tag count).
func BenchmarkSweep10000(b *testing.B) {
	if testing.Short() {
		b.Skip("minutes long")
	}
	benchSweep(b, 10000)
}

// BenchmarkBaseline1000 is the sequential HEAD + DELETE loop (about a minute).
func BenchmarkBaseline1000(b *testing.B) {
	reg, _ := bench.StartRegistry(b.Context())
	defer reg.Close()
	c := bench.NewControl(reg.Host)
	s := bench.ShapeFor(1000)
	var tags []string
	for i := range s.PRTags {
		tags = append(tags, bench.PRTag(i))
	}
	b.StopTimer()
	for range b.N {
		repo := fresh(b, reg.Host, s)
		var err error
		n := measured(b, c, func() { _, err = bench.RunBaseline(b.Context(), repo, tags) })
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n.Total()), "requests/op")
	}
}

// BenchmarkRegistryDelete is the registry alone: one manifest DELETE by
// digest, one at a time and with no delay, in a repository of 1,000 or
// 10,000 tags. Distribution reads every tag of the repository on each such
// DELETE (handlers/manifests.go: tagService.Lookup), so its cost grows with
// the tag count whoever the client is; this is why the 10,000-tag sweep
// cannot be within 12x of the 1,000-tag one on this registry.
func BenchmarkRegistryDelete(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			reg, _ := bench.StartRegistry(b.Context())
			defer reg.Close()
			s := bench.ShapeFor(n)
			repo := fresh(b, reg.Host, s)
			path := repo[strings.IndexByte(repo, '/')+1:]
			var digests []string
			for i := 0; i < s.PRTags; i += 3 {
				ref, err := name.ParseReference(repo + ":" + bench.PRTag(i))
				if err != nil {
					b.Fatal(err)
				}
				d, err := remote.Head(ref, remote.WithContext(b.Context()))
				if err != nil {
					b.Fatal(err)
				}
				digests = append(digests, d.Digest.String())
			}
			b.ResetTimer()
			for i := range b.N {
				if i == len(digests) {
					b.Fatalf("more than %d iterations; use -benchtime 50x", len(digests))
				}
				req, _ := http.NewRequestWithContext(b.Context(), http.MethodDelete, reg.Server.URL+"/v2/"+path+"/manifests/"+digests[i], nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Fatalf("DELETE: %s", resp.Status)
				}
			}
		})
	}
}

// BenchmarkStartup builds the static binary and times its first request.
func BenchmarkStartup(b *testing.B) {
	root, err := bench.ModuleRoot(b.Context())
	if err != nil {
		b.Skip(err)
	}
	bin, err := bench.BuildBinary(b.Context(), root, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		st, err := bench.MeasureStartup(b.Context(), bin, 5)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.FirstRequest.Microseconds())/1000, "ms-to-first-request")
		b.ReportMetric(float64(st.BinarySize)/(1<<20), "binary-MiB")
	}
}

// TestSmallRun runs the whole scenario on a small repository without delay:
// regsweep keeps exactly the releases, stays within its request budget and
// resolves no tag twice; the baseline deletes the same.
func TestSmallRun(t *testing.T) {
	reg, _ := bench.StartRegistry(t.Context())
	defer reg.Close()
	res, err := bench.Run(t.Context(), reg.Host, bench.Options{Name: "small", Tags: 60, Baseline: true})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Shape
	if s != (bench.Shape{PRTags: 54, PRDigests: 18, Releases: 6}) {
		t.Errorf("shape %+v", s)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"releases kept by regsweep", res.Kept},
		{"releases kept by the baseline", res.BaselineKept},
		// Exactly the budget: anything more is a regression.
		{fmt.Sprintf("requests %d == budget %s", res.Server.Total(), res.Expected), res.Server.Total() == res.Expected.Total()},
		{fmt.Sprintf("no tag resolved twice (%s: %d)", res.Server.MostResolvedTag, res.Server.MaxResolvesPerTag), res.Server.MaxResolvesPerTag == 1},
		{fmt.Sprintf("one DELETE per image (%d)", res.Server.Requests["DELETE"]), res.Server.Requests["DELETE"] == s.PRDigests},
		{fmt.Sprintf("resolves %d == tags", res.Server.TagResolves), res.Server.TagResolves == s.Tags()},
		{fmt.Sprintf("baseline deleted %d", res.Baseline.Deleted), res.Baseline.Deleted == s.PRDigests},
		{fmt.Sprintf("baseline skipped %d", res.Baseline.Skipped), res.Baseline.Skipped == s.PRTags-s.PRDigests},
		{fmt.Sprintf("peak in flight %d <= concurrency %d", res.Server.PeakInFlight, res.Concurrency), res.Server.PeakInFlight <= res.Concurrency},
		{fmt.Sprintf("baseline sequential (%d)", res.BaselineServer.PeakInFlight), res.BaselineServer.PeakInFlight == 1},
		{"heap sampled", res.Sweep.Heap.Samples >= 2 && res.Sweep.Heap.PeakInuse > 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Error(c.name)
		}
	}
	var b strings.Builder
	bench.WriteText(&b, &bench.Suite{Machine: bench.ThisMachine(), Main: res})
	if !strings.Contains(b.String(), "Checks") || !strings.Contains(b.String(), "sequential loop") {
		t.Errorf("table lacks its parts:\n%s", b.String())
	}
}

func TestExpected(t *testing.T) {
	var out []string
	for _, n := range []int{60, 999, 1000, 10000} {
		s := bench.ShapeFor(n)
		out = append(out, fmt.Sprintf("%d tags: %+v: %s; recheck false: %s", n, s, bench.ExpectedFor(s, true), bench.ExpectedFor(s, false)))
	}
	snaps.MatchSnapshot(t, strings.Join(out, "\n"))
}

// TestMeter checks what the meter counts and how it names requests, with a
// stub behind it.
func TestMeter(t *testing.T) {
	m := bench.NewMeter()
	srv := httptest.NewServer(m.Wrap(httpOK{}))
	defer srv.Close()
	c := bench.NewControl(strings.TrimPrefix(srv.URL, "http://"))
	ctx := t.Context()
	reqs := []struct{ method, path string }{
		{"GET", "/v2/"},
		{"GET", "/v2/a/b/tags/list?n=1000"},
		{"HEAD", "/v2/a/b/manifests/pr-1"},
		{"HEAD", "/v2/a/b/manifests/pr-2"},
		{"HEAD", "/v2/a/b/manifests/pr-1"},
		{"GET", "/v2/a/b/manifests/sha256:" + strings.Repeat("a", 64)},
		{"DELETE", "/v2/a/b/manifests/sha256:" + strings.Repeat("a", 64)},
		{"GET", "/v2/a/b/referrers/sha256:" + strings.Repeat("0", 64)},
		{"GET", "/orgs/o/packages/container/app/versions"},
		{"DELETE", "/orgs/o/packages/container/app/versions/12"},
	}
	for _, r := range reqs {
		do(ctx, t, r.method, srv.URL+r.path)
	}
	n, err := c.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.MaxResolvesPerTag != 2 || n.MostResolvedTag != "a/b:pr-1" || n.TagResolves != 3 {
		t.Errorf("resolves: %d total, %s %d times", n.TagResolves, n.MostResolvedTag, n.MaxResolvesPerTag)
	}
	var kinds []string
	for k, v := range n.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s: %d", k, v.N))
	}
	snaps.MatchSnapshot(t, fmt.Sprintf("total %d, by method %v, statuses %v", n.Total(), n.Requests, n.Statuses), sorted(kinds))
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Counts(ctx); n.Total() != 0 {
		t.Errorf("after reset: %d requests", n.Total())
	}
}

func sorted(s []string) string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return strings.Join(s, "\n")
}

// TestGitHubSmall sweeps a few versions from the GitHub Packages fake.
func TestGitHubSmall(t *testing.T) {
	g, err := bench.RunGitHub(t.Context(), 15, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Kept || g.DeleteRequests != 3 || g.ListRequests > 3 || g.Refused != 0 {
		t.Errorf("kept %v, %d DELETEs, %d lists, %d refused; requests %v", g.Kept, g.DeleteRequests, g.ListRequests, g.Refused, g.Server.Requests)
	}
}

// TestFilesystemScenario is the filesystem scenario at CI size: distribution
// with its filesystem driver, seeded straight into storage, enough
// single-tag images for the default schedule to remove their tags first.
// It proves the code path (exact result, the two steps, the sequential loop
// on the same shape), not the speed: no timing is asserted.
func TestFilesystemScenario(t *testing.T) {
	dir := t.TempDir()
	reg, _ := bench.StartRegistry(t.Context(), dir)
	defer reg.Close()
	images := plan.DefaultUntagFirstAt + 10
	shape := bench.FSShape(images, 5)
	r, err := bench.Run(t.Context(), reg.Host, bench.Options{
		Name: "fs-ci", Shape: &shape, Baseline: true,
		SeedWith: func(ctx context.Context, repo string, s bench.Shape) error {
			return bench.SeedStorage(ctx, dir, strings.TrimPrefix(repo, reg.Host+"/"), s)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Kept || !r.BaselineKept {
		t.Errorf("release tags left: regsweep %v, sequential loop %v; want exactly the 5 releases", r.Kept, r.BaselineKept)
	}
	// One DELETE by tag per image (and the untag probe's), then one DELETE
	// by digest per image, each kind after the other.
	byTag, byDigest := r.Server.Kinds["DELETE manifest-by-tag"], r.Server.Kinds["DELETE manifest-by-digest"]
	if byTag == nil || byDigest == nil || byTag.N != images+1 || byDigest.N != images {
		t.Fatalf("DELETE by tag %+v, by digest %+v; want %d and %d", byTag, byDigest, images+1, images)
	}
	if byDigest.First.Before(byTag.Last) {
		t.Errorf("a DELETE by digest (first at %s) started before the last DELETE by tag ended (%s)", byDigest.First, byTag.Last)
	}
	if r.Server.Statuses["DELETE 202"] != 2*images {
		t.Errorf("DELETE answers %v, want %d accepted", r.Server.Statuses, 2*images)
	}
}
