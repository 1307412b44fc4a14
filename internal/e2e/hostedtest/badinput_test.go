package hostedtest

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
)

// countingTransport counts every request regsweep sends and answers none.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, http.ErrServerClosed
}

// Bad input for the GitHub family stops the run with exit 2 and one
// sentence, before any request: a repository without a package, a missing
// token, and a GitHub host other than ghcr.io without GITHUB_API_URL (the
// token must not go to api.github.com).
func TestGitHubBadInputExits2(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	tests := []struct {
		name   string
		env    map[string]string
		inputs map[string]string
		want   string
	}{
		{"owner without package", nil, map[string]string{"repository": "ghcr.io/acme", "tags": "pr-*", "github-token": token},
			`input "repository": ghcr.io/acme: GitHub packages are named ghcr.io/OWNER/PACKAGE; add the package name, or write ghcr.io/acme/* for every package of acme`},
		{"wildcard without owner", nil, map[string]string{"repository": "ghcr.io/*", "tags": "pr-*", "github-token": token},
			`input "repository": ghcr.io/*: a GitHub wildcard needs an owner: write ghcr.io/OWNER/*`},
		{"no token", nil, map[string]string{"repository": "ghcr.io/acme/app", "tags": "pr-*"},
			`input "repository": ghcr.io/acme/app: the github backend needs a token: set the ` + "`github-token`" + ` input`},
		{"another GitHub without its API URL", nil, map[string]string{"repository": "containers.ghe.example.com/acme/app", "backend": "github", "tags": "pr-*", "github-token": token},
			`input "repository": containers.ghe.example.com/acme/app: the github backend on containers.ghe.example.com, which is not github.com, needs GITHUB_API_URL`},
		{"docker hub wildcard too deep", nil, map[string]string{"repository": "docker.io/a/b/*", "tags": "pr-*"},
			`input "repository": docker.io/a/b/*: a Docker Hub wildcard names one namespace: write docker.io/NAMESPACE/*`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ct countingTransport
			res := e2e.RunWith(t, e2e.Options{Env: tt.env, Base: &ct}, tt.inputs)
			if res.Code != 2 {
				t.Fatalf("exit %d, want 2\n%s", res.Code, res.Log)
			}
			if !strings.Contains(res.Log, "::error::"+tt.want) {
				t.Errorf("the error does not say %q:\n%s", tt.want, res.Log)
			}
			if n := ct.n.Load(); n != 0 {
				t.Errorf("%d requests were sent for bad input", n)
			}
			if strings.Contains(withoutMasks(res.Log), token) {
				t.Errorf("the token leaked: %s", res.Log)
			}
		})
	}
}

// A rejected GitHub token gets the hint that names the token and where it
// came from, not the username and password inputs.
func TestGitHubBadTokenHint(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "app")
	f.AddImage("acme", "app", "pr", []string{"pr-1"}, day)
	res := e2e.RunWith(t, e2e.Options{Env: env}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "tags": "pr-*", "github-token": "ghp_wrong-token",
	})
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Log)
	}
	want := "GitHub rejected the token from the github-token input (by default the job's GITHUB_TOKEN): pass a valid token for this package in github-token."
	if !strings.Contains(res.Log, want) {
		t.Errorf("the log lacks the hint %q:\n%s", want, res.Log)
	}
	if strings.Contains(res.Log, "username and password") {
		t.Errorf("the hint blames username and password:\n%s", res.Log)
	}
	if len(f.Digests("acme", "app")) != 1 {
		t.Fatal("something was deleted")
	}
}
