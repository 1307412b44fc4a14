// Command sweepbench measures regsweep against the sequential per-tag loop
// and prints a table.
//
//	go run ./internal/bench/cmd/sweepbench              # 1,000 tags, 20 ms per request
//	go run ./internal/bench/cmd/sweepbench -scale       # plus the 10,000-tag run
//	go run ./internal/bench/cmd/sweepbench -memory=false -fs -fs-scale -fs-before
//	                                                    # filesystem storage: 1,000 and 10,000 single-tag images
//
// The registry (distribution v3, in-memory storage) runs in a child process
// (this program re-executed with -serve-registry) so that its storage does
// not count in regsweep's heap, which is sampled in this process.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/regsweep/regsweep/internal/testkit/bench"
)

func main() {
	var o bench.Config
	serve := flag.Bool("serve-registry", false, "internal: run the metered registry child")
	flag.IntVar(&o.Tags, "tags", 1000, "tags in the repository (90% pr-*, 3 per image; 10% releases)")
	flag.DurationVar(&o.Delay, "delay", 20*time.Millisecond, "delay the registry adds to every request")
	flag.IntVar(&o.Concurrency, "concurrency", 0, "regsweep's concurrency (0: its default)")
	flag.StringVar(&o.Recheck, "recheck", "", "regsweep's recheck setting: true or false (empty: its default, true)")
	flag.BoolVar(&o.NoBaseline, "no-baseline", false, "skip the sequential baseline (its ~1 min)")
	flag.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the main regsweep run to this file")
	flag.IntVar(&o.Runs, "runs", 3, "regsweep runs at -tags, each on a fresh repository; the median is reported")
	flag.BoolVar(&o.Scale, "scale", false, "also run 10x the tags (heap and linear growth)")
	flag.BoolVar(&o.Startup, "startup", true, "build the static binary, report its size and time to first request")
	flag.IntVar(&o.GitHubVersions, "gh-versions", 250, "versions in the GitHub Packages run (0 skips it)")
	flag.StringVar(&o.Markdown, "markdown", "", "also write the results as markdown to this file")
	storageDir := flag.String("storage-dir", "", "internal: the registry child stores in this directory (filesystem driver)")
	memory := flag.Bool("memory", true, "run the in-memory scenario (-tags, -runs, -scale)")
	flag.BoolVar(&o.FS, "fs", false, "run the filesystem-storage scenario: single-tag pr-* images + releases, regsweep and the sequential loop")
	flag.IntVar(&o.FSImages, "fs-images", 1000, "filesystem scenario: pr-* images, one tag each")
	flag.IntVar(&o.FSReleases, "fs-releases", 20, "filesystem scenario: release tags kept")
	flag.BoolVar(&o.FSScale, "fs-scale", false, "filesystem scenario: also run 10x the images")
	flag.BoolVar(&o.FSBefore, "fs-before", false, "filesystem scenario: also run regsweep with one DELETE per manifest (the schedule before untag-first)")
	flag.Parse()
	o.NoMemory = !*memory

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *serve {
		if err := bench.ServeChild(ctx, os.Stdin, os.Stdout, *storageDir); err != nil {
			fmt.Fprintln(os.Stderr, "sweepbench registry:", err)
			stop()
			os.Exit(1) //nolint:gocritic // stop already called
		}
		return
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sweepbench:", err)
		os.Exit(1)
	}
	o.RegistryCommand = []string{exe, "-serve-registry"}
	o.Log = os.Stderr
	if err := bench.Main(ctx, os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "sweepbench:", err)
		os.Exit(1)
	}
}
