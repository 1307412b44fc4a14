// Package ghpackages is an in-memory fake of the GitHub Packages REST API
// for container packages, plus the small part of ghcr.io's OCI API that
// regsweep reads (manifests, tags list, token exchange) and the push side the
// untag workaround needs. It follows GitHub's documented behaviour: org and
// user owners, package names with "/" sent as %2F, versions paginated with
// per_page (max 100) and an absolute Link header, DELETE version -> 204,
// 401 on a bad token, 403 for missing permission or the secondary rate limit
// (with retry-after), 400 for public versions with more than 5000 downloads,
// and, when set, the primary rate limit: x-ratelimit-* headers on every API
// answer, 403 with x-ratelimit-remaining: 0 once the window is spent. The
// secondary limit counts points as GitHub documents them: every API request
// costs 1 point (GET, HEAD, OPTIONS) or 5 (POST, PATCH, PUT, DELETE), and a
// request that would take the last minute past 900 points is refused with
// 403 and the secondary-limit message.
// An owner's packages are listed (for wildcards) at
// /{orgs|users}/{owner}/packages?package_type=container, paginated the same way.
//
// Serve it with httptest.NewServer(fake). The API answers at the root and,
// as on GitHub Enterprise Server, under /api/v3.
package ghpackages

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/regsweep/regsweep/internal/testkit/fakes/reqlog"
)

// OwnerKind is an organization or a user.
type OwnerKind string

const (
	Org  OwnerKind = "Organization"
	User OwnerKind = "User"
)

// Media types the fake knows.
const (
	MediaOCIIndex    = "application/vnd.oci.image.index.v1+json"
	MediaOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaDockerList  = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaDocker2     = "application/vnd.docker.distribution.manifest.v2+json"
)

// Messages GitHub answers with (as documented or observed).
const (
	MsgBadCredentials  = "Bad credentials"
	MsgForbidden       = "Resource not accessible by integration"
	MsgSecondaryLimit  = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
	MsgRefusedDownload = "Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance."
	MsgLastTagged      = "You cannot delete the last tagged version of a package. You must delete the package instead."
	MsgPrimaryLimit    = "API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID."
)

// Version is one package version as the fake stores it.
type Version struct {
	ID      int64
	Digest  string
	Tags    []string
	Created time.Time // created_at: the first push of this digest
	// Updated is updated_at: a later push of the same digest (with a new
	// tag) moves it; zero means Created.
	Updated   time.Time
	MediaType string
	Manifest  []byte
	// Refused versions answer DELETE with 400 (public, > 5000 downloads).
	Refused bool
}

// Request is one request the fake answered.
type Request = reqlog.Request

type pkg struct {
	owner    string
	kind     OwnerKind
	name     string
	versions map[int64]*Version
	// private user packages are not served under /users/{owner}/, which
	// the documentation gives for public packages; /user/ serves them to
	// their owner's token.
	private bool
}

// Fake is an http.Handler; safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	token    string
	packages map[string]*pkg // owner + "/" + name
	blobs    map[string][]byte
	nextID   int64
	regToken int

	forbidden      bool
	lastTagged     bool   // refuse to delete a package's last tagged version
	tokenUser      string // the user the token belongs to ("": an installation token)
	rateEvery      int
	retryAfter     string
	windowN        int
	window         time.Duration
	deleteTimes    []time.Time
	deleteAttempts int
	// primaryN API requests are allowed per primaryWindow (0: no limit);
	// the window started at primaryStart and primaryUsed are spent.
	primaryN      int
	primaryWindow time.Duration
	primaryStart  time.Time
	primaryUsed   int
	primaryDenied int
	// points are the API requests of the last minute, for the secondary
	// limit (pointsBudget a minute; 0: off).
	points          []spent
	pointsBudget    int
	pointsRetry     string
	secondaryDenied int
	delay           time.Duration
	log             reqlog.Log
	now             func() time.Time
}

