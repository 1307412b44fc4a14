package ggcrtest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

// TestTagsOutliveManifest: pkg/registry keeps a tag readable after the
// manifest it names is deleted by digest. The run removes such a tag by
// tag, fails with the reason where the registry cannot, and still tells a
// tag that really moved during the run from one left behind.
func TestTagsOutliveManifest(t *testing.T) {
	t.Run("removed-by-tag", func(t *testing.T) {
		repo := start(t, nil) + "/app"
		p := newPusher(t, repo)
		pr1, pr2 := p.image("pr-1", "pr-1"), p.image("pr-2", "pr-2")
		latest := p.image("latest", "main")
		res := run(t, repo, 0, map[string]string{"tags": "pr-1,pr-2"})
		if got := e2e.State(t, repo); !reflect.DeepEqual(got, map[string]string{"latest": latest.Digest.String()}) {
			t.Fatalf("tags after the run = %v, want only latest", got)
		}
		mustBe(t, repo, []v1.Descriptor{pr1, pr2}, []v1.Descriptor{latest})
		if got := res.Tags(t, "deleted-tags"); !reflect.DeepEqual(got, []string{"pr-1", "pr-2"}) {
			t.Errorf("deleted-tags = %v", got)
		}
		if strings.Contains(res.Log, "moved to another image") {
			t.Errorf("the log says a tag moved; none did:\n%s", res.Log)
		}
		if !strings.Contains(res.Log, "tag pr-1 still names "+pr1.Digest.String()+" after that manifest was deleted") {
			t.Errorf("the log does not say why pr-1 was removed by tag:\n%s", res.Log)
		}
	})

	t.Run("registry-cannot-untag", func(t *testing.T) {
		repo := start(t, noTagDelete) + "/app"
		p := newPusher(t, repo)
		pr1 := p.image("pr-1", "pr-1")
		latest := p.image("latest", "main")
		res := run(t, repo, 1, map[string]string{"tags": "pr-*"})
		mustBe(t, repo, []v1.Descriptor{pr1}, []v1.Descriptor{latest})
		if got := res.Strings(t, "deleted-tags"); len(got) != 0 {
			t.Errorf("deleted-tags = %v, but pr-1 still resolves", got)
		}
		if res.Outputs["failed-count"] != "1" {
			t.Errorf("failed-count = %s, want 1", res.Outputs["failed-count"])
		}
		var kept []struct{ Tag, Rule, Reason string }
		res.JSON(t, "kept-tags", &kept)
		if len(kept) != 1 || kept[0].Tag != "pr-1" || !strings.Contains(kept[0].Reason, "cannot remove a tag alone") {
			t.Errorf("kept-tags = %+v, want pr-1 with the reason", kept)
		}
		if !strings.Contains(res.Log, "::error::") || !strings.Contains(res.Log, "pr-1") {
			t.Errorf("no error annotation names pr-1:\n%s", res.Log)
		}
	})

	t.Run("tag-moved-during-run", func(t *testing.T) {
		var mv mover
		repo := start(t, mv.wrap) + "/app"
		p := newPusher(t, repo)
		pr1 := p.image("pr-1", "pr-1")
		other := p.image("keep-other", "other")
		mv.set("/v2/app/manifests/"+pr1.Digest.String(), "/v2/app/manifests/pr-1", "/v2/app/manifests/"+other.Digest.String())
		res := run(t, repo, 0, map[string]string{"tags": "pr-*"})
		mustBe(t, repo, []v1.Descriptor{pr1}, []v1.Descriptor{other})
		if got := e2e.State(t, repo); got["pr-1"] != other.Digest.String() {
			t.Fatalf("pr-1 = %s, want the image it moved to, %s", got["pr-1"], other.Digest)
		}
		if got := res.Strings(t, "deleted-tags"); len(got) != 0 {
			t.Errorf("deleted-tags = %v, but pr-1 moved and survives", got)
		}
		if !strings.Contains(res.Log, "tag pr-1 still exists (it moved to another image during the run)") {
			t.Errorf("the log does not say pr-1 moved:\n%s", res.Log)
		}
	})
}

// noTagDelete answers a DELETE by tag as registries without it do (405
// UNSUPPORTED), the probe's included.
func noTagDelete(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/manifests/") && !strings.Contains(r.URL.Path, "sha256:") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// mover moves a tag to another manifest right after a given DELETE, as
// another pipeline pushing during the run would.
type mover struct {
	mu                 sync.Mutex
	after, tag, source string
}

func (m *mover) set(after, tag, source string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.after, m.tag, m.source = after, tag, source
}

func (m *mover) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		m.mu.Lock()
		after, tag, source := m.after, m.tag, m.source
		m.mu.Unlock()
		if r.Method != http.MethodDelete || after == "" || r.URL.Path != after {
			return
		}
		get := httptest.NewRecorder()
		h.ServeHTTP(get, httptest.NewRequest(http.MethodGet, source, nil))
		put := httptest.NewRequest(http.MethodPut, tag, bytes.NewReader(get.Body.Bytes()))
		put.Header.Set("Content-Type", get.Header().Get("Content-Type"))
		h.ServeHTTP(httptest.NewRecorder(), put)
	})
}
