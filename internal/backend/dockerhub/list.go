package dockerhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/transport"
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

func (b *Backend) listRepositories(ctx context.Context) ([]string, error) {
	ns := b.opts.Namespace
	fail := func(err error) error {
		return fmt.Errorf("list the repositories of docker.io/%s: %w", ns, err)
	}
	u := b.endpoint("/v2/namespaces/"+url.PathEscape(ns)+"/repositories", "page_size=100")
	var names []string
	seen := map[string]bool{}
	visited := map[string]bool{}
	for page := 0; u != nil; page++ {
		if page >= maxPages {
			return nil, fail(fmt.Errorf("more than %d pages", maxPages))
		}
		if visited[u.String()] {
			return nil, fail(errors.New("the `next` link leads back to a page already read; refusing to loop"))
		}
		visited[u.String()] = true
		resp, err := b.do(ctx, http.MethodGet, u)
		if err != nil {
			return nil, fail(err)
		}
		if resp.StatusCode != http.StatusOK {
			err := b.classify(resp)
			_ = resp.Body.Close()
			if errors.Is(err, backend.ErrNotFound) {
				err = fmt.Errorf("namespace not found, or the credentials cannot see it: %w", err)
			}
			return nil, fail(err)
		}
		raw, err := transport.ReadLimited(resp.Body, maxPageBytes)
		_ = resp.Body.Close()
		if err != nil {
			return nil, fail(err)
		}
		var pg struct {
			Next    *string `json:"next"`
			Results []struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"results"`
		}
		if err := json.Unmarshal(raw, &pg); err != nil {
			return nil, fail(fmt.Errorf("decode page %d: %w", page+1, err))
		}
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
		u = nil
		if pg.Next != nil && *pg.Next != "" {
			nu, err := url.Parse(*pg.Next)
			if err != nil || !nu.IsAbs() || !transport.SameOrigin(b.base, nu) {
				return nil, fail(errors.New("refusing next page on another host"))
			}
			u = nu
		}
	}
	return names, nil
}