// New returns a fake that accepts token (as "Bearer" or "token" in the API,
// and as the password of the registry's token exchange).
func New(token string) *Fake {
	return &Fake{
		token:        token,
		packages:     map[string]*pkg{},
		blobs:        map[string][]byte{},
		nextID:       1000,
		retryAfter:   "1",
		now:          time.Now,
		pointsBudget: SecondaryPointsPerMinute,
		pointsRetry:  "60",
	}
}

// SecondaryPointsPerMinute is GitHub's secondary limit for REST requests.
const SecondaryPointsPerMinute = 900

// spent is one API request's points at the time it arrived.
type spent struct {
	at     time.Time
	points int
}

// SetClock replaces the fake's clock (a scaled clock makes minutes of
// pacing take seconds); the rate limits and version times read it.
func (f *Fake) SetClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// SetPointsBudget sets the secondary limit's points a minute (0: off) and
// the retry-after its refusals carry ("": none, as GitHub sometimes answers).
func (f *Fake) SetPointsBudget(perMinute int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pointsBudget, f.pointsRetry = perMinute, retryAfter
}

// SecondaryDenied is how many API requests the points budget refused.
func (f *Fake) SecondaryDenied() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.secondaryDenied
}

// pointsLimit counts an API request's points and reports whether the last
// minute stays within the budget; a refused request counts too, as it
// does on GitHub's side.
func (f *Fake) pointsLimit(w http.ResponseWriter, method string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pointsBudget <= 0 {
		return true
	}
	cost := 5
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		cost = 1
	}
	now := f.now()
	recent := f.points[:0]
	used := 0
	for _, p := range f.points {
		if now.Sub(p.at) < time.Minute {
			recent = append(recent, p)
			used += p.points
		}
	}
	recent = append(recent, spent{now, cost})
	f.points = recent
	if used+cost <= f.pointsBudget {
		return true
	}
	f.secondaryDenied++
	if f.pointsRetry != "" {
		w.Header().Set("Retry-After", f.pointsRetry)
	}
	return false
}

// AddPackage creates a container package owned by an org or a user.
func (f *Fake) AddPackage(kind OwnerKind, owner, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.packages[owner+"/"+name] = &pkg{owner: owner, kind: kind, name: name, versions: map[int64]*Version{}}
}

func (f *Fake) pkgLocked(owner, name string) *pkg {
	p, ok := f.packages[owner+"/"+name]
	if !ok {
		panic(fmt.Sprintf("fake ghpackages: no package %s/%s (call AddPackage first)", owner, name))
	}
	return p
}

// AddVersion stores a version and returns its id. A tag already on another
// version moves to this one, as a push does on GHCR.
func (f *Fake) AddVersion(owner, name, digest string, tags []string, created time.Time, manifest []byte, mediaType string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keepBlobsLocked(manifest)
	return f.addVersionLocked(f.pkgLocked(owner, name), digest, tags, created, manifest, mediaType)
}

// keepBlobsLocked stores the blobs a seeded manifest names, as a push
// would have: deleting its version leaves them, so pushing the same
// manifest again is accepted.
func (f *Fake) keepBlobsLocked(manifest []byte) {
	var m struct {
		Config *struct{ Digest string }  `json:"config"`
		Layers []struct{ Digest string } `json:"layers"`
	}
	if json.Unmarshal(manifest, &m) != nil {
		return
	}
	if m.Config != nil {
		m.Layers = append(m.Layers, *m.Config)
	}
	for _, l := range m.Layers {
		if _, ok := f.blobs[l.Digest]; !ok && l.Digest != "" {
			f.blobs[l.Digest] = []byte("{}")
		}
	}
}

func (f *Fake) addVersionLocked(p *pkg, digest string, tags []string, created time.Time, manifest []byte, mediaType string) int64 {
	for _, t := range tags {
		for _, v := range p.versions {
			v.Tags = remove(v.Tags, t)
		}
	}
	for _, v := range p.versions {
		if v.Digest == digest { // same manifest pushed again: GHCR adds the tags
			v.Tags = append(v.Tags, tags...)
			if created.After(v.Updated) && created.After(v.Created) {
				v.Updated = created.UTC()
			}
			return v.ID
		}
	}
	f.nextID++
	p.versions[f.nextID] = &Version{ID: f.nextID, Digest: digest, Tags: append([]string(nil), tags...), Created: created.UTC(), Manifest: manifest, MediaType: mediaType}
	return f.nextID
}

