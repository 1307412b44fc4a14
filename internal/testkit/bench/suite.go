package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets, as the README's Speed section states them.
const (
	TargetSpeedup   = 15.0     // baseline / regsweep, at least
	TargetBound     = 1.3      // regsweep / network bound, at most
	TargetHeap      = 64 << 20 // peak Go heap at 10x tags, under
	TargetLinear    = 12.0     // 10x-tag wall / 1x-tag wall, at most
	TargetFirstReq  = 100 * time.Millisecond
	heapTargetLabel = "64 MiB"
	// The filesystem scenario: wall time over the work's network bound
	// ((resolves + deletions) x delay / concurrency) at 1,000 images, and
	// 10x the images against 1x, at most.
	TargetFSBound  = 2.5
	TargetFSLinear = 12.0
)

// Config is what cmd/sweepbench runs.
type Config struct {
	Tags           int
	Delay          time.Duration
	Concurrency    int
	Recheck        string // regsweep's `recheck` setting ("": its default)
	Scale          bool
	NoBaseline     bool
	Runs           int    // regsweep runs at the main size; the median is kept
	CPUProfile     string // file for a CPU profile of the main regsweep run
	Startup        bool
	GitHubVersions int
	Markdown       string // file to write the markdown results to
	// NoMemory skips the in-memory scenario (Tags, Runs, Scale).
	NoMemory bool
	// FS runs the filesystem-storage scenario: distribution with its
	// filesystem driver in a temporary directory, FSImages single-tag pr-*
	// images plus FSReleases releases, regsweep and the sequential loop;
	// FSScale adds 10x the images (regsweep only); FSBefore adds regsweep
	// with the single DELETE per manifest (the schedule before untag-first).
	FS         bool
	FSImages   int
	FSReleases int
	FSScale    bool
	FSBefore   bool
	// RegistryCommand starts the registry child (argv); empty runs the
	// registry in this process (its storage then counts in the heap).
	RegistryCommand []string
	Log             io.Writer
}

// Suite is everything one sweepbench run measured.
type Suite struct {
	Machine  Machine
	Main     *Result
	Scaled   *Result // nil without -scale
	Startup  *Startup
	GitHub   *GitHub
	FS       *FSSuite // nil without -fs
	Child    bool     // the registry ran in a child process
	Problems []string
}

// Machine describes where the figures come from.
type Machine struct {
	GOOS, GOARCH, GoVersion, CPU string
	NumCPU                       int
}

