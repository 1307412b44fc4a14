package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/httpapi"
)

// ErrNoCatalog: the registry does not serve GET /v2/_catalog (404, 405,
// UNSUPPORTED) or not to these credentials (401, 403 after the handshake).
var ErrNoCatalog = errors.New("the registry does not serve the catalog API (GET /v2/_catalog)")

// Bounds on a catalog listing.
const (
	// DefaultMaxRepositories bounds how many repositories a catalog may list.
	DefaultMaxRepositories = 100_000
	catalogScope           = "registry:catalog:*"
)

// repoNameRe is the distribution grammar of a repository path.
var repoNameRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

// Catalog lists the repositories of registry (host[:port]) below prefix
// ("" for all, "team" for team/...), through GET /v2/_catalog with Link
// pagination, and returns them as full names ("host/team/app") in the
// registry's order. It authenticates with the catalog scope over
// opts.Transport, so its requests are counted, paced and retried like the
// rest of the run. Names that break the repository grammar are left out
// (and logged): a hostile catalog must not name what regsweep then sweeps.
// A registry that does not serve the catalog gives an error matching
// ErrNoCatalog.
func Catalog(ctx context.Context, registry, prefix string, opts Options) ([]string, error) {
	reg, err := name.NewRegistry(registry, opts.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("registry %q: %w", httpapi.Clip(registry), err)
	}
	client, scheme, err := opts.connect(ctx, reg, reg, catalogScope)
	if err != nil {
		var te *ggcrtransport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusForbidden {
			// The token service refused the catalog scope.
			return nil, fmt.Errorf("list repositories of %s: %w: %w", reg.RegistryStr(), ErrNoCatalog, backend.ErrForbidden)
		}
		return nil, fmt.Errorf("list repositories of %s: %w", reg.RegistryStr(), catalogHandshakeError(reg, err))
	}
	c := &catalog{
		client: client,
		host:   reg.RegistryStr(),
		prefix: strings.Trim(prefix, "/"),
		max:    DefaultMaxRepositories,
		logf:   opts.Logf,
	}
	u := &url.URL{Scheme: scheme, Host: reg.RegistryStr(), Path: "/v2/_catalog", RawQuery: "n=" + strconv.Itoa(pageSize)}
	return c.list(ctx, u)
}

func catalogHandshakeError(reg name.Registry, err error) error {
	var te *ggcrtransport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("log in to %s: %w", reg.RegistryStr(), backend.ErrUnauthorized)
	}
	return fmt.Errorf("connect to %s: %w", reg.RegistryStr(), err)
}

type catalog struct {
	client *http.Client
	host   string
	prefix string
	max    int
	logf   func(string, ...any)
}

func (c *catalog) keep(repo string) bool {
	return c.prefix == "" || strings.HasPrefix(repo, c.prefix+"/")
}

// list follows the catalog's pages from u, bounded in pages and names.
func (c *catalog) list(ctx context.Context, u *url.URL) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	listed, invalid := 0, 0
	pages := httpapi.NewPager(u, c.max/10+10)
	retriedN := false
	err := httpapi.Walk(ctx, httpapi.Listing{
		Pages:      pages,
		API:        api(),
		MaxBody:    maxListBody,
		LinkHeader: true,
		Get:        c.get,
		Fail: func(u *url.URL, resp *http.Response) error {
			he := api().Error(resp)
			if he.StatusCode == http.StatusBadRequest && he.Code == "PAGINATION_NUMBER_INVALID" && pages.Pages() == 1 && !retriedN {
				// distribution refuses n above its catalog.maxentries
				// (1000 by default, often configured lower): let it pick.
				retriedN = true
				q := u.Query()
				q.Del("n")
				pages.Jump(&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawQuery: q.Encode()})
				return nil
			}
			return catalogError(he)
		},
	}, func(cl *struct {
		Repositories []string `json:"repositories"`
	}) (string, error) {
		for _, r := range cl.Repositories {
			if seen[r] {
				continue
			}
			seen[r] = true
			listed++
			if len(r) > 255 || !repoNameRe.MatchString(r) {
				invalid++
				continue
			}
			if c.keep(r) {
				out = append(out, c.host+"/"+r)
			}
		}
		if listed > c.max {
			return "", fmt.Errorf("more than %d repositories; refusing to go on", c.max)
		}
		return "", nil
	})
	if err != nil {
		return nil, fmt.Errorf("list repositories of %s: %w", c.host, err)
	}
	if invalid > 0 {
		c.logf("%s: the catalog listed %d names that are not valid repository names; left out", c.host, invalid)
	}
	return out, nil
}

func (c *catalog) get(ctx context.Context, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		err = scrub(err)
		var te *ggcrtransport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusForbidden {
			return nil, fmt.Errorf("GET %s: %w: %w", sanitizeURL(u), ErrNoCatalog, backend.ErrForbidden)
		}
		return nil, fmt.Errorf("GET %s: %w", sanitizeURL(u), err)
	}
	return resp, nil
}

// catalogError says whether a failed answer means "no catalog here".
func catalogError(he *backend.HTTPError) error {
	switch {
	case he.StatusCode == http.StatusNotFound, he.StatusCode == http.StatusMethodNotAllowed,
		he.Code == "UNSUPPORTED":
		return fmt.Errorf("%w: %w", ErrNoCatalog, he)
	case he.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: %w: %w", ErrNoCatalog, backend.ErrUnauthorized, he)
	case he.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: %w: %w", ErrNoCatalog, backend.ErrForbidden, he)
	}
	return classify("list repositories", he)
}