// AddImage stores a unique single-platform image manifest (its own bytes
// derived from seed) and returns its digest.
func (f *Fake) AddImage(owner, name, seed string, tags []string, created time.Time) string {
	b := imageManifest(seed, "")
	d := Digest(b)
	f.AddVersion(owner, name, d, tags, created, b, MediaOCIManifest)
	return d
}

// AddImageBuilt stores a single-platform image built at built (its config
// blob's `created`, served at /v2/.../blobs/) and pushed at pushed (the
// version's created_at): a migrated or copied image when built is long
// before pushed. It returns the digest.
func (f *Fake) AddImageBuilt(owner, name, seed string, tags []string, pushed, built time.Time) string {
	cfg, _ := json.Marshal(map[string]any{"created": built.UTC().Format(time.RFC3339), "architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}}, "config": map[string]any{"Labels": map[string]string{"seed": seed}}})
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     MediaOCIManifest,
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest(cfg), "size": len(cfg)},
		"layers":        []any{},
	})
	f.mu.Lock()
	f.blobs[Digest(cfg)] = cfg
	f.mu.Unlock()
	d := Digest(m)
	f.AddVersion(owner, name, d, tags, pushed, m, MediaOCIManifest)
	return d
}

// AddIndex stores one untagged child version per platform and a tagged
// index naming them, as a multi-arch push to GHCR does. It returns the index
// digest and the children digests in index order.
func (f *Fake) AddIndex(owner, name, seed string, tags []string, created time.Time, platforms ...string) (string, []string) {
	type desc struct {
		MediaType string            `json:"mediaType"`
		Digest    string            `json:"digest"`
		Size      int               `json:"size"`
		Platform  map[string]string `json:"platform,omitempty"`
	}
	var children []string
	var manifests []desc
	for _, pl := range platforms {
		b := imageManifest(seed+"/"+pl, "")
		d := Digest(b)
		f.AddVersion(owner, name, d, nil, created, b, MediaOCIManifest)
		children = append(children, d)
		os, arch, _ := strings.Cut(pl, "/")
		manifests = append(manifests, desc{MediaType: MediaOCIManifest, Digest: d, Size: len(b), Platform: map[string]string{"os": os, "architecture": arch}})
	}
	b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": MediaOCIIndex, "manifests": manifests})
	d := Digest(b)
	f.AddVersion(owner, name, d, tags, created, b, MediaOCIIndex)
	return d, children
}

// AddIndexOf stores an index over versions already added (an index of
// indexes when they are indexes) and returns its digest.
func (f *Fake) AddIndexOf(owner, name string, tags []string, created time.Time, children ...string) string {
	f.mu.Lock()
	p := f.pkgLocked(owner, name)
	var manifests []map[string]any
	for _, c := range children {
		for _, v := range p.versions {
			if v.Digest == c {
				manifests = append(manifests, map[string]any{"mediaType": v.MediaType, "digest": c, "size": len(v.Manifest)})
			}
		}
	}
	f.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": MediaOCIIndex, "manifests": manifests})
	d := Digest(b)
	f.AddVersion(owner, name, d, tags, created, b, MediaOCIIndex)
	return d
}

// AddSignature stores a cosign-style signature for subject under the tag
// sha256-<hex>.sig and returns its digest.
func (f *Fake) AddSignature(owner, name, subject string, created time.Time) string {
	b := imageManifest("sig:"+subject, "")
	d := Digest(b)
	f.AddVersion(owner, name, d, []string{strings.Replace(subject, ":", "-", 1) + ".sig"}, created, b, MediaOCIManifest)
	return d
}