// ThisMachine describes this machine.
func ThisMachine() Machine {
	m := Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, GoVersion: runtime.Version(), NumCPU: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// Main runs the configured benchmarks and prints the table to out.
func Main(ctx context.Context, out io.Writer, c Config) error {
	logf := func(format string, args ...any) {
		if c.Log != nil {
			fmt.Fprintf(c.Log, format+"\n", args...)
		}
	}
	s := &Suite{Machine: ThisMachine()}
	if c.FS {
		fs, err := runFS(ctx, c, logf)
		if err != nil {
			return err
		}
		s.FS = fs
	}
	if c.NoMemory {
		WriteText(out, s)
		if c.Markdown != "" {
			if err := os.WriteFile(c.Markdown, []byte(Markdown(s)), 0o644); err != nil {
				return fmt.Errorf("write %s: %w", c.Markdown, err)
			}
		}
		return nil
	}
	host := ""
	if len(c.RegistryCommand) > 0 {
		child, err := StartChild(ctx, c.RegistryCommand[0], c.RegistryCommand[1:]...)
		if err != nil {
			return err
		}
		defer child.Close()
		host, s.Child = child.Host, true
	} else {
		reg, _ := StartRegistry(ctx)
		defer reg.Close()
		host = reg.Host
	}

	mainCtx := ctx
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		mainCtx = WithCPUProfile(ctx, f)
	}
	logf("seeding 2 x %d tags and running regsweep and the sequential baseline (%s per request)...", c.Tags, c.Delay)
	var err error
	s.Main, err = Run(mainCtx, host, Options{Name: fmt.Sprint(c.Tags), Tags: c.Tags, Delay: c.Delay, Concurrency: c.Concurrency, Recheck: c.Recheck, Baseline: !c.NoBaseline})
	if err != nil {
		return err
	}
	// More regsweep runs, each on a fresh copy, keep the median: one run
	// of a few seconds on a shared 2-core machine is noisy.
	runs := []*Result{s.Main}
	for i := 1; i < c.Runs; i++ {
		logf("regsweep run %d of %d...", i+1, c.Runs)
		r, err := Run(ctx, host, Options{Name: fmt.Sprintf("%d-run%d", c.Tags, i), Tags: c.Tags, Delay: c.Delay, Concurrency: c.Concurrency, Recheck: c.Recheck})
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	s.Main = median(runs)
	if c.Scale {
		n := c.Tags * 10
		logf("seeding %d tags and running regsweep...", n)
		s.Scaled, err = Run(ctx, host, Options{Name: fmt.Sprint(n), Tags: n, Delay: c.Delay, Concurrency: c.Concurrency, Recheck: c.Recheck})
		if err != nil {
			return err
		}
	}
	if c.Startup {
		logf("building the static binary and timing its first request...")
		if st, err := startup(ctx); err != nil {
			s.Problems = append(s.Problems, "startup: "+err.Error())
		} else {
			s.Startup = &st
		}
	}
	if c.GitHubVersions > 0 {
		logf("GitHub Packages: %d versions against the fake (deletions paced, takes a while)...", c.GitHubVersions)
		gh, err := RunGitHub(ctx, c.GitHubVersions, c.Delay)
		if err != nil {
			s.Problems = append(s.Problems, "github: "+err.Error())
		}
		s.GitHub = gh
	}
	WriteText(out, s)
	if c.Markdown != "" {
		if err := os.WriteFile(c.Markdown, []byte(Markdown(s)), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", c.Markdown, err)
		}
	}
	return nil
}

// median returns the run with the median regsweep wall time, carrying the
// first run's baseline and every run's wall time.
func median(runs []*Result) *Result {
	walls := make([]time.Duration, len(runs))
	for i, r := range runs {
		walls[i] = r.Sweep.Wall
	}
	sorted := slices.Clone(runs)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Sweep.Wall < sorted[j].Sweep.Wall })
	m := *sorted[len(sorted)/2]
	m.Baseline, m.BaselineServer, m.BaselineKept = runs[0].Baseline, runs[0].BaselineServer, runs[0].BaselineKept
	m.Walls = walls
	for _, r := range runs {
		m.Kept = m.Kept && r.Kept
	}
	return &m
}

func startup(ctx context.Context) (Startup, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return Startup{}, err
	}
	dir, err := os.MkdirTemp("", "sweepbench-bin")
	if err != nil {
		return Startup{}, err
	}
	defer os.RemoveAll(dir)
	bin, err := BuildBinary(ctx, root, dir)
	if err != nil {
		return Startup{}, err
	}
	return MeasureStartup(ctx, bin, 7)
}

// Check is one target and whether it was met.
type Check struct {
	OK   bool
	Text string
}

