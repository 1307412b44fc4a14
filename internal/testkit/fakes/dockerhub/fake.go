// Package dockerhub is an in-memory fake of the Docker Hub API parts
// regsweep uses: token login (POST /v2/auth/token with identifier/secret,
// and the older POST /v2/users/login), tag listing with page_size/page and an
// absolute `next` URL (both /v2/namespaces/{ns}/repositories/{repo}/tags and
// /v2/repositories/{ns}/{repo}/tags/), and DELETE
// /v2/repositories/{ns}/{repo}/tags/{tag}/ -> 204. Fault modes: 429 with
// X-Retry-After every Nth request, token expiry after N uses, a token
// without delete scope (403), per-request delay. A namespace's repositories
// are listed (for wildcards) at /v2/namespaces/{ns}/repositories and
// /v2/repositories/{ns}/, private ones only with a token.
package dockerhub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regsweep/regsweep/internal/testkit/fakes/reqlog"
)

// Image is one platform entry of a tag.
type Image struct {
	OS, Architecture, Variant string
	Digest                    string
}

// Tag is a tag as the fake stores it.
type Tag struct {
	Name      string
	Digest    string // index digest for multi-arch, image digest otherwise
	MediaType string
	Pushed    time.Time
	// Pulled is the tag's last pull (tag_last_pulled, and each image's
	// last_pulled); zero answers null, as Hub does for a tag never pulled.
	Pulled time.Time
	Images []Image
}

// Request is one request the fake answered.
// Request is one answered request.
type Request = reqlog.Request

type repo struct {
	private bool
	tags    map[string]*Tag
}

// Fake is an http.Handler; safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	user     string
	secret   string
	repos    map[string]*repo // ns/name
	tokens   map[string]int   // issued token -> uses left (-1: unlimited)
	issued   int
	tokenTTL int // uses per token; 0: unlimited

	noDelete   bool
	every429   int
	n          int
	retryAfter string
	delay      time.Duration
	log        reqlog.Log
}

// New returns a fake accepting user with secret (password or access token).
func New(user, secret string) *Fake {
	return &Fake{user: user, secret: secret, repos: map[string]*repo{}, tokens: map[string]int{}}
}

// AddRepository creates a repository; private ones need a token to list.
func (f *Fake) AddRepository(ns, name string, private bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.repos[ns+"/"+name] = &repo{private: private, tags: map[string]*Tag{}}
}

// AddTag stores (or moves) a tag. Without images it is a single-platform
// image whose one image entry has the tag's digest.
func (f *Fake) AddTag(ns, name, tag, digest string, pushed time.Time, images ...Image) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.repos[ns+"/"+name]
	if !ok {
		panic(fmt.Sprintf("fake dockerhub: no repository %s/%s", ns, name))
	}
	mt := "application/vnd.oci.image.manifest.v1+json"
	if len(images) == 0 {
		images = []Image{{OS: "linux", Architecture: "amd64", Digest: digest}}
	} else {
		mt = "application/vnd.oci.image.index.v1+json"
	}
	r.tags[tag] = &Tag{Name: tag, Digest: digest, MediaType: mt, Pushed: pushed.UTC(), Images: images}
}

// SetPulled records that a tag was pulled at when.
func (f *Fake) SetPulled(ns, name, tag string, when time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.repos[ns+"/"+name]; ok && r.tags[tag] != nil {
		r.tags[tag].Pulled = when.UTC()
		return
	}
	panic(fmt.Sprintf("fake dockerhub: no tag %s/%s:%s", ns, name, tag))
}

// SetNoDelete makes DELETE answer 403 (token without delete scope).
func (f *Fake) SetNoDelete(on bool) { f.mu.Lock(); f.noDelete = on; f.mu.Unlock() }

// Set429Every answers every nth API request (n > 0) with 429 and
// X-Retry-After: retryAfter ("" means the current Unix time, as Hub sends).
func (f *Fake) Set429Every(n int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.every429, f.retryAfter = n, retryAfter
}

// SetTokenUses makes every issued token expire after n authenticated uses.
func (f *Fake) SetTokenUses(n int) { f.mu.Lock(); f.tokenTTL = n; f.mu.Unlock() }

// SetDelay delays every request by d.
func (f *Fake) SetDelay(d time.Duration) { f.mu.Lock(); f.delay = d; f.mu.Unlock() }

