package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/dockerhub"
	"github.com/regsweep/regsweep/internal/backend/ghpackages"
	"github.com/regsweep/regsweep/internal/backend/oci"
)

// expand turns the repository settings into the list of repositories to
// sweep, in the order given, without duplicates. A trailing "/*" is listed
// through the registry (OCI _catalog, GitHub's packages of an owner, a
// Docker Hub namespace) before anything is deleted; any listing failure
// stops the run, since sweeping only part of what was asked is worse than
// saying so. A wildcard matching nothing is a warning.
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
			list, err := r.expandWildcard(gctx, repo, base)
			if err != nil {
				return fmt.Errorf("repository %s: %w", repo, err)
			}
			found[i] = list
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

// expandWildcard lists the repositories below base (a repository without
// its "/*", or a bare registry host).
func (r *runner) expandWildcard(ctx context.Context, repo, base string) ([]string, error) {
	s := r.s
	host, path, _ := strings.Cut(base, "/")
	switch fam := family(s.Backend, repo); fam {
	case familyOCI:
		list, err := oci.Catalog(ctx, host, path, oci.Options{
			Username:  s.Username,
			Password:  s.Password,
			Insecure:  s.Insecure,
			Transport: r.ts.get(fam),
			Logf:      r.p.Infof,
		})
		if errors.Is(err, oci.ErrNoCatalog) {
			return nil, &noCatalogError{host: host, cause: err}
		}
		return list, err
	case familyGitHub:
		owner, prefix, _ := strings.Cut(path, "/")
		if owner == "" {
			return nil, fmt.Errorf("a GitHub wildcard needs an owner: write %s/OWNER/*", host)
		}
		names, err := ghpackages.ListPackages(ctx, ghpackages.Options{
			Registry:  host,
			Owner:     owner,
			Token:     firstNonEmpty(s.GitHubToken, s.Password),
			APIURL:    r.env.Getenv("GITHUB_API_URL"),
			Transport: r.ts.get(fam),
			Insecure:  s.Insecure,
		})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, n := range names {
			if prefix == "" || strings.HasPrefix(n, prefix+"/") {
				out = append(out, host+"/"+owner+"/"+n)
			}
		}
		return out, nil
	case familyDockerHub:
		if path == "" || strings.Contains(path, "/") {
			return nil, errors.New("a Docker Hub wildcard names one namespace: write docker.io/NAMESPACE/*")
		}
		names, err := dockerhub.ListRepositories(ctx, dockerhub.Options{
			Namespace: path,
			Username:  s.Username,
			Password:  s.Password,
			BaseURL:   r.env.DockerHubURL,
			Transport: r.ts.get(fam),
			Insecure:  s.Insecure,
		})
		if err != nil {
			return nil, err
		}
		out := make([]string, 0, len(names))
		for _, n := range names {
			out = append(out, "docker.io/"+path+"/"+n)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("backend %q is not one of auto, oci, github, dockerhub", fam)
	}
}

// noCatalogError is the one-sentence answer to a wildcard on a registry
// without the catalog API; the registry's own answer is kept short.
type noCatalogError struct {
	host  string
	cause error
}

func (e *noCatalogError) Error() string {
	why := "refused"
	var he *backend.HTTPError
	if errors.As(e.cause, &he) {
		why = fmt.Sprintf("answered %d %s", he.StatusCode, http.StatusText(he.StatusCode))
	}
	return fmt.Sprintf("wildcards need the registry's catalog API (GET /v2/_catalog), which %s %s for these credentials: list the repositories one per line instead", e.host, why)
}

func (e *noCatalogError) Unwrap() error { return e.cause }