// Checks evaluates the targets.
func (s *Suite) Checks() []Check {
	var cs []Check
	add := func(ok bool, format string, args ...any) { cs = append(cs, Check{ok, fmt.Sprintf(format, args...)}) }
	if s.FS != nil {
		cs = append(cs, s.FS.Checks()...)
	}
	r := s.Main
	if r == nil {
		return cs
	}
	add(r.Kept, "%d tags: exactly the %d release tags are left after regsweep", r.Shape.Tags(), r.Shape.Releases)
	add(r.Server.Total() <= r.Expected.Total(), "requests %d <= budget %s%s", r.Server.Total(), r.Expected, recheckNote(r))
	add(r.Server.MaxResolvesPerTag <= 1, "no tag resolved twice (most resolves of one tag: %d, %s)%s", r.Server.MaxResolvesPerTag, r.Server.MostResolvedTag, recheckNote(r))
	if r.Baseline != nil {
		add(r.Ratio() >= TargetSpeedup, "%.1fx faster than the sequential loop (target >= %.0fx)", r.Ratio(), TargetSpeedup)
	}
	add(float64(r.Sweep.Wall) <= TargetBound*float64(r.Bound()), "%.2fx the bound %s = %d requests x %s / %d (target <= %.1fx)%s",
		float64(r.Sweep.Wall)/float64(r.Bound()), r.Bound().Round(time.Millisecond), r.Server.Total(), r.Delay, r.Concurrency, TargetBound, serverCost(r))
	add(float64(r.Sweep.Wall) <= TargetBound*float64(r.ServerBound()), "%.2fx the bound counting the registry's own time, %s = server busy time / %d (target <= %.1fx)",
		float64(r.Sweep.Wall)/float64(r.ServerBound()), r.ServerBound().Round(time.Millisecond), r.Concurrency, TargetBound)
	if x := s.Scaled; x != nil {
		add(x.Kept, "%d tags: exactly the %d release tags are left", x.Shape.Tags(), x.Shape.Releases)
		add(x.Server.Total() <= x.Expected.Total(), "%d tags: requests %d <= budget %s%s", x.Shape.Tags(), x.Server.Total(), x.Expected, recheckNote(x))
		add(x.Server.MaxResolvesPerTag <= 1, "%d tags: no tag resolved twice%s", x.Shape.Tags(), recheckNote(x))
		add(x.Sweep.Heap.PeakInuse < TargetHeap, "%d tags: peak Go heap %s in use (%s in objects) < %s%s", x.Shape.Tags(),
			mib(x.Sweep.Heap.PeakInuse), mib(x.Sweep.Heap.PeakAlloc), heapTargetLabel, s.heapNote())
		lin := float64(x.Sweep.Wall) / float64(r.Sweep.Wall)
		add(lin <= TargetLinear, "%d tags took %.1fx the %d-tag run (target <= %.0fx)%s", x.Shape.Tags(), lin, r.Shape.Tags(), TargetLinear, serverCost(x))
		const disc = "HEAD manifest-by-tag"
		dl := float64(x.Server.Phase(disc)) / float64(r.Server.Phase(disc))
		add(dl <= TargetLinear, "discovery (resolving every tag) took %.1fx: %s vs %s", dl, secs(x.Server.Phase(disc)), secs(r.Server.Phase(disc)))
		add(float64(x.Sweep.Wall) <= TargetBound*float64(x.ServerBound()), "%d tags: %.2fx the bound counting the registry's own time (%s)",
			x.Shape.Tags(), float64(x.Sweep.Wall)/float64(x.ServerBound()), secs(x.ServerBound()))
	}
	if st := s.Startup; st != nil {
		add(st.FirstRequest < TargetFirstReq, "first request %s after exec (median of %d; target < %s)", st.FirstRequest.Round(100*time.Microsecond), st.Runs, TargetFirstReq)
	}
	if g := s.GitHub; g != nil {
		pages := (g.Versions + 99) / 100
		add(g.Kept, "GitHub Packages: exactly the %d release versions are left", g.Versions-g.PRVersions)
		add(g.ListRequests <= 3*pages, "GitHub Packages: %d version-list requests for %d versions (%d per listing, listed three times: discover, last look before deleting, confirmation)", g.ListRequests, g.Versions, pages)
		add(g.DeleteRequests == g.PRVersions, "GitHub Packages: %d DELETEs for %d versions", g.DeleteRequests, g.PRVersions)
		add(g.Refused == 0 && g.Server.DeleteRate() <= float64(g.LimitPerMinute)/60*1.05, "GitHub Packages: deletions paced at %.2f/s, %d refused by the secondary limit (%d/min)",
			g.Server.DeleteRate(), g.Refused, g.LimitPerMinute)
	}
	return cs
}

