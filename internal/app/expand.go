package app

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/backend/family"
)

// expand turns the repository settings into the list of repositories to
// sweep, in the order given, without duplicates. A trailing "/*" is listed
// through the registry family's lister (OCI _catalog, GitHub's packages of
// an owner, a Docker Hub namespace) before anything is deleted; any listing
// failure stops the run, since sweeping only part of what was asked is
// worse than saying so. A wildcard matching nothing is a warning.
func (r *runner) expand(ctx context.Context, repos []string) ([]string, error) {
	found := make([][]string, len(repos))
	g, gctx := errgroup.WithContext(ctx)
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
				found[i], err = fam.List(gctx, r.config(fam), base)
			}
			if err != nil {
				return fmt.Errorf("repository %s: %w", repo, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for i, repo := range repos {
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
	return out, nil
}