// AddReferrer stores an SBOM whose OCI subject field names subject (which
// need not be a version here), untagged unless tags are given, and returns
// its digest.
func (f *Fake) AddReferrer(owner, name, subject string, tags []string, created time.Time) string {
	var m map[string]any
	_ = json.Unmarshal(imageManifest("sbom:"+subject, "application/spdx+json"), &m)
	m["subject"] = map[string]any{"mediaType": MediaOCIManifest, "digest": subject, "size": 2}
	b, _ := json.Marshal(m)
	d := Digest(b)
	f.AddVersion(owner, name, d, tags, created, b, MediaOCIManifest)
	return d
}

// imageManifest is a small valid OCI image manifest unique to seed.
func imageManifest(seed, artifactType string) []byte {
	sum := sha256.Sum256([]byte(seed))
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     MediaOCIManifest,
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + hex.EncodeToString(sum[:]), "size": 2},
		"layers":        []any{},
		"annotations":   map[string]string{"seed": seed},
	}
	if artifactType != "" {
		m["artifactType"] = artifactType
	}
	b, _ := json.Marshal(m)
	return b
}

// Digest is the sha256 digest of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SetTokenUser says which user the token belongs to: /user/packages/...
// then serves that user's packages, private ones too. Without it the token
// is an installation token (GITHUB_TOKEN), for which /user/... is 404.
func (f *Fake) SetTokenUser(login string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenUser = login
}

// SetPrivate makes a user package private: /users/{owner}/... no longer
// serves it, only /user/... with its owner's token.
func (f *Fake) SetPrivate(owner, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pkgLocked(owner, name).private = true
}

// SetForbidden makes every DELETE answer 403 (token lacks permission).
func (f *Fake) SetForbidden(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forbidden = on
}

// SetSecondaryLimitEvery makes every nth DELETE attempt (n > 0) answer 403
// with retry-after: retryAfter and the secondary-limit message; 0 turns it off.
func (f *Fake) SetSecondaryLimitEvery(n int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rateEvery, f.retryAfter = n, retryAfter
}

// SetSecondaryLimitRate makes a DELETE answer 403 + retry-after when n
// deletions have already been accepted within the last window.
func (f *Fake) SetSecondaryLimitRate(n int, window time.Duration, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.windowN, f.window, f.retryAfter = n, window, retryAfter
}

// SetPrimaryLimit allows n API requests per window (n = 0: no limit), as
// GitHub's primary rate limit does per hour: every API answer says
// x-ratelimit-limit, -remaining, -used and -reset (epoch seconds), and a
// request over the limit gets 403 with x-ratelimit-remaining: 0.
func (f *Fake) SetPrimaryLimit(n int, window time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.primaryN, f.primaryWindow, f.primaryStart, f.primaryUsed = n, window, f.now(), 0
}

// PrimaryDenied is how many API requests the primary limit refused.
func (f *Fake) PrimaryDenied() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.primaryDenied
}

// primaryLimit counts an API request against the primary limit, sets the
// x-ratelimit headers and reports whether the request may go on.
func (f *Fake) primaryLimit(w http.ResponseWriter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.primaryN <= 0 {
		return true
	}
	now := f.now()
	for !now.Before(f.primaryStart.Add(f.primaryWindow)) {
		f.primaryStart = f.primaryStart.Add(f.primaryWindow)
		f.primaryUsed = 0
	}
	allowed := f.primaryUsed < f.primaryN
	if allowed {
		f.primaryUsed++
	} else {
		f.primaryDenied++
	}
	h := w.Header()
	h.Set("X-Ratelimit-Limit", strconv.Itoa(f.primaryN))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(f.primaryN-f.primaryUsed))
	h.Set("X-Ratelimit-Used", strconv.Itoa(f.primaryUsed))
	h.Set("X-Ratelimit-Resource", "core")
	// GitHub's reset is whole epoch seconds; round up so it is never early.
	reset := f.primaryStart.Add(f.primaryWindow)
	h.Set("X-Ratelimit-Reset", strconv.FormatInt((reset.UnixNano()+int64(time.Second)-1)/int64(time.Second), 10))
	return allowed
}

// RefuseLastTagged turns on GitHub's rule that a package keeps at least one
// tagged version: deleting the only tagged version left answers 400.
func (f *Fake) RefuseLastTagged(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastTagged = on
}