// recheckNote says how many requests went over the budget.
func recheckNote(r *Result) string {
	if extra := r.Server.Total() - r.Expected.Total(); extra > 0 {
		return fmt.Sprintf("; %d requests over budget", extra)
	}
	return ""
}

// serverCost explains a miss that the registry's own time causes.
func serverCost(r *Result) string {
	d := r.Server.Handler("DELETE manifest-by-digest")
	if d < r.Delay/4 {
		return ""
	}
	return fmt.Sprintf("; the registry itself spends %.1f ms per DELETE (vs %.1f ms per HEAD) on top of the %s delay",
		float64(d.Microseconds())/1000, float64(r.Server.Handler("HEAD manifest-by-tag").Microseconds())/1000, r.Delay)
}

func (s *Suite) heapNote() string {
	if s.Child {
		return ""
	}
	return " (registry in-process: its storage counts too)"
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func methods(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func durations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = secs(d)
	}
	return strings.Join(parts, ", ")
}

const kindDelete = "DELETE manifest-by-digest"

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func writeTimeline(w io.Writer, c Counts) {
	type row struct {
		name string
		k    *Kind
	}
	var rows []row
	var t0 time.Time
	for n, k := range c.Kinds {
		rows = append(rows, row{n, k})
		if t0.IsZero() || k.First.Before(t0) {
			t0 = k.First
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].k.First.Before(rows[j].k.First) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, r := range rows {
		fmt.Fprintf(tw, "  %s\t%d\t%d ms\t.. %d ms\tregistry %.1f ms each\t\n", r.name, r.k.N, r.k.First.Sub(t0).Milliseconds(), r.k.Last.Sub(t0).Milliseconds(),
			float64(r.k.Handler.Microseconds())/1000/float64(max(r.k.N, 1)))
	}
	tw.Flush()
}

// WriteText prints the results as an aligned table and the checks.
func WriteText(w io.Writer, s *Suite) {
	m := s.Machine
	fmt.Fprintf(w, "regsweep benchmark: %s/%s, %d CPUs (%s), %s\n", m.GOOS, m.GOARCH, m.NumCPU, m.CPU, m.GoVersion)
	if s.FS != nil {
		s.FS.writeText(w)
	}
	for _, r := range []*Result{s.Main, s.Scaled} {
		if r == nil {
			continue
		}
		fmt.Fprintf(w, "\nRepository: %d tags (%d pr-* over %d images, %d releases), sweeping pr-*, %s per request, concurrency %d\n",
			r.Shape.Tags(), r.Shape.PRTags, r.Shape.PRDigests, r.Shape.Releases, r.Delay, r.Concurrency)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if r.Baseline != nil {
			fmt.Fprintf(tw, "\tregsweep\tsequential loop\n")
			fmt.Fprintf(tw, "wall time\t%s\t%s\n", secs(r.Sweep.Wall), secs(r.Baseline.Wall))
			fmt.Fprintf(tw, "requests\t%d\t%d\n", r.Server.Total(), r.BaselineServer.Total())
			fmt.Fprintf(tw, "  by method\t%s\t%s\n", methods(r.Server.Requests), methods(r.BaselineServer.Requests))
			fmt.Fprintf(tw, "peak in flight\t%d\t%d\n", r.Server.PeakInFlight, r.BaselineServer.PeakInFlight)
			fmt.Fprintf(tw, "tag resolves (max per tag)\t%d (%d)\t%d (%d)\n", r.Server.TagResolves, r.Server.MaxResolvesPerTag, r.BaselineServer.TagResolves, r.BaselineServer.MaxResolvesPerTag)
			fmt.Fprintf(tw, "registry's own time per DELETE\t%s\t%s\n", ms(r.Server.Handler(kindDelete)), ms(r.BaselineServer.Handler(kindDelete)))
			fmt.Fprintf(tw, "speed-up\t%.1fx\t\n", r.Ratio())
		} else {
			fmt.Fprintf(tw, "\tregsweep\n")
			fmt.Fprintf(tw, "wall time\t%s\n", secs(r.Sweep.Wall))
			fmt.Fprintf(tw, "requests\t%d\n", r.Server.Total())
			fmt.Fprintf(tw, "  by method\t%s\n", methods(r.Server.Requests))
			fmt.Fprintf(tw, "peak in flight\t%d\n", r.Server.PeakInFlight)
			fmt.Fprintf(tw, "tag resolves (max per tag)\t%d (%d)\n", r.Server.TagResolves, r.Server.MaxResolvesPerTag)
		}
		if len(r.Walls) > 1 {
			fmt.Fprintf(tw, "regsweep runs (median kept)\t%s\n", durations(r.Walls))
		}
		fmt.Fprintf(tw, "request budget\t%s\n", r.Expected)
		fmt.Fprintf(tw, "bound (requests x delay / concurrency)\t%s (regsweep at %.2fx)\n", secs(r.Bound()), float64(r.Sweep.Wall)/float64(r.Bound()))
		fmt.Fprintf(tw, "bound with registry time (busy / concurrency)\t%s (regsweep at %.2fx)\n", secs(r.ServerBound()), float64(r.Sweep.Wall)/float64(r.ServerBound()))
		fmt.Fprintf(tw, "Go heap peak (in use / objects / before)\t%s / %s / %s%s\n", mib(r.Sweep.Heap.PeakInuse), mib(r.Sweep.Heap.PeakAlloc), mib(r.Sweep.Heap.Before), s.heapNote())
		fmt.Fprintf(tw, "client: retries, waited, max in flight\t%d, %s, %d\n", r.Sweep.Client.Retries, r.Sweep.Client.Waited, r.Sweep.Client.MaxInFlight)
		fmt.Fprintf(tw, "mean in flight (server busy / wall)\t%.1f\n", r.Server.Busy.Seconds()/r.Sweep.Wall.Seconds())
		tw.Flush()
		fmt.Fprintf(w, "regsweep timeline (server side, from the first request):\n")
		writeTimeline(w, r.Server)
	}
	if st := s.Startup; st != nil {
		fmt.Fprintf(w, "\nStatic binary: %.1f MiB; first request %s after exec (median of %d, min %s, max %s)\n",
			float64(st.BinarySize)/(1<<20), st.FirstRequest.Round(100*time.Microsecond), st.Runs, st.Min.Round(100*time.Microsecond), st.Max.Round(100*time.Microsecond))
	}
	if g := s.GitHub; g != nil {
		fmt.Fprintf(w, "\nGitHub Packages (fake, %s per request): %d versions, %d deleted in %s\n", g.Delay, g.Versions, g.PRVersions, secs(g.Wall))
		fmt.Fprintf(w, "  requests: %s; version lists %d, DELETEs %d, refused %d, retries %d\n", methods(g.Server.Requests), g.ListRequests, g.DeleteRequests, g.Refused, g.Client.Retries)
		fmt.Fprintf(w, "  DELETE rate %.2f/s (paced at %.1f/s; limit %d/min)\n", g.Server.DeleteRate(), g.PacedRate, g.LimitPerMinute)
		writeTimeline(w, g.Server)
	}
	fmt.Fprintf(w, "\nChecks\n")
	for _, c := range s.Checks() {
		mark := "ok  "
		if !c.OK {
			mark = "MISS"
		}
		fmt.Fprintf(w, "  [%s] %s\n", mark, c.Text)
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "  [MISS] %s\n", p)
	}
}

