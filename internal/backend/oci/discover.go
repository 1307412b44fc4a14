package oci

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/httpapi"
	"github.com/regsweep/regsweep/internal/graph"
)

// listTags lists every tag, following Link pagination, bounded in tags and
// pages. Tags violating the OCI grammar are returned apart, never used.
func (b *Backend) listTags(ctx context.Context) (tags, invalid []string, err error) {
	seen := map[string]bool{}
	// Enough pages for MaxTags at the smallest page a registry may choose,
	// plus slack; a registry sending endless pages stops here.
	l := b.listing(b.url("tags/list?n="+strconv.Itoa(pageSize)), b.opts.MaxTags/10+10, maxListBody, "application/json")
	l.Fail = func(_ *url.URL, resp *http.Response) error {
		he := api().Error(resp)
		if he.StatusCode == http.StatusNotFound {
			// NAME_UNKNOWN: the repository does not exist. The callers
			// decide: an error before the run, empty once it started.
			return fmt.Errorf("%w: %w", backend.ErrRepositoryNotFound, he)
		}
		return httpapi.Classify(he, httpapi.Hints{})
	}
	err = httpapi.Walk(ctx, l, func(tl *struct {
		Tags []string `json:"tags"`
	}) (string, error) {
		added := 0
		for _, t := range tl.Tags {
			if seen[t] {
				continue
			}
			seen[t] = true
			added++
			if !ValidTag(t) {
				invalid = append(invalid, t)
				continue
			}
			tags = append(tags, t)
		}
		if len(tags)+len(invalid) > b.opts.MaxTags {
			return "", fmt.Errorf("more than %d tags; refusing to go on", b.opts.MaxTags)
		}
		if len(tl.Tags) == pageSize && added > 0 {
			// A full page (exactly n: distribution 2.8 ignores n and
			// sends everything, more than n, in one answer) and, if the
			// page has no Link, go-containerregistry's registry cut the
			// list at n without saying there is more. Ask for what
			// follows the last tag (the spec's `last`); a page with
			// nothing new ends the listing.
			return b.url("tags/list?n=" + strconv.Itoa(pageSize) + "&last=" + url.QueryEscape(tl.Tags[len(tl.Tags)-1])).String(), nil
		}
		return "", nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list tags of %s: %w", b.repo.Name(), err)
	}
	return tags, invalid, nil
}

// listing is one of the OCI API's listings from first, paginated by Link
// rel="next"; Fail is the caller's.
func (b *Backend) listing(first *url.URL, maxPages int, maxBody int64, accept string) httpapi.Listing {
	return httpapi.Listing{
		Pages:      httpapi.NewPager(first, maxPages),
		API:        api(),
		MaxBody:    maxBody,
		LinkHeader: true,
		Get: func(ctx context.Context, u *url.URL) (*http.Response, error) {
			return b.do(ctx, http.MethodGet, u, accept)
		},
	}
}

// resolved is what one HEAD (or GET) told about a tag.
type resolved struct {
	digest, mediaType string
	body              []byte // set when a GET was needed
}

var errTagGone = errors.New("tag vanished")

// resolveTag asks for a tag's digest with HEAD, falling back to GET when the
// registry gives no (valid) Docker-Content-Digest. withBody GETs at once:
// the body is needed (a matching tag's manifest may be a referrer, and its
// subject field says of what), and one GET costs what the HEAD would.
func (b *Backend) resolveTag(ctx context.Context, tag string, withBody bool) (resolved, error) {
	if withBody {
		r, err := b.getManifest(ctx, tag, "")
		if errors.Is(err, backend.ErrNotFound) {
			return resolved{}, errTagGone
		}
		return r, err
	}
	u := b.url("manifests/" + tag)
	resp, err := b.do(ctx, http.MethodHead, u, acceptManifests)
	if err != nil {
		return resolved{}, fmt.Errorf("resolve tag %s: %w", tag, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return resolved{}, errTagGone
	default:
		return resolved{}, classify("resolve tag "+tag, &backend.HTTPError{Method: http.MethodHead, URL: sanitizeURL(u), StatusCode: resp.StatusCode})
	}
	mt := mediaTypeOf(resp.Header.Get("Content-Type"))
	if d := resp.Header.Get("Docker-Content-Digest"); ValidDigest(d) {
		return resolved{digest: d, mediaType: mt}, nil
	}
	r, err := b.getManifest(ctx, tag, "")
	if errors.Is(err, backend.ErrNotFound) {
		return resolved{}, errTagGone
	}
	return r, err
}

// getManifest GETs a manifest by tag or digest, bounded, and checks its
// digest: against want when given, else against the header (when present)
// and the body's own hash.
func (b *Backend) getManifest(ctx context.Context, ref, want string) (resolved, error) {
	u := b.url("manifests/" + ref)
	resp, err := b.do(ctx, http.MethodGet, u, acceptManifests)
	if err != nil {
		return resolved{}, fmt.Errorf("get manifest %s: %w", ref, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resolved{}, classify("get manifest "+ref, api().Error(resp))
	}
	mt := mediaTypeOf(resp.Header.Get("Content-Type"))
	hdr := resp.Header.Get("Docker-Content-Digest")
	body, err := api().ReadBody(resp, maxManifestBody)
	if err != nil {
		return resolved{}, err
	}
	d := want
	if d == "" {
		d = hdr
	}
	if d == "" || !ValidDigest(d) {
		d = digestOf(sha256.New(), "sha256", body)
	}
	if got := digestOf(newHash(d), algo(d), body); got != d {
		return resolved{}, fmt.Errorf("get manifest %s: registry says digest %s but the body hashes to %s", ref, httpapi.Clip(d), got)
	}
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if mt == "" && json.Unmarshal(body, &probe) == nil {
		mt = probe.MediaType
	}
	return resolved{digest: d, mediaType: mt, body: body}, nil
}

func algo(d string) string { return d[:strings.IndexByte(d, ':')] }

func newHash(d string) hash.Hash {
	if algo(d) == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

func digestOf(h hash.Hash, alg string, body []byte) string {
	h.Write(body)
	return alg + ":" + hex.EncodeToString(h.Sum(nil))
}

func mediaTypeOf(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.TrimSpace(ct)
}

func kindOf(mt string) graph.Kind {
	switch types.MediaType(mt) {
	case types.OCIImageIndex, types.DockerManifestList:
		return graph.KindIndex
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
		return graph.KindImage
	}
	return graph.KindUnknown
}

func isIndex(mt string) bool { return kindOf(mt) == graph.KindIndex }

// maySubject: a manifest of this media type can carry a subject field (an
// OCI image or artifact manifest, or one whose type is not known); Docker
// manifests cannot, and indexes are read anyway.
func maySubject(mt string) bool {
	switch types.MediaType(mt) {
	case types.DockerManifestSchema2, types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return false
	}
	return !isIndex(mt)
}

// descriptor and manifestDoc are the parts of manifests we read.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
	Platform     *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	} `json:"platform"`
}

type manifestDoc struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       descriptor        `json:"config"`
	Manifests    []descriptor      `json:"manifests"`
	Layers       []descriptor      `json:"layers"`
	Subject      *descriptor       `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

// Docker buildx stores attestations as index entries that name the image
// they describe with these annotations.
const (
	buildxRefType   = "vnd.docker.reference.type"
	buildxRefDigest = "vnd.docker.reference.digest"
)

// discovery holds one Discover's state; mu guards g.
type discovery struct {
	b    *Backend
	opts backend.DiscoverOptions
	mu   sync.Mutex
	g    *graph.Graph
	// bodies are manifest bodies already read (by a GET fallback), by digest.
	bodies map[string][]byte
	// read and queried are the digests steps 2 and 3 have done, so that
	// the re-check does only what is new.
	read, queried map[string]bool
	// referrersAPI: the registry answers the referrers API.
	referrersAPI bool
}

func (d *discovery) match(tag string) bool { return d.opts.Match == nil || d.opts.Match(tag) }

// Discover implements backend.Backend.
func (b *Backend) Discover(ctx context.Context, opts backend.DiscoverOptions) (*graph.Graph, error) {
	referrersAPI := false
	if opts.Referrers {
		ok, err := b.probeReferrers(ctx)
		if err != nil {
			return nil, err
		}
		referrersAPI = ok
	}
	d := &discovery{b: b, opts: opts, g: graph.New(b.repo.Name(), b.Name(), b.caps(referrersAPI)),
		bodies: map[string][]byte{}, read: map[string]bool{}, queried: map[string]bool{}, referrersAPI: referrersAPI}

	tags, invalid, err := b.listTags(ctx)
	if err != nil {
		return nil, err
	}
	if len(invalid) > 0 {
		d.g.Warnings = append(d.g.Warnings, invalidTagsWarning(invalid))
	}
	b.opts.Logf("%s: %d tags listed; resolving", b.repo.Name(), len(tags))

	first := tags
	if opts.Recheck {
		// Matching tags first; the tags that keep images are resolved
		// last, after a second listing, just before the plan is made.
		first = slices.DeleteFunc(slices.Clone(tags), func(t string) bool { return !d.match(t) })
	}
	if err := d.pass(ctx, first, referrersAPI); err != nil {
		return nil, err
	}
	if opts.Recheck {
		if err := d.recheck(ctx, referrersAPI); err != nil {
			return nil, err
		}
	}
	if err := d.rootTimes(ctx); err != nil {
		return nil, err
	}
	d.markTagReferrers()
	if opts.Referrers {
		if err := d.checkSubjects(ctx); err != nil {
			return nil, err
		}
	}
	d.g.Finish()
	return d.g, nil
}

// pass resolves tags and reads what the plan needs about their manifests:
// 1. every tag to its digest, concurrently; 2. per distinct digest not yet
// read, bodies of indexes and referrer indexes, and of matching images when
// their creation time or subject is needed; 3. referrers through the API,
// for matching manifests not yet asked about.
func (d *discovery) pass(ctx context.Context, tags []string, referrersAPI bool) error {
	if err := d.resolveAll(ctx, tags); err != nil {
		return err
	}
	if err := d.readManifests(ctx); err != nil {
		return err
	}
	if err := d.readNested(ctx); err != nil {
		return err
	}
	if referrersAPI {
		return d.queryReferrers(ctx)
	}
	return nil
}

// recheck lists the tags again and resolves every tag not resolved yet (the
// ones that keep images, and any pushed since the first listing). A tag
// pushed or moved onto a doomed image while the matching ones were read is
// seen here and keeps it; each tag is still resolved once.
func (d *discovery) recheck(ctx context.Context, referrersAPI bool) error {
	tags, _, err := d.b.listTags(ctx)
	if err != nil && !errors.Is(err, backend.ErrRepositoryNotFound) {
		return fmt.Errorf("list the tags again: %w", err)
	}
	listed := make(map[string]bool, len(tags))
	var rest []string
	d.mu.Lock()
	for _, t := range tags {
		listed[t] = true
		if _, done := d.g.Tags[t]; !done {
			rest = append(rest, t)
		}
	}
	for t := range d.g.Tags {
		if !listed[t] {
			delete(d.g.Tags, t) // removed by someone else meanwhile
		}
	}
	d.mu.Unlock()
	d.b.opts.Logf("%s: %d tags listed again; resolving the %d that do not match or are new", d.b.repo.Name(), len(tags), len(rest))
	return d.pass(ctx, rest, referrersAPI)
}

func invalidTagsWarning(invalid []string) string {
	sort.Strings(invalid)
	shown := make([]string, 0, 3)
	for i, t := range invalid {
		if i == 3 {
			break
		}
		shown = append(shown, strconv.Quote(httpapi.Clip(cleanText(t, 130))))
	}
	more := ""
	if len(invalid) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(invalid)-len(shown))
	}
	return fmt.Sprintf("ignored %d tag name(s) that break the OCI tag grammar: %s%s", len(invalid), strings.Join(shown, ", "), more)
}

func (d *discovery) resolveAll(ctx context.Context, tags []string) error {
	var done atomic.Int64
	defer backend.Progress(d.b.opts.Logf, d.b.opts.ProgressEvery, d.b.repo.Name(), "tags resolved", len(tags), &done,
		func() time.Duration { return d.b.opts.Transport.Stats().Waited })()
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(d.b.opts.Concurrency)
	for _, tag := range tags {
		eg.Go(func() error {
			defer done.Add(1)
			r, err := d.b.resolveTag(ctx, tag, d.match(tag))
			if errors.Is(err, errTagGone) {
				d.b.opts.Logf("tag %s disappeared while listing; skipped", tag)
				return nil
			}
			if err != nil {
				return err
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			d.g.SetTag(tag, r.digest)
			m := d.g.Manifest(r.digest)
			if m.MediaType == "" {
				m.MediaType = r.mediaType
				m.Kind = kindOf(r.mediaType)
			}
			if r.body != nil {
				d.bodies[r.digest] = r.body
			}
			return nil
		})
	}
	return eg.Wait()
}

// work is what step 2 must read for one digest.
type work struct {
	digest   string
	fallback bool   // an OCI referrers fallback index
	subject  string // the subject its fallback tag names ("" when unknown)
	matched  bool   // some tag on it matches the policy
}

func (d *discovery) readManifests(ctx context.Context) error {
	var jobs []work
	d.mu.Lock()
	byDigest := map[string]*work{}
	anyMatch := false
	for _, tag := range d.g.SortedTags() {
		dg := d.g.Tags[tag]
		w := byDigest[dg]
		if w == nil {
			w = &work{digest: dg}
			byDigest[dg] = w
		}
		if d.match(tag) {
			w.matched, anyMatch = true, true
		}
		if rt, ok := graph.ParseReferrerTag(tag); ok && rt.Fallback() && isIndex(d.g.Manifests[dg].MediaType) {
			w.fallback, w.subject = true, rt.SubjectIn(maps.Keys(d.g.Manifests))
		}
	}
	for _, dg := range d.g.SortedDigests() {
		if w := byDigest[dg]; w != nil && !d.read[dg] {
			d.read[dg] = true
			jobs = append(jobs, *w)
		}
	}
	d.mu.Unlock()

	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(d.b.opts.Concurrency)
	var childJobs []string // matching indexes, whose ages are their children's; guarded by d.mu
	for _, w := range jobs {
		d.mu.Lock()
		mt := d.g.Manifests[w.digest].MediaType
		d.mu.Unlock()
		index := isIndex(mt)
		// A matching manifest's body came with its resolve. A kept one's
		// subject field is read where no referrers API would name it as a
		// referrer of what may be deleted: a kept SBOM tagged sbom-x keeps
		// its subject x whether or not a fallback tag lists it.
		keptReferrer := anyMatch && d.opts.Referrers && !d.referrersAPI && maySubject(mt)
		needBody := index || w.matched || keptReferrer
		if !needBody {
			continue
		}
		eg.Go(func() error {
			doc, err := d.manifest(ectx, w.digest)
			if errors.Is(err, backend.ErrNotFound) {
				return nil // deleted since it was resolved
			}
			if err != nil {
				return err
			}
			var created time.Time
			if w.matched && d.opts.Created && !index {
				if created, err = d.createdOf(ectx, doc); err != nil {
					return err
				}
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			m := d.g.Manifest(w.digest)
			d.applyDoc(m, doc)
			if !created.IsZero() {
				m.Created = created
			}
			if w.fallback {
				d.applyFallback(m, w.subject, doc)
			} else if index && w.matched && d.opts.Created {
				// Even an index with a created annotation of its own: its
				// age is its newest child's, whatever the annotation says.
				childJobs = append(childJobs, w.digest)
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	return d.indexTimes(ctx, childJobs)
}

// readNested reads the indexes that only other indexes name (an index of
// indexes), level by level, so that their children are known too: a kept
// index then protects its grandchildren. Referrers are not read: they live
// and die with their subject.
func (d *discovery) readNested(ctx context.Context) error {
	for level := 0; ; level++ {
		var todo []string
		d.mu.Lock()
		for _, dg := range d.g.SortedDigests() {
			m := d.g.Manifests[dg]
			if !d.read[dg] && isIndex(m.MediaType) && m.Kind != graph.KindReferrer {
				d.read[dg] = true
				todo = append(todo, dg)
			}
		}
		d.mu.Unlock()
		if len(todo) == 0 {
			return nil
		}
		if level == graph.MaxNesting {
			return fmt.Errorf("indexes nested more than %d deep (%s); refusing to go on, as what they hold cannot be known", graph.MaxNesting, todo[0])
		}
		eg, ectx := errgroup.WithContext(ctx)
		eg.SetLimit(d.b.opts.Concurrency)
		for _, dg := range todo {
			eg.Go(func() error {
				doc, err := d.manifest(ectx, dg)
				if errors.Is(err, backend.ErrNotFound) {
					return nil // a dangling child: nothing below it to protect
				}
				if err != nil {
					return err
				}
				d.mu.Lock()
				defer d.mu.Unlock()
				d.applyDoc(d.g.Manifest(dg), doc)
				return nil
			})
		}
		if err := eg.Wait(); err != nil {
			return err
		}
	}
}

// manifest returns a manifest's parsed body, reading it unless a GET
// fallback already did.
func (d *discovery) manifest(ctx context.Context, digest string) (*manifestDoc, error) {
	d.mu.Lock()
	body := d.bodies[digest]
	d.mu.Unlock()
	if body == nil {
		r, err := d.b.getManifest(ctx, digest, digest)
		if err != nil {
			return nil, err
		}
		body = r.body
	}
	var doc manifestDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("manifest %s: bad JSON: %w", digest, err)
	}
	return &doc, nil
}

// applyDoc records what a manifest body says; d.mu is held.
func (d *discovery) applyDoc(m *graph.Manifest, doc *manifestDoc) {
	if m.MediaType == "" {
		m.MediaType = doc.MediaType
		m.Kind = kindOf(doc.MediaType)
	}
	if doc.ArtifactType != "" {
		m.ArtifactType = doc.ArtifactType
	}
	if doc.Subject != nil && ValidDigest(doc.Subject.Digest) {
		d.g.Refer(m, doc.Subject.Digest)
	}
	if t, ok := backend.ParseCreated(doc.Annotations[backend.CreatedAnnotation]); ok && m.Created.IsZero() {
		m.Created = t
	}
	if !isIndex(m.MediaType) {
		return
	}
	m.Children = m.Children[:0]
	for _, c := range doc.Manifests {
		if !ValidDigest(c.Digest) {
			d.g.Warnings = append(d.g.Warnings, fmt.Sprintf("index %s lists an invalid digest %q; ignored", m.Digest, httpapi.Clip(cleanText(c.Digest, 140))))
			continue
		}
		m.Children = append(m.Children, c.Digest)
		child := d.g.Manifest(c.Digest)
		if child.MediaType == "" {
			child.MediaType = c.MediaType
			child.Kind = kindOf(c.MediaType)
		}
		if c.ArtifactType != "" {
			child.ArtifactType = c.ArtifactType
		}
		if p := c.Platform; p != nil && child.Platform == "" && p.OS != "" && p.OS != "unknown" {
			child.Platform = cleanText(p.OS+"/"+p.Architecture, 64)
			if p.Variant != "" {
				child.Platform += "/" + cleanText(p.Variant, 16)
			}
		}
		if c.Annotations[buildxRefType] == "attestation-manifest" && ValidDigest(c.Annotations[buildxRefDigest]) {
			d.g.Refer(child, c.Annotations[buildxRefDigest])
		}
	}
}

// applyFallback records an OCI referrers fallback index: it and every
// descriptor it lists refer to subject. Its entries are deliberately not
// Children: they live and die with the subject, not with this index.
func (d *discovery) applyFallback(m *graph.Manifest, subject string, doc *manifestDoc) {
	d.g.Refer(m, subject)
	m.Children = nil
	for _, c := range doc.Manifests {
		if ValidDigest(c.Digest) {
			d.referrer(c, subject)
		}
	}
}

// referrer records the manifest c describes as a referrer of subject;
// d.mu is held.
func (d *discovery) referrer(c descriptor, subject string) {
	r := d.g.Manifest(c.Digest)
	d.g.Refer(r, subject)
	if r.MediaType == "" {
		r.MediaType = c.MediaType
	}
	if c.ArtifactType != "" {
		r.ArtifactType = c.ArtifactType
	}
}

// markTagReferrers marks cosign .sig/.att/.sbom tags' manifests as
// referrers of the digest their tag names.
func (d *discovery) markTagReferrers() {
	for tag, dg := range d.g.Tags {
		rt, ok := graph.ParseReferrerTag(tag)
		if !ok || rt.Fallback() {
			continue
		}
		m := d.g.Manifest(dg)
		if m.Subject == "" {
			m.Kind = graph.KindReferrer
			m.Subject = rt.Subject
		}
	}
}

// createdOf is an image's creation time: the created annotation, else the
// config blob's "created". Unknown (zero) is not an error.
func (d *discovery) createdOf(ctx context.Context, doc *manifestDoc) (time.Time, error) {
	if t, ok := backend.ParseCreated(doc.Annotations[backend.CreatedAnnotation]); ok {
		return t, nil
	}
	cfg := doc.Config.Digest
	if !ValidDigest(cfg) {
		return time.Time{}, nil
	}
	if !backend.IsImageConfig(doc.Config.MediaType) {
		return time.Time{}, nil // an artifact: its config says nothing about time
	}
	body, err := d.b.getBlob(ctx, cfg, maxConfigBody)
	if err != nil || body == nil {
		return time.Time{}, err
	}
	return backend.ConfigCreated(body), nil
}

// indexTimes reads the creation times of the listed indexes' children (the
// plan takes an index's age from them), and gives each index the newest of
// them when that is newer than its own.
func (d *discovery) indexTimes(ctx context.Context, indexes []string) error {
	if len(indexes) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var children []string
	d.mu.Lock()
	for _, ix := range indexes {
		for _, c := range d.g.Manifests[ix].Children {
			cm := d.g.Manifests[c]
			if !seen[c] && cm.Kind == graph.KindImage && cm.Created.IsZero() {
				seen[c] = true
				children = append(children, c)
			}
		}
	}
	d.mu.Unlock()
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(d.b.opts.Concurrency)
	for _, c := range children {
		eg.Go(func() error {
			doc, err := d.manifest(ectx, c)
			if errors.Is(err, backend.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			t, err := d.createdOf(ectx, doc)
			if err != nil {
				return err
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			d.applyDoc(d.g.Manifest(c), doc)
			if !t.IsZero() {
				d.g.Manifests[c].Created = t
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ix := range indexes {
		m := d.g.Manifests[ix]
		for _, c := range m.Children {
			if t := d.g.Manifests[c].Created; t.After(m.Created) {
				m.Created = t
			}
		}
	}
	return nil
}

// rootTimes reads the creation times inside every image a matching tag
// belongs to. keep-latest ranks whole images, an index at the age of its
// youngest part, so a matching tag on a platform manifest (pr-3 on the
// arm64 child of v1.0) needs the times of v1.0's other children too, though
// no matching tag names v1.0 itself. Unread, the image could not be ranked:
// it was kept and not counted, and an older image that keep-latest lets go
// was kept in its place. Times already read cost nothing.
func (d *discovery) rootTimes(ctx context.Context) error {
	if !d.opts.Created {
		return nil
	}
	d.mu.Lock()
	parents := map[string][]string{}
	for _, dg := range d.g.SortedDigests() {
		if m := d.g.Manifests[dg]; m.Kind != graph.KindReferrer {
			for _, c := range m.Children {
				parents[c] = append(parents[c], dg)
			}
		}
	}
	// Up from each matching manifest to the indexes above it, then down
	// from those to every index inside them (an index of indexes).
	above := map[string]bool{}
	var up func(string)
	up = func(x string) {
		for _, p := range parents[x] {
			if !above[p] {
				above[p] = true
				up(p)
			}
		}
	}
	for _, t := range d.g.SortedTags() {
		if d.match(t) {
			up(d.g.Tags[t])
		}
	}
	inside := map[string]bool{}
	var down func(string)
	down = func(x string) {
		if inside[x] {
			return
		}
		inside[x] = true
		for _, c := range d.g.Manifests[x].Children {
			if cm := d.g.Manifests[c]; cm != nil && cm.Kind == graph.KindIndex {
				down(c)
			}
		}
	}
	for _, ix := range slices.Sorted(maps.Keys(above)) {
		down(ix)
	}
	d.mu.Unlock()
	return d.indexTimes(ctx, slices.Sorted(maps.Keys(inside)))
}

// probeReferrers asks the referrers API about a digest nothing has: a
// registry that implements it answers 200 with an empty index.
func (b *Backend) probeReferrers(ctx context.Context) (bool, error) {
	u := b.url("referrers/sha256:" + strings.Repeat("0", 64))
	resp, err := b.do(ctx, http.MethodGet, u, string(types.OCIImageIndex))
	if err != nil {
		return false, fmt.Errorf("probe referrers API: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return mediaTypeOf(resp.Header.Get("Content-Type")) == string(types.OCIImageIndex), nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return false, classify("probe referrers API", api().Error(resp))
	}
	return false, nil
}

// queryReferrers asks the referrers API about every matching manifest and
// the children of matching indexes, then about the referrers it found (a
// signature on an SBOM refers to the SBOM, not to the image), level by
// level, each digest once.
func (d *discovery) queryReferrers(ctx context.Context) error {
	d.mu.Lock()
	var subjects []string
	ask := func(s string) {
		if !d.queried[s] {
			d.queried[s] = true
			subjects = append(subjects, s)
		}
	}
	for _, tag := range d.g.SortedTags() {
		if !d.match(tag) {
			continue
		}
		dg := d.g.Tags[tag]
		ask(dg)
		for _, c := range d.g.Manifests[dg].Children {
			ask(c)
		}
	}
	d.mu.Unlock()
	for level := 0; len(subjects) > 0; level++ {
		if level == graph.MaxNesting {
			return fmt.Errorf("referrers of referrers nested more than %d deep (%s); refusing to go on, as what refers to them cannot be known", graph.MaxNesting, subjects[0])
		}
		found, err := d.referrersOf(ctx, subjects)
		if err != nil {
			return err
		}
		subjects = subjects[:0]
		d.mu.Lock()
		for _, r := range found {
			ask(r)
		}
		d.mu.Unlock()
	}
	return nil
}

// referrersOf asks the referrers API about each subject, records what it
// answers, and returns the referrers' digests, sorted.
func (d *discovery) referrersOf(ctx context.Context, subjects []string) ([]string, error) {
	sort.Strings(subjects)
	var found []string
	eg, ctx := errgroup.WithContext(ctx)
	eg.SetLimit(d.b.opts.Concurrency)
	for _, s := range subjects {
		eg.Go(func() error {
			descs, err := d.b.referrers(ctx, s)
			if err != nil {
				return err
			}
			d.mu.Lock()
			defer d.mu.Unlock()
			for _, r := range descs {
				d.referrer(r, s)
				found = append(found, r.Digest)
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	sort.Strings(found)
	return found, nil
}

// referrers lists the referrers of one subject, following pagination.
func (b *Backend) referrers(ctx context.Context, subject string) ([]descriptor, error) {
	var out []descriptor
	l := b.listing(b.url("referrers/"+subject), maxReferrerPages, maxManifestBody, string(types.OCIImageIndex))
	l.Fail = func(_ *url.URL, resp *http.Response) error {
		if resp.StatusCode == http.StatusNotFound {
			// No referrers API, or no referrers: what was listed is all.
			resp.Body.Close()
			return nil
		}
		return httpapi.Classify(api().Error(resp), httpapi.Hints{})
	}
	err := httpapi.Walk(ctx, l, func(doc *manifestDoc) (string, error) {
		for _, r := range doc.Manifests {
			if ValidDigest(r.Digest) {
				out = append(out, r)
			}
		}
		return "", nil
	})
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", subject, err)
	}
	return out, nil
}

// ListTags implements backend.Backend: the names only, as a tag's digest
// would cost a request each.
func (b *Backend) ListTags(ctx context.Context) (map[string]string, error) {
	tags, _, err := b.listTags(ctx)
	if err != nil && !errors.Is(err, backend.ErrRepositoryNotFound) {
		// Existing when discovered, the repository was removed since:
		// empty, not an error (distribution answers an emptied
		// repository with an empty list, an unknown one with 404).
		return nil, err
	}
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[t] = ""
	}
	return out, nil
}