// SetRefused marks a version as undeletable (public, > 5000 downloads).
func (f *Fake) SetRefused(owner, name, digest string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.pkgLocked(owner, name).versions {
		if v.Digest == digest {
			v.Refused = true
		}
	}
}

// SetDelay delays every request by d (to make concurrency observable).
func (f *Fake) SetDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// Versions returns the package's versions, sorted by id.
func (f *Fake) Versions(owner, name string) []Version {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pkgLocked(owner, name)
	out := make([]Version, 0, len(p.versions))
	for _, v := range p.versions {
		c := *v
		c.Tags = append([]string(nil), v.Tags...)
		sort.Strings(c.Tags)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Digests returns the digests of the package's versions, sorted.
func (f *Fake) Digests(owner, name string) []string {
	var out []string
	for _, v := range f.Versions(owner, name) {
		out = append(out, v.Digest)
	}
	sort.Strings(out)
	return out
}

// Tags returns tag -> digest for the package.
func (f *Fake) Tags(owner, name string) map[string]string {
	out := map[string]string{}
	for _, v := range f.Versions(owner, name) {
		for _, t := range v.Tags {
			out[t] = v.Digest
		}
	}
	return out
}

// Requests returns every request answered so far.
func (f *Fake) Requests() []Request { return f.log.Requests() }

// Count returns how many requests had method and a path containing part.
func (f *Fake) Count(method, part string) int { return f.log.Count(method, part, 0) }

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	delay := f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	f.log.Serve(w, r, f.route)
}

func (f *Fake) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	switch {
	case p == "/token":
		f.serveToken(w, r)
	case p == "/v2/" || strings.HasPrefix(p, "/v2/"):
		f.serveOCI(w, r)
	case strings.HasPrefix(p, "/api/v3/"):
		f.serveAPI(w, r, strings.TrimPrefix(p, "/api/v3"))
	default:
		f.serveAPI(w, r, p)
	}
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest/packages/packages"})
}

func (f *Fake) authorized(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(a, " ")
	return (strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "token")) && tok == f.token && f.token != ""
}

// serveAPI answers /{orgs|users}/{owner}/packages (the owner's packages) and
// /{orgs|users}/{owner}/packages/container/{pkg}[/versions[/{id}]], and the
// same under /user/ for the token's own user.
func (f *Fake) serveAPI(w http.ResponseWriter, r *http.Request, path string) {
	if !f.authorized(r) {
		apiError(w, http.StatusUnauthorized, MsgBadCredentials)
		return
	}
	if !f.primaryLimit(w) {
		apiError(w, http.StatusForbidden, MsgPrimaryLimit)
		return
	}
	if !f.pointsLimit(w, r.Method) {
		apiError(w, http.StatusForbidden, MsgSecondaryLimit)
		return
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	self := false // /user/...: the token's own user
	if seg[0] == "user" {
		f.mu.Lock()
		login := f.tokenUser
		f.mu.Unlock()
		if login == "" {
			apiError(w, http.StatusNotFound, "Not Found")
			return
		}
		seg = append([]string{"users", url.PathEscape(login)}, seg[1:]...)
		self = true
	}
	if len(seg) == 3 && (seg[0] == "orgs" || seg[0] == "users") && seg[2] == "packages" && r.Method == http.MethodGet {
		f.listPackages(w, r, seg[0], seg[1])
		return
	}
	if len(seg) < 5 || (seg[0] != "orgs" && seg[0] != "users") || seg[2] != "packages" || seg[3] != "container" {
		apiError(w, http.StatusNotFound, "Not Found")
		return
	}
	// Segments are unescaped one by one: "team%2Fapp" is one package name,
	// "team/app" unescaped is a different (wrong) path, as on GitHub.
	owner, err1 := url.PathUnescape(seg[1])
	name, err2 := url.PathUnescape(seg[4])
	if err1 != nil || err2 != nil {
		apiError(w, http.StatusNotFound, "Not Found")
		return
	}
	f.mu.Lock()
	p, ok := f.packages[owner+"/"+name]
	f.mu.Unlock()
	wantKind := Org
	if seg[0] == "users" {
		wantKind = User
	}
	if !ok || p.kind != wantKind || p.private && !self {
		apiError(w, http.StatusNotFound, "Package not found.")
		return
	}
	rest := seg[5:]
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		f.mu.Lock()
		n := len(p.versions)
		f.mu.Unlock()
		visibility := "public"
		if p.private {
			visibility = "private"
		}
		writeJSON(w, map[string]any{"id": 1, "name": name, "package_type": "container", "version_count": n, "visibility": visibility, "owner": map[string]any{"login": owner, "type": string(p.kind)}})
	case len(rest) == 1 && rest[0] == "versions" && r.Method == http.MethodGet:
		f.listVersions(w, r, p)
	case len(rest) == 2 && rest[0] == "versions":
		id, err := strconv.ParseInt(rest[1], 10, 64)
		if err != nil {
			apiError(w, http.StatusNotFound, "Not Found")
			return
		}
		switch r.Method {
		case http.MethodGet:
			f.mu.Lock()
			v, ok := p.versions[id]
			var j map[string]any
			if ok {
				j = versionJSON(v)
			}
			f.mu.Unlock()
			if !ok {
				apiError(w, http.StatusNotFound, "Package version not found.")
				return
			}
			writeJSON(w, j)
		case http.MethodDelete:
			f.deleteVersion(w, p, id)
		default:
			apiError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		}
	default:
		apiError(w, http.StatusNotFound, "Not Found")
	}
}