// Markdown renders the results for RESULTS.md and the README.
func Markdown(s *Suite) string {
	var b strings.Builder
	m := s.Machine
	fmt.Fprintf(&b, "Machine: %s/%s, %d CPUs (%s), %s.\n\n", m.GOOS, m.GOARCH, m.NumCPU, m.CPU, m.GoVersion)
	if s.FS != nil {
		s.FS.writeMarkdown(&b)
	}
	for _, r := range []*Result{s.Main, s.Scaled} {
		if r == nil {
			continue
		}
		fmt.Fprintf(&b, "**%d tags** (%d `pr-*` over %d images, %d releases), sweeping `pr-*`, %s per request, concurrency %d:\n\n",
			r.Shape.Tags(), r.Shape.PRTags, r.Shape.PRDigests, r.Shape.Releases, r.Delay, r.Concurrency)
		if r.Baseline != nil {
			b.WriteString("| | regsweep | sequential loop (HEAD + DELETE per tag, go-containerregistry) |\n|---|---|---|\n")
			fmt.Fprintf(&b, "| wall time | %s | %s |\n", secs(r.Sweep.Wall), secs(r.Baseline.Wall))
			fmt.Fprintf(&b, "| requests | %d (%s) | %d (%s) |\n", r.Server.Total(), methods(r.Server.Requests), r.BaselineServer.Total(), methods(r.BaselineServer.Requests))
			fmt.Fprintf(&b, "| peak in flight | %d | %d |\n", r.Server.PeakInFlight, r.BaselineServer.PeakInFlight)
			fmt.Fprintf(&b, "| registry's own time per DELETE | %s | %s |\n", ms(r.Server.Handler(kindDelete)), ms(r.BaselineServer.Handler(kindDelete)))
			fmt.Fprintf(&b, "| speed-up | **%.1fx** | 1x |\n", r.Ratio())
		} else {
			b.WriteString("| | regsweep |\n|---|---|\n")
			fmt.Fprintf(&b, "| wall time | %s |\n", secs(r.Sweep.Wall))
			fmt.Fprintf(&b, "| requests | %d (%s) |\n", r.Server.Total(), methods(r.Server.Requests))
			fmt.Fprintf(&b, "| peak in flight | %d |\n", r.Server.PeakInFlight)
		}
		fmt.Fprintf(&b, "| request budget | %s |\n", r.Expected)
		fmt.Fprintf(&b, "| network bound (requests x delay / concurrency) | %s (regsweep at %.2fx) |\n", secs(r.Bound()), float64(r.Sweep.Wall)/float64(r.Bound()))
		fmt.Fprintf(&b, "| bound with the registry's own time | %s (regsweep at %.2fx) |\n", secs(r.ServerBound()), float64(r.Sweep.Wall)/float64(r.ServerBound()))
		fmt.Fprintf(&b, "| registry's own time per request | HEAD %s, DELETE %s |\n", r.Server.Handler("HEAD manifest-by-tag").Round(10*time.Microsecond), r.Server.Handler("DELETE manifest-by-digest").Round(10*time.Microsecond))
		fmt.Fprintf(&b, "| peak Go heap | %s in use, %s in objects |\n\n", mib(r.Sweep.Heap.PeakInuse), mib(r.Sweep.Heap.PeakAlloc))
	}
	if st := s.Startup; st != nil {
		fmt.Fprintf(&b, "Static binary (`CGO_ENABLED=0 go build -trimpath -ldflags \"-s -w\"`): %.1f MiB. First request %s after exec (median of %d).\n\n",
			float64(st.BinarySize)/(1<<20), st.FirstRequest.Round(100*time.Microsecond), st.Runs)
	}
	if g := s.GitHub; g != nil {
		fmt.Fprintf(&b, "GitHub Packages (fake API, %s per request): %d versions, %d deleted in %s; %d version-list requests, %d DELETEs, %d refused, DELETEs at %.2f/s (paced at %.0f/s, under the %d/min secondary limit).\n\n",
			g.Delay, g.Versions, g.PRVersions, secs(g.Wall), g.ListRequests, g.DeleteRequests, g.Refused, g.Server.DeleteRate(), g.PacedRate, g.LimitPerMinute)
	}
	b.WriteString("Targets:\n\n")
	for _, c := range s.Checks() {
		mark := "met"
		if !c.OK {
			mark = "**missed**"
		}
		fmt.Fprintf(&b, "- %s: %s\n", mark, c.Text)
	}
	return b.String()
}
