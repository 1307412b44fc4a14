package trial

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// now is the fixed clock of every trial; created times lie before it.
var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// objKind is what a layout object is in the registry.
type objKind int

const (
	kImage    objKind = iota // single-platform image
	kPlatform                // per-platform image, a child of indexes
	kIndex                   // multi-arch index over platform objects
	kSig                     // cosign-style signature (tag sha256-<hex>.sig)
	kRef                     // SBOM naming its subject in its subject field only
	kFallback                // OCI referrers fallback index (tag sha256-<hex>)
)

func (k objKind) String() string {
	return [...]string{"image", "platform", "index", "signature", "sbom", "fallback-index"}[k]
}

// isRef: the object refers to a subject (Subject is set).
func (k objKind) isRef() bool { return k == kSig || k == kRef || k == kFallback }

// obj is one manifest of a layout. Its digest is computed locally: the seed
// images are deterministic.
type obj struct {
	Kind     objKind
	ID       string
	Created  time.Time // zero: unknown age
	Arch     string    // kPlatform
	Children []int     // kIndex: indexes into layout.Objs
	Subject  string    // kSig: subject digest (may name nothing: an orphan)
	// Names is the repository a kSig's payload names for its subject
	// (cosign's docker-reference); "" for none. Another repository's name
	// is a signature stored apart from its image (COSIGN_REPOSITORY).
	Names string
	// Untagged: pushed by digest only (an image whose tag moved on), so it
	// exists without a tag.
	Untagged bool
	Digest   string

	img v1.Image
	idx v1.ImageIndex
}

// layout is one random repository.
type layout struct {
	Repo string // host/path it is pushed to
	Objs []*obj
	Tags map[string]int // tag -> object
}

// policy is one random set of inputs, kept structured for the model.
type policy struct {
	Tags            []string
	Exclude         []string
	Regex           bool
	KeepLatest      int
	OlderThan       string
	olderThan       time.Duration
	DeleteReferrers bool
	DryRun          bool
	Untagged        bool
	// Rules, when set, are a rule set given as the policy input instead
	// of the inputs above; Keep is its keep list.
	Rules []rule
	Keep  []string
}

func (p policy) inputs(repo string) map[string]string {
	if len(p.Rules) > 0 {
		return map[string]string{
			"repository":       repo,
			"policy":           p.policyYAML(),
			"delete-referrers": strconv.FormatBool(p.DeleteReferrers),
			"dry-run":          strconv.FormatBool(p.DryRun),
		}
	}
	sep := ","
	if p.Regex {
		sep = "\n" // commas belong to the expression
	}
	return map[string]string{
		"repository":       repo,
		"tags":             strings.Join(p.Tags, sep),
		"exclude-tags":     strings.Join(p.Exclude, sep),
		"use-regex":        strconv.FormatBool(p.Regex),
		"keep-latest":      strconv.Itoa(p.KeepLatest),
		"older-than":       p.OlderThan,
		"delete-referrers": strconv.FormatBool(p.DeleteReferrers),
		"dry-run":          strconv.FormatBool(p.DryRun),
		"untagged":         strconv.FormatBool(p.Untagged),
	}
}

func (p policy) String() string {
	if len(p.Rules) > 0 {
		return fmt.Sprintf("rules=%v keep=%q delete-referrers=%v dry-run=%v", p.Rules, p.Keep, p.DeleteReferrers, p.DryRun)
	}
	return fmt.Sprintf("tags=%q exclude-tags=%q use-regex=%v keep-latest=%d older-than=%q delete-referrers=%v dry-run=%v untagged=%v",
		p.Tags, p.Exclude, p.Regex, p.KeepLatest, p.OlderThan, p.DeleteReferrers, p.DryRun, p.Untagged)
}

