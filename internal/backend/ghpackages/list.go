package ghpackages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/httpapi"
)

// ListPackages lists the names of the owner's container packages (names may
// contain "/"), for a wildcard repository: GET
// /orgs/{owner}/packages?package_type=container&per_page=100, then
// /users/{owner}/packages... when the owner is not an org, following Link
// rel="next". Of opts, Owner, Token, APIURL, Transport and Insecure are
// what matters. Requests: ceil(packages/100), plus one for a user owner.
func ListPackages(ctx context.Context, opts Options) ([]string, error) {
	if opts.Owner == "" {
		return nil, errors.New("github backend: an owner is required to list packages")
	}
	b, err := newAPI(opts)
	if err != nil {
		return nil, err
	}
	var last error
	for _, kind := range []string{"orgs", "users"} {
		names, err := b.listPackages(ctx, "/"+kind+"/"+url.PathEscape(opts.Owner)+"/packages", opts.Sized)
		if errors.Is(err, backend.ErrNotFound) {
			last = err
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("github backend: list the container packages of %s: %w", opts.Owner, err)
		}
		return names, nil
	}
	return nil, fmt.Errorf("github backend: %s is neither an org nor a user the token can see: %w", opts.Owner, last)
}

// listPackages reads every page of one owner's package list; sized, if
// set, is told each package's version count.
func (b *Backend) listPackages(ctx context.Context, path string, sized func(name string, versions int)) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	err := httpapi.Walk(ctx, b.listing(b.apiURL(path, "package_type=container&per_page=100")),
		func(pkgs *[]struct {
			Name         string `json:"name"`
			PackageType  string `json:"package_type"`
			VersionCount int    `json:"version_count"`
		}) (string, error) {
			for _, p := range *pkgs {
				if p.PackageType != "" && p.PackageType != "container" {
					continue
				}
				if !validPackageName(p.Name) || seen[p.Name] {
					continue
				}
				seen[p.Name] = true
				names = append(names, p.Name)
				if sized != nil && p.VersionCount > 0 {
					sized(p.Name, p.VersionCount)
				}
			}
			return "", nil
		})
	if err != nil {
		return nil, err
	}
	return names, nil
}

// listing is one of the REST API's listings from first, paginated by Link
// rel="next".
func (b *Backend) listing(first *url.URL) httpapi.Listing {
	return httpapi.Listing{
		Pages:      httpapi.NewPager(first, maxPages),
		API:        api(b.opts.Token),
		MaxBody:    maxPageBytes,
		LinkHeader: true,
		Get: func(ctx context.Context, u *url.URL) (*http.Response, error) {
			return b.apiRequest(ctx, http.MethodGet, u)
		},
		Fail: func(_ *url.URL, resp *http.Response) error { return b.classify(resp) },
	}
}

// validPackageName keeps a hostile listing from naming something that is
// not a container repository path ("..", empty parts, control characters).
func validPackageName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, part := range strings.Split(s, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
		for _, r := range part {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
			if !ok {
				return false
			}
		}
	}
	return true
}
