package dist3test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/faults"
)

var hostileNames = []string{
	"pr-evil\nfoo=bar",
	"pr-pipe|x",
	"pr-<script>alert(1)</script>",
	"ghadelimiter_9f0c1a2b-1111-2222-3333-444455556666",
	"pr-x\r\ndeleted-count=999",
	"| injected | row |",
	"pr-`code`",
	strings.Repeat("pr-long", 40),
}

func hostile(tags ...string) *faults.Hostile {
	return &faults.Hostile{Repo: "app", Username: secretUser, Password: secretPassword, Tags: tags}
}

func runHostile(t *testing.T, h *faults.Hostile, extra map[string]string) e2e.Result {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	in := withCreds(map[string]string{"repository": strings.TrimPrefix(srv.URL, "http://") + "/app", "tags": "pr-*"})
	for k, v := range extra {
		in[k] = v
	}
	res := e2e.RunWith(t, e2e.Options{}, in)
	noSecret(t, res)
	checkKeys(t, res)
	checkNoInjection(t, res)
	return res
}

// checkNoInjection: no raw hostile string in the summary or outputs, and
// the summary's tables have only the rows regsweep wrote.
func checkNoInjection(t *testing.T, res e2e.Result) {
	t.Helper()
	for _, bad := range []string{"<script>", "ghadelimiter_", "deleted-count=999", "| injected | row |"} {
		if strings.Contains(res.Summary, bad) {
			t.Errorf("summary contains raw %q:\n%s", bad, res.Summary)
		}
		for k, v := range res.Outputs {
			if strings.Contains(v, bad) && bad != "ghadelimiter_" {
				t.Errorf("output %s contains raw %q: %s", k, bad, v)
			}
		}
	}
	if strings.Contains(res.Summary, "\r") {
		t.Errorf("summary contains a carriage return")
	}
}

// tableRows counts the data rows of the summary table under heading.
func tableRows(summary, heading string) int {
	_, rest, ok := strings.Cut(summary, heading)
	if !ok {
		return 0
	}
	n := 0
	for _, l := range strings.Split(rest, "\n") {
		if strings.HasPrefix(l, "|") {
			n++
		} else if n > 0 {
			break
		}
	}
	return max(n-2, 0) // header and separator
}

func TestHostileTagNames(t *testing.T) {
	h := hostile(append([]string{"pr-1", "pr-2", "latest"}, hostileNames...)...)
	res := runHostile(t, h, nil)
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	_, d1 := faults.Manifest("pr-1")
	_, d2 := faults.Manifest("pr-2")
	want := []string{d1, d2}
	slices.Sort(want)
	got := h.Deletes()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("DELETEs = %v, want only %v", got, want)
	}
	if got := res.Tags(t, "deleted-tags"); !slices.Equal(got, []string{"pr-1", "pr-2"}) {
		t.Errorf("deleted-tags = %q", got)
	}
	if n := tableRows(res.Summary, "Deleted manifests"); n != 2 {
		t.Errorf("Deleted manifests table has %d rows, want 2:\n%s", n, res.Summary)
	}
}

func TestHostileLists(t *testing.T) {
	cases := []struct {
		name string
		h    *faults.Hostile
		// wantCode and wantErr describe the run; maxPages bounds the pages
		// regsweep may read.
		wantCode int
		wantErr  string
		maxPages int64
	}{
		{"endless-same-page", func() *faults.Hostile {
			h := hostile("pr-1", "latest")
			h.EndlessSame, h.MaxPages = true, 3000
			return h
		}(), 1, "already read", 2},
		{"malformed-link", func() *faults.Hostile {
			h := hostile("pr-1", "latest")
			h.Link = `<http://x/v2/app/tags/list?n=1000; rel="next"`
			return h
		}(), 1, "Link", 2},
		{"link-to-other-host", func() *faults.Hostile {
			h := hostile("pr-1", "latest")
			h.Link = `<http://other.example:1/v2/app/tags/list?last=pr-1>; rel="next"`
			return h
		}(), 1, "another host", 2},
		{"huge-tag-list-body", func() *faults.Hostile {
			h := hostile("pr-1")
			h.HugeList = true
			return h
		}(), 1, "too large", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := runHostile(t, c.h, nil)
			if c.h.Pages() > c.maxPages {
				t.Fatalf("regsweep read %d tags/list pages, want at most %d", c.h.Pages(), c.maxPages)
			}
			if res.Code != c.wantCode {
				t.Fatalf("exit %d, want %d\n%s", res.Code, c.wantCode, res.Log)
			}
			if d := c.h.Deletes(); len(d) != 0 {
				t.Errorf("deleted %v from a registry whose tag list could not be read", d)
			}
			if !strings.Contains(strings.Join(errorLines(res.Log), "\n"), c.wantErr) {
				t.Errorf("error lines do not mention %q:\n%s", c.wantErr, res.Log)
			}
			if c.h.Written() >= 100<<20 {
				t.Errorf("read the whole %d-byte body: not bounded", c.h.Written())
			}
		})
	}
}

func TestHostileManifests(t *testing.T) {
	_, d1 := faults.Manifest("pr-1")
	cases := []struct {
		name     string
		digest   string
		huge     bool
		wantCode int
		wantDel  []string
	}{
		{"missing-digest-header", "missing", false, 0, []string{d1}},
		{"malformed-digest-header", "malformed", false, 0, []string{d1}},
		{"missing-digest-huge-manifest", "missing", true, 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := hostile("pr-1", "latest")
			h.DigestHeader, h.HugeManifest = c.digest, c.huge
			res := runHostile(t, h, nil)
			if res.Code != c.wantCode {
				t.Fatalf("exit %d, want %d\n%s", res.Code, c.wantCode, res.Log)
			}
			if got := h.Deletes(); !slices.Equal(got, c.wantDel) {
				t.Errorf("DELETEs = %v, want %v", got, c.wantDel)
			}
			if h.Written() >= 100<<20 {
				t.Errorf("read the whole body (%d bytes): not bounded", h.Written())
			}
		})
	}
}

// TestRedirectNeverCarriesCredentials: the registry redirects every
// repository request to another host; that host must never see the
// Authorization header or the secret.
func TestRedirectNeverCarriesCredentials(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if a := r.Header.Get("Authorization"); a != "" {
			leaked = append(leaked, r.Method+" "+r.URL.Path+": "+a)
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"name":"app","tags":["pr-1"]}`))
	}))
	t.Cleanup(other.Close)
	for _, path := range []string{"tags", "manifests"} {
		t.Run(path, func(t *testing.T) {
			h := hostile("pr-1", "latest")
			h.RedirectTo = other.URL
			_ = runHostile(t, h, nil)
			mu.Lock()
			defer mu.Unlock()
			if len(leaked) > 0 {
				t.Fatalf("credentials reached another host: %v", leaked)
			}
		})
	}
}