// String prints the layout as a minimal repro: every tag with what it names,
// then the untagged children and the orphans' subjects.
func (l *layout) String() string {
	var b strings.Builder
	byObj := map[int][]string{}
	for t, i := range l.Tags {
		byObj[i] = append(byObj[i], t)
	}
	for i, o := range l.Objs {
		tags := byObj[i]
		sort.Strings(tags)
		fmt.Fprintf(&b, "  #%d %s id=%s digest=%s tags=%v", i, o.Kind, o.ID, short(o.Digest), tags)
		switch o.Kind {
		case kImage, kPlatform:
			if o.Created.IsZero() {
				b.WriteString(" created=unknown")
			} else {
				fmt.Fprintf(&b, " created=%s", o.Created.Format(time.DateOnly))
			}
		case kIndex:
			fmt.Fprintf(&b, " children=%v", o.Children)
		case kSig, kRef, kFallback:
			fmt.Fprintf(&b, " subject=%s names=%q", short(o.Subject), o.Names)
		}
		if o.Untagged {
			b.WriteString(" pushed-untagged")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// generate builds a random layout and policy. Repositories are small (5-30
// tags) so that hundreds of trials stay fast, but dense in the cases that
// break cleanup tools: shared digests, indexes sharing children, tags on
// children, signatures of kept and deleted images, orphans, equal times.
func generate(r *rand.Rand, repo string) (*layout, policy) {
	l := &layout{Repo: repo, Tags: map[string]int{}}
	add := func(o *obj) int {
		l.Objs = append(l.Objs, o)
		return len(l.Objs) - 1
	}
	created := func() time.Time {
		if r.IntN(12) == 0 {
			return time.Time{} // unknown age
		}
		// Every tenth day over ~13 months at midnight like now: equal times
		// (keep-latest ties) and times exactly at the older-than cut happen.
		return now.AddDate(0, 0, -10*r.IntN(40))
	}
	semverRepo := r.IntN(3) == 0

	var taggable []int
	for i := range 2 + r.IntN(10) {
		o := &obj{Kind: kImage, ID: fmt.Sprintf("img-%d", i), Created: created()}
		o.img = seed.Image(o.ID, o.Created)
		taggable = append(taggable, add(o))
	}
	var plats []int
	if r.IntN(3) != 0 {
		arches := []string{"amd64", "arm64", "s390x", "ppc64le", "riscv64"}
		for i := range 2 + r.IntN(3) {
			o := &obj{Kind: kPlatform, ID: fmt.Sprintf("plat-%d", i), Created: created(), Arch: arches[i]}
			o.img = seed.ImagePlatform(o.ID, o.Created, "linux", o.Arch)
			plats = append(plats, add(o))
		}
		seen := map[string]bool{}
		for range 1 + r.IntN(4) {
			a, b := plats[r.IntN(len(plats))], plats[r.IntN(len(plats))]
			if a == b {
				continue
			}
			if a > b {
				a, b = b, a
			}
			key := fmt.Sprint(a, b)
			if seen[key] {
				continue
			}
			seen[key] = true
			o := &obj{Kind: kIndex, ID: "index-" + key, Children: []int{a, b}}
			o.idx = seed.Index(l.Objs[a].img, l.Objs[b].img)
			i := add(o)
			taggable = append(taggable, i, i, i) // indexes draw tags as often as 3 images
		}
		for _, p := range plats {
			if r.IntN(8) == 0 {
				taggable = append(taggable, p) // a child with a tag of its own
			}
		}
	}

	nTags := 5 + r.IntN(20)
	used := map[string]bool{}
	for len(l.Tags) < nTags {
		t := tagName(r, semverRepo)
		if used[t] {
			if len(used) > 200 {
				break
			}
			used[t] = true
			continue
		}
		used[t] = true
		l.Tags[t] = taggable[r.IntN(len(taggable))]
	}
	// Make every image a real one: an object exists only when something
	// pushes it (a tag, or an index listing it).
	for _, o := range l.Objs {
		switch {
		case o.img != nil:
			o.Digest = digestOf(o.img.Digest())
		case o.idx != nil:
			o.Digest = digestOf(o.idx.Digest())
		}
	}
	// Signatures of some tagged objects, and a few orphans.
	// Tags in sorted order wherever a draw is made per tag: map order
	// would give one seed a different layout on every run.
	signed := map[int]bool{}
	for _, t := range l.sortedTags() {
		if i := l.Tags[t]; !signed[i] && r.IntN(3) == 0 {
			signed[i] = true
		}
	}
	for _, i := range sortedInts(signed) {
		addSig(l, add, l.Objs[i].Digest, r.IntN(3) == 0, l.names(r))
	}
	if r.IntN(3) == 0 {
		// Signatures whose subject is not here: a proven orphan only when
		// it names this repository; one naming another repository or none
		// may sign an image stored elsewhere.
		for j := range 1 + r.IntN(3) {
			ghost := digestOf(seed.Image(fmt.Sprintf("ghost-%d", j), now).Digest())
			addSig(l, add, ghost, false, l.names(r))
		}
	}
	// SBOMs found only through their subject field, by their own tag, a
	// fallback index, or both: at most one per subject, as a fallback tag
	// names one index per subject.
	sbomFor := map[int]bool{}
	for _, t := range l.sortedTags() {
		if i := l.Tags[t]; !l.Objs[i].Kind.isRef() && !sbomFor[i] && r.IntN(4) == 0 {
			sbomFor[i] = true
		}
	}
	for n, i := range sortedInts(sbomFor) {
		addSubjectReferrer(r, l, add, l.Objs[i], n, created())
	}
	if r.IntN(4) == 0 {
		// An image that exists untagged (its tag moved on), signed: its
		// signature is no orphan.
		o := &obj{Kind: kImage, ID: "untagged", Created: created(), Untagged: true}
		o.img = seed.Image(o.ID, o.Created)
		o.Digest = digestOf(o.img.Digest())
		add(o)
		addSig(l, add, o.Digest, false, l.names(r))
	}
	return l, randomPolicy(r, semverRepo)
}

func (l *layout) sortedTags() []string {
	return slices.Sorted(maps.Keys(l.Tags))
}

// names draws the repository a signature's payload names: mostly this one,
// sometimes another (COSIGN_REPOSITORY) or none.
func (l *layout) names(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return ""
	case 1:
		return l.Repo + "-images"
	}
	return l.Repo
}

// addSig adds a cosign-style signature of subject naming repository names
// and, with att, an attestation under cosign's .att tag.
func addSig(l *layout, add func(*obj) int, subject string, att bool, names string) {
	h, err := v1.NewHash(subject)
	if err != nil {
		panic(err)
	}
	o := &obj{Kind: kSig, ID: "sig", Subject: subject, Names: names, img: seed.Signature(h)}
	if names != "" {
		o.img = seed.SignatureFor(names, h)
	}
	o.Digest = digestOf(o.img.Digest())
	l.Tags[seed.SignatureTag(h)] = add(o)
	if att {
		a := &obj{Kind: kSig, ID: "att", Subject: subject, img: seed.Image("attestation "+h.Hex, time.Time{})}
		a.Digest = digestOf(a.img.Digest())
		l.Tags[fmt.Sprintf("%s-%s.att", h.Algorithm, h.Hex)] = add(a)
	}
}

func digestOf(h v1.Hash, err error) string {
	if err != nil {
		panic(err) // seed images are static
	}
	return h.String()
}

func sortedInts(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// tagName draws a tag: mostly versions in a semver repository, else a mix
// of PR previews, versions, branch and feature names.
func tagName(r *rand.Rand, semverRepo bool) string {
	version := func() string {
		prefix := []string{"v", "v", ""}[r.IntN(3)]
		core := fmt.Sprintf("%d.%d.%d", r.IntN(3), r.IntN(4), r.IntN(4))
		if r.IntN(6) == 0 {
			core = fmt.Sprintf("%d.%d", r.IntN(3), r.IntN(4))
		}
		pre := ""
		switch r.IntN(6) {
		case 0:
			pre = fmt.Sprintf("-rc.%d", 1+r.IntN(3))
		case 1:
			pre = []string{"-alpha", "-beta", "-beta.2", "-rc.10"}[r.IntN(4)]
		}
		return prefix + core + pre
	}
	if semverRepo && r.IntN(6) != 0 {
		return version()
	}
	switch r.IntN(8) {
	case 0, 1, 2:
		return fmt.Sprintf("pr-%d", 1+r.IntN(30))
	case 3, 4:
		return version()
	case 5:
		return []string{"latest", "main", "stable", "edge", "nightly"}[r.IntN(5)]
	case 6:
		return "feature-" + []string{"login", "search", "cache", "api", "ui-v2"}[r.IntN(5)]
	default:
		return fmt.Sprintf("sha-%07x", r.IntN(1<<28))
	}
}

// randomPolicy draws inputs. tags is left empty only when keep-latest or
// older-than is set (every tag is then a candidate), as settings require.
func randomPolicy(r *rand.Rand, semverRepo bool) policy {
	p := policy{Regex: r.IntN(10) < 3, DeleteReferrers: r.IntN(10) < 7, DryRun: r.IntN(5) == 0, Untagged: r.IntN(10) == 0}
	globs := [][2]string{
		{"pr-*", `pr-\d+`},
		{"v*", `v.*`},
		{"feature-*", `feature-.*`},
		{"*", `.*`},
		{"v1.*", `v1\..*`},
		{"pr-1?", `pr-1\d`},
		{"[0-9]*", `[0-9].*`},
		{"sha-*", `sha-[0-9a-f]+`},
		{"*.*.*", `[^.]+\.[^.]+\..*`},
		{"latest", `latest`},
	}
	excludes := [][2]string{
		{"latest", `latest`},
		{"v1.*", `v1\..*`},
		{"pr-1*", `pr-1.*`},
		{"*.sig", `.*\.sig`},
		{"stable", `stable|main`},
		{"*-rc.*", `.*-rc\..*`},
	}
	pick := func(g [2]string) string {
		if p.Regex {
			return g[1]
		}
		return g[0]
	}
	if r.IntN(3) == 0 {
		p.KeepLatest = 1 + r.IntN(4)
	}
	if semverRepo && r.IntN(2) == 0 {
		p.KeepLatest = 1 + r.IntN(5)
	}
	if r.IntN(5) < 2 {
		p.OlderThan = []string{"30d", "90d", "2w", "180d", "36h", "365d"}[r.IntN(6)]
	}
	if d, err := parseAge(p.OlderThan); err == nil {
		p.olderThan = d
	} else {
		panic(err)
	}
	if p.KeepLatest == 0 && p.OlderThan == "" || r.IntN(6) != 0 {
		for range 1 + r.IntN(2) {
			p.Tags = append(p.Tags, pick(globs[r.IntN(len(globs))]))
		}
		if semverRepo && r.IntN(2) == 0 {
			p.Tags = []string{pick(globs[1])} // v*: every candidate a version (mostly)
		}
	}
	if r.IntN(10) < 3 {
		p.Exclude = append(p.Exclude, pick(excludes[r.IntN(len(excludes))]))
	}
	return p
}

// parseAge reads the few durations the trial uses ("30d", "2w", "36h").
func parseAge(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil {
		return 0, err
	}
	switch s[len(s)-1] {
	case 'h':
		return time.Duration(n) * time.Hour, nil
	case 'd':
		return time.Duration(n) * 24 * time.Hour, nil
	case 'w':
		return time.Duration(n) * 7 * 24 * time.Hour, nil
	}
	return 0, fmt.Errorf("bad age %q", s)
}

// push writes the layout: each image's blobs once, each platform child by
// digest before its indexes, then every tag in sorted order.
func (l *layout) push(ctx context.Context, u *uploader) error {
	done := map[int]bool{}
	for i, o := range l.Objs {
		if o.Kind != kIndex {
			continue
		}
		used := false
		for _, j := range l.Tags {
			used = used || j == i
		}
		if !used {
			continue
		}
		for _, c := range o.Children {
			if !done[c] {
				if err := u.image(ctx, l.Objs[c].Digest, l.Objs[c].img); err != nil {
					return err
				}
				done[c] = true
			}
		}
	}
	for _, o := range l.Objs {
		if o.Untagged {
			if err := u.image(ctx, o.Digest, o.img); err != nil {
				return err
			}
		}
	}
	for _, t := range l.sortedTags() {
		i := l.Tags[t]
		o := l.Objs[i]
		var err error
		switch {
		case o.idx != nil:
			err = u.manifest(ctx, t, o.idx)
		case done[i]:
			err = u.manifest(ctx, t, o.img) // blobs are there already
		default:
			err = u.image(ctx, t, o.img)
		}
		if err != nil {
			return fmt.Errorf("push %s: %w", t, err)
		}
		done[i] = true
	}
	return nil
}
