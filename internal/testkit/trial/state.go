package trial

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// checker reads a registry's real state over plain HTTP with one client.
// e2e.State and e2e.Exists go through go-containerregistry, which pings
// https:// first on every call; at thousands of calls under -race that TLS
// attempt dominated the trial's time.
type checker struct {
	host   string
	client *http.Client

	mu    sync.Mutex
	homes map[string]string // blob digest -> a repository holding it
}

// home returns a repository that holds blob digest, if any.
func (c *checker) home(digest string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.homes[digest]
	return r, ok
}

func (c *checker) setHome(digest, repo string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.homes == nil {
		c.homes = map[string]string{}
	}
	c.homes[digest] = repo
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

// uploader pushes seed images over plain HTTP with the fewest requests:
// each blob once (POST + PUT), each manifest once per tag (PUT). Seeding
// through go-containerregistry cost more than the run under test.
type uploader struct {
	c     *checker
	repo  string
	blobs map[string]bool // uploaded
}

func (u *uploader) url(p string) string {
	return fmt.Sprintf("http://%s/v2/%s/%s", u.c.host, u.repo, p)
}

// reply is what send keeps of a response: its body is read and closed.
type reply struct {
	status int
	header http.Header
}

// send makes one request and fails unless the status is one of want.
func (u *uploader) send(ctx context.Context, method, url, ctype string, body []byte, want ...int) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := u.c.client.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if !slices.Contains(want, resp.StatusCode) {
		return reply{}, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	return reply{status: resp.StatusCode, header: resp.Header}, nil
}

func (u *uploader) blob(ctx context.Context, digest string, data []byte) error {
	if u.blobs[digest] {
		return nil
	}
	// Seed blobs repeat across trials: mounting one from the repository that
	// already holds it is one request instead of two (2.8 compiles its
	// router on every request, so requests are what a trial costs). The
	// registry starts a plain upload when it cannot mount.
	start := u.url("blobs/uploads/")
	if from, ok := u.c.home(digest); ok {
		start += "?" + url.Values{"mount": {digest}, "from": {from}}.Encode()
	}
	resp, err := u.send(ctx, http.MethodPost, start, "", nil, http.StatusAccepted, http.StatusCreated)
	if err != nil {
		return err
	}
	if resp.status == http.StatusCreated {
		u.blobs[digest] = true
		return nil
	}
	loc, err := url.Parse(resp.header.Get("Location"))
	if err != nil {
		return fmt.Errorf("upload %s: Location: %w", digest, err)
	}
	base, _ := url.Parse(u.url(""))
	loc = base.ResolveReference(loc)
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	if _, err := u.send(ctx, http.MethodPut, loc.String(), "application/octet-stream", data, http.StatusCreated); err != nil {
		return err
	}
	u.blobs[digest] = true
	u.c.setHome(digest, u.repo)
	return nil
}

// manifest PUTs a manifest under ref (a tag or its digest) and checks the
// digest the registry computed.
func (u *uploader) manifest(ctx context.Context, ref string, m interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
	Digest() (v1.Hash, error)
}) error {
	raw, err := m.RawManifest()
	if err != nil {
		return err
	}
	mt, err := m.MediaType()
	if err != nil {
		return err
	}
	want, err := m.Digest()
	if err != nil {
		return err
	}
	resp, err := u.send(ctx, http.MethodPut, u.url("manifests/"+ref), string(mt), raw, http.StatusCreated)
	if err != nil {
		return err
	}
	if got := resp.header.Get("Docker-Content-Digest"); got != want.String() {
		return fmt.Errorf("put %s: registry says %s, want %s", ref, got, want)
	}
	return nil
}

// image uploads img's blobs and its manifest under ref.
func (u *uploader) image(ctx context.Context, ref string, img v1.Image) error {
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cd, err := img.ConfigName()
	if err != nil {
		return err
	}
	if err := u.blob(ctx, cd.String(), cfg); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if err := u.blob(ctx, d.String(), data); err != nil {
			return err
		}
	}
	return u.manifest(ctx, ref, img)
}
