package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/family"
	"github.com/regsweep/regsweep/internal/ci"
	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/settings"
	"github.com/regsweep/regsweep/internal/transport"
)

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

// pace sets the pacing of a family's shared transport; deleteRate is the
// `github-delete-rate` setting, for the families that take it.
func pace(name string, o *transport.Options, deleteRate float64) {
	f, err := family.For(name, "")
	if err != nil {
		return
	}
	o.DeleteRate = f.DeleteRate
	if f.Pace != nil {
		f.Pace(o, deleteRate)
	}
}

// config is what the family of repo needs from this run.
func (r *runner) config(fam family.Family) family.Config {
	s := r.s
	return family.Config{
		Username:             s.Username,
		Password:             s.Password,
		GitHubToken:          s.GitHubToken,
		GitHubAPIURL:         r.env.Getenv("GITHUB_API_URL"),
		DockerHubURL:         r.env.DockerHubURL,
		Insecure:             s.Insecure,
		Concurrency:          s.Concurrency,
		UntagWithPlaceholder: s.UntagWithPlaceholder,
		Transport:            r.ts.get(fam.Name),
		Logf:                 r.p.Infof,
		Credentials:          credentialSource(r.p, s),
		Sized:                r.sized,
	}
}

func (r *runner) backendFor(ctx context.Context, repo string) (backend.Backend, error) {
	fam, err := family.For(r.s.Backend, repo)
	if err != nil {
		return nil, err
	}
	return fam.New(ctx, r.config(fam), repo)
}

// hints are the fixes for credential errors on repo, naming the
// credentials this run uses there.
func (r *runner) hints(repo string) report.Hints {
	fam, err := family.For(r.s.Backend, repo)
	if err != nil {
		return report.Hints{}
	}
	h := fam.Hints(r.config(fam), repo)
	return report.Hints{Unauthorized: h.Unauthorized, Forbidden: h.Forbidden}
}

// checkRepositories refuses, before any request, what each repository's
// family cannot take (a GitHub repository without a package, a missing
// token, a GitHub host without its API URL): bad input, exit 2.
func checkRepositories(s *settings.Settings, getenv func(string) string) error {
	var errs []error
	for _, repo := range s.Repositories {
		fam, err := family.For(s.Backend, repo)
		if err == nil {
			err = fam.Check(family.Config{
				Username:     s.Username,
				Password:     s.Password,
				GitHubToken:  s.GitHubToken,
				GitHubAPIURL: getenv("GITHUB_API_URL"),
			}, repo)
		}
		if err != nil {
			errs = append(errs, &settings.Error{Input: "repository", Msg: repo + ": " + err.Error()})
		}
	}
	return errors.Join(errs...)
}

// inputCredentials names credentials the user set.
const inputCredentials = "the credentials from the `username` and `password` inputs"

// credentialSource names where username and password came from, for
// hints; "" when neither is set (the family then names the Docker config
// or anonymous access).
func credentialSource(p ci.Provider, s *settings.Settings) string {
	if s.Username == "" && s.Password == "" {
		return ""
	}
	if s.Sources["username"] == settings.SourceCIDef || s.Sources["password"] == settings.SourceCIDef {
		// Only GitLab supplies registry credentials of its own.
		return fmt.Sprintf("the %s job's registry credentials (CI_REGISTRY_USER and CI_REGISTRY_PASSWORD, or CI_JOB_TOKEN)", p.Name())
	}
	return inputCredentials
}
