package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// FSShape is the filesystem scenario's repository: images single-tag pr-*
// images (each its own manifest, as one build per pull request makes) and
// releases v1.0.N kept.
func FSShape(images, releases int) Shape {
	return Shape{PRTags: images, PRDigests: images, Releases: releases}
}

// FSSuite is the filesystem-storage scenario: what self-hosted users run
// (distribution v3 with its filesystem driver), where the registry's own
// DELETE cost, not the network, used to decide the time.
type FSSuite struct {
	Main   *Result // FSImages: regsweep with its defaults, and the sequential loop
	Before *Result // FSImages: regsweep with one DELETE per manifest (nil without FSBefore)
	Scaled *Result // 10 x FSImages: regsweep (nil without FSScale)
	// Seed is how long seeding each repository took, by scenario name.
	Seed map[string]time.Duration
}

// runFS runs the filesystem scenario on its own registry, whose storage is
// a temporary directory removed at the end.
func runFS(ctx context.Context, c Config, logf func(string, ...any)) (*FSSuite, error) {
	dir, err := os.MkdirTemp("", "sweepbench-fs")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	host := ""
	if len(c.RegistryCommand) > 0 {
		args := append(append([]string(nil), c.RegistryCommand[1:]...), "-storage-dir", dir)
		child, err := StartChild(ctx, c.RegistryCommand[0], args...)
		if err != nil {
			return nil, err
		}
		defer child.Close()
		host = child.Host
	} else {
		reg, _ := StartRegistry(ctx, dir)
		defer reg.Close()
		host = reg.Host
	}
	images := c.FSImages
	if images <= 0 {
		images = 1000
	}
	releases := c.FSReleases
	if releases <= 0 {
		releases = 20
	}
	fs := &FSSuite{Seed: map[string]time.Duration{}}
	run := func(name string, n int, baseline bool, untagFirstAt int) (*Result, error) {
		shape := FSShape(n, releases)
		logf("filesystem: %s: seeding %d images + %d releases%s, then regsweep (%s per request)...", name, n, releases,
			map[bool]string{true: " twice (regsweep, sequential loop)", false: ""}[baseline], c.Delay)
		r, err := Run(ctx, host, Options{
			Name: "fs-" + name, Delay: c.Delay, Concurrency: c.Concurrency, Recheck: c.Recheck,
			Baseline: baseline, Shape: &shape, UntagFirstAt: untagFirstAt,
			SeedWith: func(ctx context.Context, repo string, s Shape) error {
				_, path, _ := cutHost(repo)
				return SeedStorage(ctx, dir, path, s)
			},
		})
		if err != nil {
			return nil, fmt.Errorf("filesystem scenario %s: %w", name, err)
		}
		fs.Seed[name] = r.SeedWall
		logf("filesystem: %s: seeded in %s, regsweep %s", name, secs(r.SeedWall), secs(r.Sweep.Wall))
		return r, nil
	}
	if fs.Main, err = run(fmt.Sprint(images), images, !c.NoBaseline, 0); err != nil {
		return nil, err
	}
	if c.FSBefore {
		if fs.Before, err = run(fmt.Sprintf("%d-single-delete", images), images, false, -1); err != nil {
			return nil, err
		}
	}
	if c.FSScale {
		if fs.Scaled, err = run(fmt.Sprint(10*images), 10*images, false, 0); err != nil {
			return nil, err
		}
	}
	return fs, nil
}

// workRatio is a run's wall time over its work's network bound.
func workRatio(r *Result) float64 { return float64(r.Sweep.Wall) / float64(r.WorkBound()) }

// Checks evaluates the filesystem scenario's targets.
func (fs *FSSuite) Checks() []Check {
	var cs []Check
	add := func(ok bool, format string, args ...any) { cs = append(cs, Check{ok, fmt.Sprintf(format, args...)}) }
	r := fs.Main
	add(r.Kept, "filesystem, %d images: exactly the %d release tags are left after regsweep", r.Shape.PRDigests, r.Shape.Releases)
	if r.Baseline != nil {
		add(r.BaselineKept, "filesystem, %d images: exactly the %d release tags are left after the sequential loop", r.Shape.PRDigests, r.Shape.Releases)
	}
	add(workRatio(r) <= TargetFSBound, "filesystem, %d images: %.2fx the network bound %s = (%d resolves + %d deletions) x %s / %d (target <= %.1fx)",
		r.Shape.PRDigests, workRatio(r), secs(r.WorkBound()), r.Shape.Tags(), r.Shape.PRDigests, r.Delay, r.Concurrency, TargetFSBound)
	if x := fs.Scaled; x != nil {
		add(x.Kept, "filesystem, %d images: exactly the %d release tags are left", x.Shape.PRDigests, x.Shape.Releases)
		lin := float64(x.Sweep.Wall) / float64(r.Sweep.Wall)
		add(lin <= TargetFSLinear, "filesystem: %d images took %.1fx the %d-image run (target <= %.0fx)", x.Shape.PRDigests, lin, r.Shape.PRDigests, TargetFSLinear)
	}
	if b := fs.Before; b != nil {
		add(b.Kept, "filesystem, %d images, one DELETE per manifest: exactly the %d release tags are left", b.Shape.PRDigests, b.Shape.Releases)
	}
	return cs
}

