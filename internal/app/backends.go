package app

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/ghpackages"
	"github.com/regsweep/regsweep/internal/backend/oci"
	"github.com/regsweep/regsweep/internal/transport"
)

// Backend families, as the `backend` input names them.
const (
	familyOCI       = "oci"
	familyGitHub    = "github"
	familyDockerHub = "dockerhub"
)

// family picks the backend for a repository: the `backend` input wins;
// `auto` decides by host, here and nowhere else.
func family(choice, repo string) string {
	if choice != "" && choice != "auto" {
		return choice
	}
	host, _, _ := strings.Cut(repo, "/")
	switch strings.ToLower(host) {
	case "ghcr.io":
		return familyGitHub
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return familyDockerHub
	}
	return familyOCI
}

// transports hands out one shared transport per backend family: requests to
// one service share its pacing and counters across repositories.
type transports struct {
	mu     sync.Mutex
	byName map[string]*transport.Transport
	newT   func(family string) *transport.Transport
}

func (ts *transports) get(family string) *transport.Transport {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t, ok := ts.byName[family]; ok {
		return t
	}
	if ts.byName == nil {
		ts.byName = map[string]*transport.Transport{}
	}
	t := ts.newT(family)
	ts.byName[family] = t
	return t
}

// close closes every transport's idle connections.
func (ts *transports) close() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, t := range ts.byName {
		t.CloseIdleConnections()
	}
}

// stats adds up every transport's counters.
func (ts *transports) stats() transport.Stats {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	sum := transport.Stats{Requests: map[string]int{}}
	for _, t := range ts.byName {
		s := t.Stats()
		for m, n := range s.Requests {
			sum.Requests[m] += n
		}
		sum.Retries += s.Retries
		sum.Waited += s.Waited
		sum.MaxInFlight = max(sum.MaxInFlight, s.MaxInFlight)
	}
	return sum
}

func (r *runner) backendFor(ctx context.Context, repo string) (backend.Backend, error) {
	s := r.s
	switch fam := family(s.Backend, repo); fam {
	case familyGitHub:
		host, owner, pkg, err := ghpackages.ParseRepository(repo)
		if err != nil {
			return nil, err
		}
		api := r.env.Getenv("GITHUB_API_URL")
		return ghpackages.New(ctx, ghpackages.Options{
			Registry:             host,
			Owner:                owner,
			Package:              pkg,
			Token:                firstNonEmpty(s.GitHubToken, s.Password),
			APIURL:               api,
			Transport:            r.ts.get(fam),
			Concurrency:          s.Concurrency,
			Insecure:             s.Insecure,
			UntagWithPlaceholder: s.UntagWithPlaceholder,
			Logf:                 r.p.Infof,
		})
	case familyDockerHub:
		return newDockerHub(ctx, r, repo)
	case familyOCI:
		return oci.New(ctx, repo, oci.Options{
			Username:    s.Username,
			Password:    s.Password,
			Insecure:    s.Insecure,
			Concurrency: s.Concurrency,
			Transport:   r.ts.get(fam),
			Logf:        r.p.Infof,
		})
	default:
		return nil, fmt.Errorf("backend %q is not one of auto, oci, github, dockerhub", fam)
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
