package dockerhub

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/regsweep/regsweep/internal/backend/httpapi"
)

// hubRepoRe is a Docker Hub repository name.
var hubRepoRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// ListRepositories lists the names of a namespace's repositories, for a
// wildcard repository: GET /v2/namespaces/{ns}/repositories?page_size=100,
// following `next`. With credentials it logs in first, so private
// repositories the account can see are listed too. Only Namespace,
// Username, Password, BaseURL, Transport and Insecure of opts are used.
func ListRepositories(ctx context.Context, opts Options) ([]string, error) {
	if opts.Namespace == "" {
		return nil, errors.New("dockerhub backend: a namespace is required to list repositories")
	}
	// New checks the base URL and logs in; the repository is a placeholder
	// it needs but never uses here.
	o := opts
	o.Repository = "-"
	b, err := New(ctx, o)
	if err != nil {
		return nil, err
	}
	return b.listRepositories(ctx)
}

type hubRepo struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

func (b *Backend) listRepositories(ctx context.Context) ([]string, error) {
	ns := b.opts.Namespace
	var names []string
	seen := map[string]bool{}
	err := httpapi.Walk(ctx, b.listing(b.endpoint("/v2/namespaces/"+url.PathEscape(ns)+"/repositories", "page_size=100"),
		"namespace not found, or the credentials cannot see it"),
		func(pg *hubPage[hubRepo]) (string, error) {
			for _, r := range pg.Results {
				if r.Namespace != "" && !strings.EqualFold(r.Namespace, ns) {
					continue // not this namespace's: never swept by a wildcard on it
				}
				if !hubRepoRe.MatchString(r.Name) || len(r.Name) > 255 || seen[r.Name] {
					continue
				}
				seen[r.Name] = true
				names = append(names, r.Name)
			}
			return pg.next(), nil
		})
	if err != nil {
		return nil, fmt.Errorf("list the repositories of docker.io/%s: %w", ns, err)
	}
	return names, nil
}
