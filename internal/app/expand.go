package app

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/backend/family"
	"github.com/regsweep/regsweep/internal/report"
)

// expand turns the repository settings into the list of repositories to
// sweep, in the order given, without duplicates. A trailing "/*" is listed
// through the registry family's lister (OCI _catalog, GitHub's packages of
// an owner, a Docker Hub namespace) before anything is deleted. A wildcard
// that cannot be listed comes back as a failed repository named by the
// wildcard (the run exits 1, and says why); the other repositories are
// still swept. A wildcard matching nothing is a warning.
func (r *runner) expand(ctx context.Context, repos []string) ([]string, []report.Repository) {
	found := make([][]string, len(repos))
	errs := make([]error, len(repos))
	var g errgroup.Group
	g.SetLimit(repoConcurrency)
	for i, repo := range repos {
		base, ok := strings.CutSuffix(repo, "/*")
		if !ok {
			found[i] = []string{repo}
			continue
		}
		g.Go(func() error {
			fam, err := family.For(r.s.Backend, repo)
			if err == nil {
				found[i], err = fam.List(ctx, r.config(fam), base)
			}
			if err != nil {
				errs[i] = fmt.Errorf("list the repositories: %w", err)
			}
			return nil
		})
	}
	_ = g.Wait()
	seen := map[string]bool{}
	var out []string
	var failed []report.Repository
	for i, repo := range repos {
		if errs[i] != nil {
			failed = append(failed, report.Repository{Name: repo, Err: errs[i], Hints: r.hints(repo)})
			continue
		}
		if strings.HasSuffix(repo, "/*") {
			if len(found[i]) == 0 {
				r.p.Warningf("%s matches no repository: nothing to sweep there", repo)
			} else {
				r.p.Infof("%s expands to %d repositories: %s", repo, len(found[i]), strings.Join(found[i], ", "))
			}
		}
		for _, f := range found[i] {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out, failed
}
