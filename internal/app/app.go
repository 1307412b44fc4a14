// Package app wires the pipeline: settings -> discover -> plan -> apply ->
// report. main.go, the demo and the end-to-end tests all call Run.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/ci"
	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/settings"
	"github.com/regsweep/regsweep/internal/transport"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // registry or network failure, or a run that stopped
	ExitBadArgs = 2 // bad input: nothing was requested
)

// Env is everything Run takes from the process, so tests and the demo can
// run it in-process the way the runner does.
type Env struct {
	Args     []string
	Getenv   func(string) string
	Stdout   io.Writer
	Stderr   io.Writer
	Version  string
	Revision string
	// Now is the clock for age rules; nil means time.Now.
	Now func() time.Time
	// Base, if set, is the HTTP transport under regsweep's own (tests and the
	// benchmark inject delays and faults here).
	Base http.RoundTripper
	// DockerHubURL, if set, replaces the Docker Hub API base (tests).
	DockerHubURL string
	// Stats, if set, receives the transport's counters when the run ends.
	Stats func(transport.Stats)
	// UntagFirstAt, if not 0, replaces plan.Policy.UntagFirstAt: tests and
	// the benchmark force (1) or forbid (-1) the untag-first schedule.
	UntagFirstAt int
}

// repoConcurrency bounds how many repositories are swept at once; requests
// within them share one transport and its pacing.
const repoConcurrency = 4

// Run runs regsweep once and returns the process exit code.
func Run(ctx context.Context, env Env) int {
	start := time.Now()
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	p := ci.Detect(env.Getenv, env.Stdout, env.Stderr)

	s, err := settings.Load(ctx, p, env.Args)
	switch {
	case errors.Is(err, settings.ErrHelp):
		_, _ = io.WriteString(env.Stdout, settings.Usage())
		return ExitOK
	case errors.Is(err, settings.ErrVersion):
		_, _ = fmt.Fprintf(env.Stdout, "regsweep %s (%s)\n", env.Version, env.Revision)
		return ExitOK
	case err != nil:
		p.Errorf("%s", err)
		return ExitBadArgs
	}
	if err := checkRepositories(s, env.Getenv); err != nil {
		p.Errorf("%s", err)
		return ExitBadArgs
	}
	if _, term := p.(*ci.Terminal); (s.JSON || s.ListRepositories) && !term {
		// --json promises one JSON value on stdout, which a CI provider's
		// workflow commands would spoil: report like a terminal instead.
		p = ci.NewTerminal(env.Getenv, env.Stdout, env.Stderr)
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}

	r := &runner{env: env, p: p, s: s}
	r.ts.newT = func(family string) *transport.Transport {
		// One budget of `concurrency` requests per service, however many
		// repositories are swept at once.
		o := transport.Options{Base: env.Base, Insecure: s.Insecure, MaxConcurrent: s.Concurrency}
		pace(family, &o, float64(s.GitHubDeleteRate))
		return transport.New(o)
	}
	defer r.ts.close()
	switch {
	case len(s.Merge) > 0:
		return r.merge()
	case s.ExpandOnly:
		return r.expandOnly(ctx)
	}

	// A wildcard that cannot be listed is recorded as a failed repository;
	// the rest is still swept, and the outputs and summary still written.
	repos, unlisted := r.expand(ctx, s.Repositories)

	// The progress lines fold into one group in Actions (a section in
	// GitLab); the result lines and the summary come after it.
	title := fmt.Sprintf("regsweep: sweeping %d repositories", len(repos))
	if len(repos) == 1 {
		title = "regsweep: sweeping " + repos[0]
	}
	p.Group(title)
	rep := &report.Report{Version: env.Version, DryRun: s.DryRun}
	sweeps := make([]*sweep, len(repos))
	// Every repository is planned before anything is deleted anywhere, so
	// that max-deletions holds for the whole run. Each sweep records its own
	// failures; none cancels the others.
	r.each(sweeps, func(i int) {
		if err := ctx.Err(); err != nil {
			sweeps[i] = &sweep{out: report.Repository{Name: repos[i], NotStarted: true, Err: err}}
			return
		}
		sweeps[i] = r.prepare(ctx, repos[i])
	})
	r.limit(sweeps)
	held := r.overCap(sweeps)
	for _, sw := range sweeps {
		if held != nil && sw.out.Plan != nil && sw.out.Err == nil {
			sw.out.Held = held
		}
	}
	r.planFile = r.writePlan(rep, unlisted, sweeps)
	if held == nil {
		r.each(sweeps, func(i int) {
			r.apply(ctx, sweeps[i])
			if out := &sweeps[i].out; out.Err != nil || out.Result != nil && out.Result.Stopped != nil {
				// Only a failure needs hints; finding the credentials may
				// run a Docker credential helper.
				out.Hints = r.hints(out.Name)
			}
		})
	}
	p.EndGroup()
	rep.Repositories = append(rep.Repositories, unlisted...)
	for _, sw := range sweeps {
		rep.Repositories = append(rep.Repositories, sw.out)
	}
	rep.Stopped = ctx.Err()

	rep.Duration = time.Since(start)
	rep.Stats = r.ts.stats()
	if env.Stats != nil {
		env.Stats(rep.Stats)
	}
	return r.finish(rep)
}

type runner struct {
	env Env
	p   ci.Provider
	s   *settings.Settings
	ts  transports
	// sized, set by expand-only, collects the repository sizes listers
	// know cheaply (family.Config.Sized).
	sized func(repo string, size int)
	// planFile is where the plan file was written, as shown ("" for none).
	planFile string
}

// each runs f for every sweep, repoConcurrency at a time.
func (r *runner) each(sweeps []*sweep, f func(i int)) {
	var g errgroup.Group
	g.SetLimit(repoConcurrency)
	for i := range sweeps {
		g.Go(func() error {
			f(i)
			return nil
		})
	}
	_ = g.Wait()
}

// overCap checks max-deletions against the whole run: every manifest every
// plan deletes, over every repository, before the first deletion anywhere.
func (r *runner) overCap(sweeps []*sweep) error {
	if r.s.MaxDeletions <= 0 {
		return nil
	}
	total, planned := 0, 0
	for _, sw := range sweeps {
		if sw.out.Plan != nil && sw.out.Err == nil {
			total += len(sw.out.Plan.DeletedDigests())
			planned++
		}
	}
	if total <= r.s.MaxDeletions {
		return nil
	}
	where := ""
	if planned > 1 {
		where = fmt.Sprintf(" over %d repositories", planned)
	}
	return fmt.Errorf("the plan deletes %d manifests%s, more than max-deletions (%d); nothing was deleted anywhere: raise max-deletions or narrow tags", total, where, r.s.MaxDeletions)
}