func (fs *FSSuite) rows() []*Result {
	var out []*Result
	for _, r := range []*Result{fs.Main, fs.Before, fs.Scaled} {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

func fsLabel(fs *FSSuite, r *Result) string {
	if r == fs.Before {
		return fmt.Sprintf("%d images, one DELETE per manifest", r.Shape.PRDigests)
	}
	return fmt.Sprintf("%d images", r.Shape.PRDigests)
}

func (fs *FSSuite) writeText(w io.Writer) {
	r := fs.Main
	fmt.Fprintf(w, "\nFilesystem storage (distribution v3, filesystem driver): single-tag pr-* images + %d releases, sweeping pr-*, %s per request, concurrency %d\n",
		r.Shape.Releases, r.Delay, r.Concurrency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\twall\tx network bound\trequests\tregistry per DELETE by digest / by tag\tseeding\n")
	for _, x := range fs.rows() {
		fmt.Fprintf(tw, "regsweep, %s\t%s\t%.2fx of %s\t%d (%s)\t%s / %s\t%s\n", fsLabel(fs, x), secs(x.Sweep.Wall), workRatio(x), secs(x.WorkBound()),
			x.Server.Total(), methods(x.Server.Requests), ms(x.Server.Handler(kindDelete)), ms(x.Server.Handler("DELETE manifest-by-tag")), secs(x.SeedWall))
	}
	if r.Baseline != nil {
		fmt.Fprintf(tw, "sequential loop, %d images\t%s\t%.2fx\t%d (%s)\t%s / -\t\n", r.Shape.PRDigests, secs(r.Baseline.Wall),
			float64(r.Baseline.Wall)/float64(r.WorkBound()), r.BaselineServer.Total(), methods(r.BaselineServer.Requests), ms(r.BaselineServer.Handler(kindDelete)))
	}
	tw.Flush()
	if x := fs.Scaled; x != nil {
		fmt.Fprintf(w, "%d/%d images: %.1fx the time\n", x.Shape.PRDigests, r.Shape.PRDigests, float64(x.Sweep.Wall)/float64(r.Sweep.Wall))
	}
	for _, x := range fs.rows() {
		fmt.Fprintf(w, "regsweep timeline, %s (server side, from the first request):\n", fsLabel(fs, x))
		writeTimeline(w, x.Server)
	}
}

func (fs *FSSuite) writeMarkdown(b *strings.Builder) {
	r := fs.Main
	fmt.Fprintf(b, "**Filesystem storage** (distribution v3.1.2, `filesystem` driver in a temporary directory): single-tag `pr-*` images plus %d releases, sweeping `pr-*`, %s per request, concurrency %d. Network bound: (resolves + deletions) x %s / %d.\n\n",
		r.Shape.Releases, r.Delay, r.Concurrency, r.Delay, r.Concurrency)
	b.WriteString("| | wall time | x network bound | requests | registry's own time per DELETE by digest / by tag | seeding |\n|---|---|---|---|---|---|\n")
	for _, x := range fs.rows() {
		fmt.Fprintf(b, "| regsweep, %s | %s | **%.2fx** of %s | %d (%s) | %s / %s | %s |\n", fsLabel(fs, x), secs(x.Sweep.Wall), workRatio(x), secs(x.WorkBound()),
			x.Server.Total(), methods(x.Server.Requests), ms(x.Server.Handler(kindDelete)), ms(x.Server.Handler("DELETE manifest-by-tag")), secs(x.SeedWall))
	}
	if r.Baseline != nil {
		fmt.Fprintf(b, "| sequential loop, %d images | %s | %.2fx | %d (%s) | %s / - | |\n", r.Shape.PRDigests, secs(r.Baseline.Wall),
			float64(r.Baseline.Wall)/float64(r.WorkBound()), r.BaselineServer.Total(), methods(r.BaselineServer.Requests), ms(r.BaselineServer.Handler(kindDelete)))
	}
	if x := fs.Scaled; x != nil {
		fmt.Fprintf(b, "\n%d images took **%.1fx** the %d-image time.\n", x.Shape.PRDigests, float64(x.Sweep.Wall)/float64(r.Sweep.Wall), r.Shape.PRDigests)
	}
	b.WriteString("\n")
}