// Tags returns tag -> digest of a repository.
func (f *Fake) Tags(ns, name string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for t, v := range f.repos[ns+"/"+name].tags {
		out[t] = v.Digest
	}
	return out
}

// Requests returns every request answered so far.
func (f *Fake) Requests() []Request { return f.log.Requests() }

// Count returns how many requests had method, a path containing part and
// the given status (0: any).
func (f *Fake) Count(method, part string, status int) int { return f.log.Count(method, part, status) }

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	delay := f.delay
	f.n++
	limited := f.every429 > 0 && f.n%f.every429 == 0
	retryAfter := f.retryAfter
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	f.log.Serve(w, r, func(w http.ResponseWriter, r *http.Request) {
		if !limited {
			f.route(w, r)
			return
		}
		if retryAfter == "" {
			retryAfter = strconv.FormatInt(time.Now().Unix(), 10)
		}
		w.Header().Set("X-Retry-After", retryAfter)
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"message": "Too Many Requests"})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Fake) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/v2/auth/token" && r.Method == http.MethodPost:
		var body struct{ Identifier, Secret string }
		if json.NewDecoder(r.Body).Decode(&body) != nil || body.Identifier != f.user || body.Secret != f.secret {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Incorrect authentication credentials"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"access_token": f.issue()})
	case p == "/v2/users/login" && r.Method == http.MethodPost:
		var body struct{ Username, Password string }
		if json.NewDecoder(r.Body).Decode(&body) != nil || body.Username != f.user || body.Password != f.secret {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Incorrect authentication credentials"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": f.issue()})
	default:
		f.serveRepo(w, r)
	}
}

func (f *Fake) issue() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued++
	tok := "hubjwt-" + strconv.Itoa(f.issued)
	f.tokens[tok] = f.tokenTTL
	return tok
}

// authorized checks and spends one use of a bearer token.
func (f *Fake) authorized(r *http.Request) bool {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	left, ok := f.tokens[tok]
	if !ok {
		return false
	}
	if left > 0 {
		left--
		if left == 0 {
			delete(f.tokens, tok)
		} else {
			f.tokens[tok] = left
		}
	}
	return true
}

// serveRepo answers tag listing and deletion.
func (f *Fake) serveRepo(w http.ResponseWriter, r *http.Request) {
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var ns, name, tag string
	list := false
	switch {
	case len(seg) == 4 && seg[0] == "v2" && seg[1] == "namespaces" && seg[3] == "repositories",
		len(seg) == 3 && seg[0] == "v2" && seg[1] == "repositories":
		f.listRepositories(w, r, seg[2])
		return
	case len(seg) == 6 && seg[0] == "v2" && seg[1] == "namespaces" && seg[3] == "repositories" && seg[5] == "tags":
		ns, name, list = seg[2], seg[4], true
	case len(seg) == 5 && seg[0] == "v2" && seg[1] == "repositories" && seg[4] == "tags":
		ns, name, list = seg[2], seg[3], true
	case len(seg) == 6 && seg[0] == "v2" && seg[1] == "repositories" && seg[4] == "tags":
		ns, name, tag = seg[2], seg[3], seg[5]
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "not found"})
		return
	}
	hasAuth := r.Header.Get("Authorization") != ""
	authed := hasAuth && f.authorized(r)
	if hasAuth && !authed {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Token is invalid or expired"})
		return
	}
	f.mu.Lock()
	rp, ok := f.repos[ns+"/"+name]
	f.mu.Unlock()
	if !ok || (rp.private && !authed) {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "object not found"})
		return
	}
	switch {
	case list && r.Method == http.MethodGet:
		f.list(w, r, rp)
	case !list && r.Method == http.MethodDelete:
		if !authed {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Authentication credentials were not provided."})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.noDelete {
			writeJSON(w, http.StatusForbidden, map[string]string{"detail": "insufficient scope"})
			return
		}
		if _, ok := rp.tags[tag]; !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "tag not found"})
			return
		}
		delete(rp.tags, tag)
		w.WriteHeader(http.StatusNoContent)
	case !list && r.Method == http.MethodGet:
		f.mu.Lock()
		t, ok := rp.tags[tag]
		var j map[string]any
		if ok {
			j = tagJSON(t)
		}
		f.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "tag not found"})
			return
		}
		writeJSON(w, http.StatusOK, j)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "method not allowed"})
	}
}

