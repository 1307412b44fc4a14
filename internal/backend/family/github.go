package family

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/ghpackages"
)

// gitHubHost is GitHub's container registry, the one host whose REST API
// is api.github.com.
const gitHubHost = "ghcr.io"

// gitHubFamily is GitHub Packages: the registry for reads, the REST API
// for listing versions and deleting them.
func gitHubFamily() Family {
	return Family{
		Name:       "github",
		Hosts:      []string{gitHubHost},
		DeleteRate: ghpackages.DefaultDeleteRate,
		Pace:       ghpackages.Pace,
		Check:      checkGitHub,
		New: func(ctx context.Context, c Config, repo string) (backend.Backend, error) {
			host, owner, pkg, err := ghpackages.ParseRepository(repo)
			if err != nil {
				return nil, err
			}
			return ghpackages.New(ctx, ghpackages.Options{
				Registry:             host,
				Owner:                owner,
				Package:              pkg,
				Token:                gitHubToken(c),
				APIURL:               c.GitHubAPIURL,
				Transport:            c.Transport,
				Concurrency:          c.Concurrency,
				Insecure:             c.Insecure,
				UntagWithPlaceholder: c.UntagWithPlaceholder,
				Logf:                 c.Logf,
			})
		},
		List: func(ctx context.Context, c Config, base string) ([]string, error) {
			host, path, _ := strings.Cut(base, "/")
			owner, prefix, _ := strings.Cut(path, "/")
			var sized func(string, int)
			if c.Sized != nil {
				sized = func(n string, versions int) { c.Sized(host+"/"+owner+"/"+n, versions) }
			}
			names, err := ghpackages.ListPackages(ctx, ghpackages.Options{
				Registry:  host,
				Owner:     owner,
				Token:     gitHubToken(c),
				APIURL:    c.GitHubAPIURL,
				Transport: c.Transport,
				Insecure:  c.Insecure,
				Sized:     sized,
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
		},
		Hints: func(c Config, _ string) Hints {
			src := "the `github-token` input (by default the job's GITHUB_TOKEN)"
			if c.GitHubToken == "" {
				src = "the `password` input (used because `github-token` is empty)"
			}
			return Hints{
				Unauthorized: fmt.Sprintf("GitHub rejected the token from %s: pass a valid token for this package in `github-token`.", src),
				Forbidden:    fmt.Sprintf("The token from %s may not do this: give the job `permissions: packages: write`, and the repository the Admin role in the package's Manage Actions access (a classic token needs `delete:packages`).", src),
			}
		},
	}
}

// gitHubToken is the token the family sends: github-token, else password.
func gitHubToken(c Config) string { return firstNonEmpty(c.GitHubToken, c.Password) }

// checkGitHub refuses, before any request, a repository that is not
// host/owner/package (or host/owner/* for a wildcard), a run without a
// token, and a host other than ghcr.io without GITHUB_API_URL: the token
// must never go to api.github.com for another GitHub.
func checkGitHub(c Config, repo string) error {
	host, path, _ := strings.Cut(repo, "/")
	if base, ok := strings.CutSuffix(repo, "/*"); ok {
		if _, rest, _ := strings.Cut(base, "/"); rest == "" {
			return fmt.Errorf("a GitHub wildcard needs an owner: write %s/OWNER/*", host)
		}
	} else if _, _, _, err := ghpackages.ParseRepository(repo); err != nil {
		return fmt.Errorf("GitHub packages are named %s/OWNER/PACKAGE; add the package name, or write %s/* for every package of %s", host, repo, path)
	}
	if gitHubToken(c) == "" {
		return errors.New("the github backend needs a token: set the `github-token` input (in Actions its default is the job's GITHUB_TOKEN; the job needs `permissions: packages: write`)")
	}
	if !strings.EqualFold(host, gitHubHost) && c.GitHubAPIURL == "" {
		return fmt.Errorf("the github backend on %s, which is not github.com, needs GITHUB_API_URL: set it to that GitHub's REST API (https://HOSTNAME/api/v3 on GitHub Enterprise Server); the token is never sent to api.github.com for another host", host)
	}
	return nil
}
