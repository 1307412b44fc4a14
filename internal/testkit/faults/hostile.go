package faults

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Hostile is a fake OCI registry (serve it with httptest) that misbehaves
// on purpose: tag names outside the OCI grammar, endless or huge tag lists,
// malformed Link headers, redirects to another host, wrong or missing
// digests, huge manifests. Every tag has its own small OCI manifest (its
// digest is the body's sha256). Configure before serving.
type Hostile struct {
	// Repo is the repository path served ("app").
	Repo string
	// Tags are listed in tags/list (one page unless a mode says otherwise).
	Tags []string
	// Username and Password, if set, are required (HTTP Basic).
	Username, Password string

	// EndlessSame answers every tags/list page with the same tags and a
	// Link to itself; EndlessNew with 1000 new tags per page. Either stops
	// after MaxPages pages (then no Link), so a test ends even if the client
	// does not stop.
	EndlessSame, EndlessNew bool
	MaxPages                int
	// Link, if set, is sent raw as the tags/list Link header.
	Link string
	// RedirectTo, if set, answers tags/list and manifest requests with 307
	// to this base URL + the same path.
	RedirectTo string
	// DigestHeader: "" correct, "missing", "malformed", or a literal value.
	DigestHeader string
	// HugeList streams an endless tags/list body; HugeManifest an endless
	// manifest body on GET.
	HugeList, HugeManifest bool

	written  atomic.Int64
	pages    atomic.Int64
	mu       sync.Mutex
	deletes  []string
	requests int
}

// Written is how many body bytes the server managed to send.
func (h *Hostile) Written() int64 { return h.written.Load() }

// Pages is how many tags/list pages were served.
func (h *Hostile) Pages() int64 { return h.pages.Load() }

// live is Tags less those deleted (by tag or by their manifest's digest),
// as a registry lists them after a DELETE.
func (h *Hostile) live() []string {
	h.mu.Lock()
	gone := map[string]bool{}
	for _, d := range h.deletes {
		gone[d] = true
	}
	h.mu.Unlock()
	out := make([]string, 0, len(h.Tags))
	for _, t := range h.Tags {
		if _, d := Manifest(t); !gone[t] && !gone[d] {
			out = append(out, t)
		}
	}
	return out
}

// Deletes are the DELETE paths' last element (digests or tags), in order.
func (h *Hostile) Deletes() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.deletes...)
}

// Manifest is the manifest body served for tag, and its digest.
func Manifest(tag string) ([]byte, string) {
	b, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{
			"mediaType": "application/vnd.oci.image.config.v1+json",
			"digest":    "sha256:" + strings.Repeat("0", 64), "size": 2,
		},
		"layers":      []any{},
		"annotations": map[string]string{"tag": tag},
	})
	sum := sha256.Sum256(b)
	return b, "sha256:" + hex.EncodeToString(sum[:])
}

func (h *Hostile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.requests++
	h.mu.Unlock()
	if h.Username != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != h.Username || p != h.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="hostile"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
	}
	prefix := "/v2/" + h.Repo + "/"
	switch {
	case r.URL.Path == "/v2/" || r.URL.Path == "/v2":
		w.WriteHeader(http.StatusOK)
	case h.RedirectTo != "" && strings.HasPrefix(r.URL.Path, prefix):
		http.Redirect(w, r, h.RedirectTo+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	case r.URL.Path == prefix+"tags/list":
		h.list(w, r)
	case strings.HasPrefix(r.URL.Path, prefix+"manifests/"):
		h.manifest(w, r, strings.TrimPrefix(r.URL.Path, prefix+"manifests/"))
	default:
		http.Error(w, `{"errors":[{"code":"NAME_UNKNOWN"}]}`, http.StatusNotFound)
	}
}

func (h *Hostile) write(w http.ResponseWriter, b []byte) bool {
	n, err := w.Write(b)
	h.written.Add(int64(n))
	return err == nil
}

func (h *Hostile) list(w http.ResponseWriter, r *http.Request) {
	page := h.pages.Add(1)
	w.Header().Set("Content-Type", "application/json")
	if h.HugeList {
		w.WriteHeader(http.StatusOK)
		h.stream(w, []byte(`{"name":"`+h.Repo+`","tags":["`), []byte(`aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa`))
		return
	}
	tags := h.live()
	more := false
	if h.EndlessSame || h.EndlessNew {
		more = h.MaxPages <= 0 || page < int64(h.MaxPages)
	}
	if h.EndlessNew {
		tags = make([]string, 1000)
		for i := range tags {
			tags[i] = fmt.Sprintf("t%d-%d", page, i)
		}
	}
	switch {
	case h.Link != "":
		w.Header().Set("Link", h.Link)
	case more && h.EndlessSame:
		w.Header().Set("Link", `<`+r.URL.RequestURI()+`>; rel="next"`)
	case more:
		w.Header().Set("Link", `</v2/`+h.Repo+`/tags/list?n=1000&last=t`+strconv.FormatInt(page, 10)+`>; rel="next"`)
	}
	b, _ := json.Marshal(map[string]any{"name": h.Repo, "tags": tags})
	h.write(w, b)
}

// stream writes head then filler until about 100 MB or the client leaves.
func (h *Hostile) stream(w http.ResponseWriter, head, filler []byte) {
	if !h.write(w, head) {
		return
	}
	chunk := []byte(strings.Repeat(string(filler), 32<<10/len(filler)))
	for h.written.Load() < 100<<20 {
		if !h.write(w, chunk) {
			return
		}
	}
}

func (h *Hostile) manifest(w http.ResponseWriter, r *http.Request, ref string) {
	var body []byte
	var digest string
	for _, t := range h.Tags {
		b, d := Manifest(t)
		if t == ref || d == ref {
			body, digest = b, d
			break
		}
	}
	if r.Method == http.MethodDelete {
		h.mu.Lock()
		h.deletes = append(h.deletes, ref)
		h.mu.Unlock()
		if body == nil {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if body == nil {
		http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	switch h.DigestHeader {
	case "":
		w.Header().Set("Docker-Content-Digest", digest)
	case "missing":
	case "malformed":
		w.Header().Set("Docker-Content-Digest", "sha256:<script>alert(1)</script>")
	default:
		w.Header().Set("Docker-Content-Digest", h.DigestHeader)
	}
	if h.HugeManifest && r.Method == http.MethodGet {
		w.WriteHeader(http.StatusOK)
		h.stream(w, body[:len(body)-1], []byte(`                                `))
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	h.write(w, body)
}
