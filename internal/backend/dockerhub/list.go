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

func (b *Backend) listRepositories(ctx context.Context) ([]string, error) {
	ns := b.opts.Namespace
	fail := func(err error) error {
		return fmt.Errorf("list the repositories of docker.io/%s: %w", ns, err)
	}
	pages := httpapi.NewPager(b.endpoint("/v2/namespaces/"+url.PathEscape(ns)+"/repositories", "page_size=100"), maxPages)
	var names []string
	seen := map[string]bool{}
	for {
		u, err := pages.Next()
		if err != nil {
			return nil, fail(err)
		}
		if u == nil {
			break
		}
		resp, err := b.do(ctx, http.MethodGet, u)
		if err != nil {
			return nil, fail(err)
		}
		if resp.StatusCode != http.StatusOK {
			err := b.classify(resp)
			if errors.Is(err, backend.ErrNotFound) {
				err = fmt.Errorf("namespace not found, or the credentials cannot see it: %w", err)
			}
			return nil, fail(err)
		}
		raw, err := b.api().ReadBody(resp, maxPageBytes)
		_ = resp.Body.Close() // closed by ReadBody; said here for bodyclose
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
			return nil, fail(fmt.Errorf("decode page %d: %w", pages.Pages(), err))
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
		if pg.Next != nil && *pg.Next != "" {
			if err := pages.Follow(*pg.Next); err != nil {
				return nil, fail(err)
			}
		}
	}
	return names, nil
}
