package trialtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// checker reads a registry's real state over plain HTTP with one client.
// e2e.State and e2e.Exists go through go-containerregistry, which pings
// https:// first on every call; at thousands of calls under -race that TLS
// attempt dominated the trial's time.
type checker struct {
	host   string
	client *http.Client
}

const accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

func (c *checker) do(ctx context.Context, method, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	return c.client.Do(req)
}

// state returns repo's tag -> digest map (repo without host).
func (c *checker) state(t *testing.T, repo string) map[string]string {
	t.Helper()
	ctx := t.Context()
	out := map[string]string{}
	next := fmt.Sprintf("http://%s/v2/%s/tags/list?n=1000", c.host, repo)
	for next != "" {
		resp, err := c.do(ctx, http.MethodGet, next)
		if err != nil {
			t.Fatalf("list %s: %v", repo, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return out
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("list %s: %s: %s", repo, resp.Status, body)
		}
		var l struct{ Tags []string }
		if err := json.Unmarshal(body, &l); err != nil {
			t.Fatalf("list %s: %v", repo, err)
		}
		for _, tag := range l.Tags {
			d, ok := c.resolve(t, repo, tag)
			if ok {
				out[tag] = d
			}
		}
		next = ""
		if link := resp.Header.Get("Link"); link != "" {
			u, _, _ := strings.Cut(strings.TrimPrefix(link, "<"), ">")
			base, _ := url.Parse(fmt.Sprintf("http://%s/", c.host))
			ref, err := base.Parse(u)
			if err != nil {
				t.Fatalf("list %s: Link %q: %v", repo, link, err)
			}
			next = ref.String()
		}
	}
	return out
}

// resolve HEADs a tag or digest: its digest and whether it exists.
func (c *checker) resolve(t *testing.T, repo, ref string) (string, bool) {
	t.Helper()
	resp, err := c.do(t.Context(), http.MethodHead, fmt.Sprintf("http://%s/v2/%s/manifests/%s", c.host, repo, ref))
	if err != nil {
		t.Fatalf("head %s:%s: %v", repo, ref, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Header.Get("Docker-Content-Digest"), true
	case http.StatusNotFound:
		return "", false
	}
	t.Fatalf("head %s:%s: %s", repo, ref, resp.Status)
	return "", false
}