// PushedAt is updated_at: the last push of this digest.
func (v *Version) PushedAt() time.Time {
	if v.Updated.After(v.Created) {
		return v.Updated
	}
	return v.Created
}

func versionJSON(v *Version) map[string]any {
	tags := append([]string{}, v.Tags...)
	return map[string]any{
		"id":         v.ID,
		"name":       v.Digest,
		"created_at": v.Created.Format(time.RFC3339),
		"updated_at": v.PushedAt().Format(time.RFC3339),
		"metadata":   map[string]any{"package_type": "container", "container": map[string]any{"tags": tags}},
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *Fake) listVersions(w http.ResponseWriter, r *http.Request, p *pkg) {
	q := r.URL.Query()
	perPage := 30
	if s := q.Get("per_page"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			perPage = min(n, 100)
		}
	}
	page := 1
	if s := q.Get("page"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			page = n
		}
	}
	f.mu.Lock()
	all := make([]*Version, 0, len(p.versions))
	for _, v := range p.versions {
		all = append(all, v)
	}
	// Newest first, as GitHub lists them.
	sort.Slice(all, func(i, j int) bool { return all[i].ID > all[j].ID })
	var out []map[string]any
	for i := (page - 1) * perPage; i < len(all) && i < page*perPage; i++ {
		out = append(out, versionJSON(all[i]))
	}
	f.mu.Unlock()
	if out == nil {
		out = []map[string]any{}
	}
	setLinks(w, r, q, page, perPage, len(all))
	writeJSON(w, out)
}