func tagJSON(t *Tag) map[string]any {
	var images []map[string]any
	for _, im := range t.Images {
		images = append(images, map[string]any{
			"architecture": im.Architecture, "os": im.OS, "variant": im.Variant,
			"digest": im.Digest, "size": 1234, "status": "active",
			"last_pushed": t.Pushed.Format(time.RFC3339Nano), "last_pulled": nullTime(t.Pulled),
		})
	}
	return map[string]any{
		"name": t.Name, "digest": t.Digest, "media_type": t.MediaType, "content_type": "image",
		"last_updated": t.Pushed.Format(time.RFC3339Nano), "tag_last_pushed": t.Pushed.Format(time.RFC3339Nano),
		"tag_last_pulled": nullTime(t.Pulled),
		"tag_status":      "active", "full_size": 1234, "images": images,
	}
}

// nullTime is a time as Hub writes it, null when there is none.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(time.RFC3339Nano)
}

func (f *Fake) list(w http.ResponseWriter, r *http.Request, rp *repo) {
	q := r.URL.Query()
	size := 10
	if n, err := strconv.Atoi(q.Get("page_size")); err == nil && n > 0 {
		size = min(n, 100)
	}
	page := 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		page = n
	}
	f.mu.Lock()
	all := make([]*Tag, 0, len(rp.tags))
	for _, t := range rp.tags {
		all = append(all, t)
	}
	// Hub orders by last_updated, newest first; the name breaks ties.
	sort.Slice(all, func(i, j int) bool {
		if !all[i].Pushed.Equal(all[j].Pushed) {
			return all[i].Pushed.After(all[j].Pushed)
		}
		return all[i].Name < all[j].Name
	})
	results := []map[string]any{}
	for i := (page - 1) * size; i < len(all) && i < page*size; i++ {
		results = append(results, tagJSON(all[i]))
	}
	n := len(all)
	f.mu.Unlock()
	pageURL := func(p int) any {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		qq := url.Values{}
		qq.Set("page", strconv.Itoa(p))
		qq.Set("page_size", strconv.Itoa(size))
		u.RawQuery = qq.Encode()
		return u.String()
	}
	var next, prev any
	if page*size < n {
		next = pageURL(page + 1)
	}
	if page > 1 {
		prev = pageURL(page - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": n, "next": next, "previous": prev, "results": results})
}

// listRepositories answers GET /v2/namespaces/{ns}/repositories and
// /v2/repositories/{ns}/: the namespace's repositories by name, private ones
// only with a valid token, paginated with page_size/page and `next`.
func (f *Fake) listRepositories(w http.ResponseWriter, r *http.Request, ns string) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "method not allowed"})
		return
	}
	hasAuth := r.Header.Get("Authorization") != ""
	authed := hasAuth && f.authorized(r)
	if hasAuth && !authed {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Token is invalid or expired"})
		return
	}
	f.mu.Lock()
	known := false
	var names []string
	for key, rp := range f.repos {
		rns, name, _ := strings.Cut(key, "/")
		if rns != ns {
			continue
		}
		known = true
		if !rp.private || authed {
			names = append(names, name)
		}
	}
	f.mu.Unlock()
	if !known {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "object not found"})
		return
	}
	sort.Strings(names)
	q := r.URL.Query()
	size := 10
	if n, err := strconv.Atoi(q.Get("page_size")); err == nil && n > 0 {
		size = min(n, 100)
	}
	page := 1
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		page = n
	}
	results := []map[string]any{}
	for i := (page - 1) * size; i < len(names) && i < page*size; i++ {
		results = append(results, map[string]any{"name": names[i], "namespace": ns, "repository_type": "image", "status": 1})
	}
	pageURL := func(p int) any {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		qq := url.Values{}
		qq.Set("page", strconv.Itoa(p))
		qq.Set("page_size", strconv.Itoa(size))
		u.RawQuery = qq.Encode()
		return u.String()
	}
	var next, prev any
	if page*size < len(names) {
		next = pageURL(page + 1)
	}
	if page > 1 {
		prev = pageURL(page - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(names), "next": next, "previous": prev, "results": results})
}