// listPackages answers GET /{orgs|users}/{owner}/packages?package_type=container:
// the owner's packages by name, paginated like versions. An owner of the
// other kind, or one owning nothing, is 404 as on GitHub.
func (f *Fake) listPackages(w http.ResponseWriter, r *http.Request, kindSeg, rawOwner string) {
	owner, err := url.PathUnescape(rawOwner)
	if err != nil {
		apiError(w, http.StatusNotFound, "Not Found")
		return
	}
	q := r.URL.Query()
	if q.Get("package_type") == "" {
		apiError(w, http.StatusBadRequest, "Invalid argument: package_type is required")
		return
	}
	wantKind := Org
	if kindSeg == "users" {
		wantKind = User
	}
	f.mu.Lock()
	var all []*pkg
	for _, p := range f.packages {
		if p.owner == owner && p.kind == wantKind {
			all = append(all, p)
		}
	}
	f.mu.Unlock()
	if len(all) == 0 {
		apiError(w, http.StatusNotFound, "Not Found")
		return
	}
	if q.Get("package_type") != "container" {
		all = nil
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	perPage, page := pageParams(q)
	out := []map[string]any{}
	f.mu.Lock()
	for i := (page - 1) * perPage; i < len(all) && i < page*perPage; i++ {
		p := all[i]
		out = append(out, map[string]any{
			"id": 100 + i, "name": p.name, "package_type": "container", "version_count": len(p.versions),
			"visibility": "private", "owner": map[string]any{"login": p.owner, "type": string(p.kind)},
		})
	}
	f.mu.Unlock()
	setLinks(w, r, q, page, perPage, len(all))
	writeJSON(w, out)
}

// pageParams reads per_page (default 30, max 100) and page (default 1).
func pageParams(q url.Values) (perPage, page int) {
	perPage, page = 30, 1
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		perPage = min(n, 100)
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		page = n
	}
	return perPage, page
}

// setLinks sets GitHub's absolute Link header for a page of n items.
func setLinks(w http.ResponseWriter, r *http.Request, q url.Values, page, perPage, n int) {
	last := max(1, (n+perPage-1)/perPage)
	link := func(p int) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.EscapedPath()}
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		qq.Set("page", strconv.Itoa(p))
		qq.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = qq.Encode()
		return u.String()
	}
	var links []string
	if page < last {
		links = append(links, fmt.Sprintf("<%s>; rel=\"next\"", link(page+1)), fmt.Sprintf("<%s>; rel=\"last\"", link(last)))
	}
	if page > 1 {
		links = append(links, fmt.Sprintf("<%s>; rel=\"first\"", link(1)), fmt.Sprintf("<%s>; rel=\"prev\"", link(page-1)))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
}

func (f *Fake) deleteVersion(w http.ResponseWriter, p *pkg, id int64) {
	f.mu.Lock()
	f.deleteAttempts++
	now := f.now()
	limited := f.rateEvery > 0 && f.deleteAttempts%f.rateEvery == 0
	if f.windowN > 0 {
		recent := f.deleteTimes[:0]
		for _, t := range f.deleteTimes {
			if now.Sub(t) < f.window {
				recent = append(recent, t)
			}
		}
		f.deleteTimes = recent
		if len(recent) >= f.windowN {
			limited = true
		}
	}
	retryAfter := f.retryAfter
	forbidden := f.forbidden
	v, ok := p.versions[id]
	refused := ok && v.Refused
	lastTagged := ok && !refused && f.lastTagged && len(v.Tags) > 0 && taggedVersions(p) == 1
	if !limited && !forbidden && ok && !refused && !lastTagged {
		delete(p.versions, id)
		f.deleteTimes = append(f.deleteTimes, now)
	}
	f.mu.Unlock()
	switch {
	case limited:
		w.Header().Set("Retry-After", retryAfter)
		apiError(w, http.StatusForbidden, MsgSecondaryLimit)
	case forbidden:
		apiError(w, http.StatusForbidden, MsgForbidden)
	case !ok:
		apiError(w, http.StatusNotFound, "Package version not found.")
	case refused:
		apiError(w, http.StatusBadRequest, MsgRefusedDownload)
	case lastTagged:
		apiError(w, http.StatusBadRequest, MsgLastTagged)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func taggedVersions(p *pkg) int {
	n := 0
	for _, v := range p.versions {
		if len(v.Tags) > 0 {
			n++
		}
	}
	return n
}

// --- OCI side -------------------------------------------------------------

func ociError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// serveToken is the registry's token endpoint: Basic auth with any user name
// and the GitHub token as password gives a registry bearer token.
func (f *Fake) serveToken(w http.ResponseWriter, r *http.Request) {
	_, pass, ok := r.BasicAuth()
	if !ok || pass != f.token || f.token == "" {
		ociError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	f.mu.Lock()
	f.regToken++
	tok := "registry-" + strconv.Itoa(f.regToken)
	f.mu.Unlock()
	writeJSON(w, map[string]string{"token": tok})
}

func (f *Fake) regAuthorized(r *http.Request) bool {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "bearer") && strings.HasPrefix(tok, "registry-")
}

func (f *Fake) serveOCI(w http.ResponseWriter, r *http.Request) {
	if !f.regAuthorized(r) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="ghcr.io"`, r.Host))
		ociError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	if path == "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	var name, kind, ref string
	for _, k := range []string{"/manifests/", "/blobs/uploads/", "/blobs/", "/tags/list"} {
		if i := strings.LastIndex(path, k); i > 0 {
			name, kind, ref = path[:i], strings.Trim(k, "/"), path[i+len(k):]
			break
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	owner, pkgName, _ := strings.Cut(name, "/")
	p, ok := f.packages[owner+"/"+pkgName]
	if !ok {
		ociError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	switch {
	case kind == "manifests" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		for _, v := range p.versions {
			if v.Digest == ref || contains(v.Tags, ref) {
				w.Header().Set("Content-Type", v.MediaType)
				w.Header().Set("Docker-Content-Digest", v.Digest)
				w.Header().Set("Content-Length", strconv.Itoa(len(v.Manifest)))
				w.WriteHeader(http.StatusOK)
				if r.Method == http.MethodGet {
					_, _ = w.Write(v.Manifest)
				}
				return
			}
		}
		ociError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
	case kind == "manifests" && r.Method == http.MethodPut:
		b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			ociError(w, http.StatusBadRequest, "MANIFEST_INVALID", "unreadable")
			return
		}
		var m struct {
			Config struct{ Digest string }   `json:"config"`
			Layers []struct{ Digest string } `json:"layers"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			ociError(w, http.StatusBadRequest, "MANIFEST_INVALID", "invalid json")
			return
		}
		for _, d := range append([]struct{ Digest string }{m.Config}, m.Layers...) {
			if _, ok := f.blobs[d.Digest]; !ok && d.Digest != "" {
				ociError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "blob unknown: "+d.Digest)
				return
			}
		}
		d := Digest(b)
		var tags []string
		if !strings.HasPrefix(ref, "sha256:") {
			tags = []string{ref}
		}
		f.addVersionLocked(p, d, tags, f.now(), b, r.Header.Get("Content-Type"))
		w.Header().Set("Docker-Content-Digest", d)
		w.WriteHeader(http.StatusCreated)
	case kind == "manifests" && r.Method == http.MethodDelete:
		ociError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
	case kind == "blobs" && (r.Method == http.MethodHead || r.Method == http.MethodGet):
		if b, ok := f.blobs[ref]; ok {
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Header().Set("Docker-Content-Digest", ref)
			w.WriteHeader(http.StatusOK)
			if r.Method == http.MethodGet {
				_, _ = w.Write(b)
			}
			return
		}
		if r.Method == http.MethodGet {
			ociError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
			return
		}
		w.WriteHeader(http.StatusNotFound)
	case kind == "blobs/uploads" && r.Method == http.MethodPost:
		w.Header().Set("Location", "/v2/"+name+"/blobs/uploads/u1")
		w.WriteHeader(http.StatusAccepted)
	case kind == "blobs/uploads" && r.Method == http.MethodPut:
		b, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		d := r.URL.Query().Get("digest")
		if Digest(b) != d {
			ociError(w, http.StatusBadRequest, "DIGEST_INVALID", "digest mismatch")
			return
		}
		f.blobs[d] = b
		w.Header().Set("Docker-Content-Digest", d)
		w.WriteHeader(http.StatusCreated)
	case kind == "tags/list" && r.Method == http.MethodGet:
		var tags []string
		for _, v := range p.versions {
			tags = append(tags, v.Tags...)
		}
		sort.Strings(tags)
		writeJSON(w, map[string]any{"name": name, "tags": tags})
	default:
		ociError(w, http.StatusNotFound, "UNSUPPORTED", "not found")
	}
}

func contains(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}

func remove(s []string, x string) []string {
	out := s[:0]
	for _, e := range s {
		if e != x {
			out = append(out, e)
		}
	}
	return out
}
