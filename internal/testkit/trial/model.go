package trial

import (
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The model: an independent reading of the README's retention rules and internal/plan's
// documented tie-breaks (Build and rankImages doc comments), written
// without calling internal/plan. It computes the deletion set as a GREATEST
// FIXPOINT (start from everything deletable, strike what a rule protects,
// repeat), where plan grows a set from seeds: two routes to one answer.

// outcome is what a run must do to a layout.
type outcome struct {
	Deleted     map[string]bool   // manifests deleted
	RemovedTags map[string]bool   // tags gone (with their manifest, or untagged)
	KeptMatch   map[string]bool   // non-referrer tags matching `tags` that stay
	CannotUntag map[string]bool   // of KeptMatch: let go by every rule, but the registry cannot untag
	Before      map[string]string // tag -> digest before the run
	Present     map[string]bool   // every manifest that exists before the run
}

var referrerTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}(\.sig|\.att|\.sbom)?$`)

// matcher is the model's own pattern matching: path.Match for globs (tags
// hold no '/'), an anchored RE2 for regexes.
func matcher(patterns []string, regex bool) func(string) bool {
	res := make([]*regexp.Regexp, len(patterns))
	if regex {
		for i, p := range patterns {
			res[i] = regexp.MustCompile(`^(?:` + p + `)$`)
		}
	}
	return func(tag string) bool {
		for i, p := range patterns {
			if regex {
				if res[i].MatchString(tag) {
					return true
				}
			} else if ok, err := path.Match(p, tag); err == nil && ok {
				return true
			}
		}
		return false
	}
}

// version is a parsed semantic version: v/V prefix optional, `1.2` counts as
// `1.2.0`, a bare number is not a version.
type version struct {
	core [3]int
	pre  []string
}

func parseVer(tag string) (version, bool) {
	s := strings.TrimPrefix(strings.TrimPrefix(tag, "v"), "V")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	var v version
	core, pre, hasPre := strings.Cut(s, "-")
	parts := strings.Split(core, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p == "" || (len(p) > 1 && p[0] == '0') || strings.ContainsAny(p, "+-") {
			return v, false
		}
		v.core[i] = n
	}
	if hasPre {
		if pre == "" {
			return v, false
		}
		v.pre = strings.Split(pre, ".")
	}
	return v, true
}

// cmpVer compares by semver precedence: core, then a pre-release sorts
// before its release, identifiers compared numerically when numeric.
func cmpVer(a, b version) int {
	for i := range 3 {
		if a.core[i] != b.core[i] {
			return cmpInt(a.core[i], b.core[i])
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		xn, xerr := strconv.Atoi(x)
		yn, yerr := strconv.Atoi(y)
		switch {
		case xerr == nil && yerr == nil:
			if xn != yn {
				return cmpInt(xn, yn)
			}
		case xerr == nil:
			return -1 // numeric identifiers sort first
		case yerr == nil:
			return 1
		case x != y:
			return strings.Compare(x, y)
		}
	}
	return cmpInt(len(a.pre), len(b.pre))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// model computes the expected outcome of policy p on layout l at `now` on
// a registry that can (canUntag) or cannot remove a tag alone.
func model(l *layout, p policy, canUntag bool) outcome {
	out := outcome{Deleted: map[string]bool{}, RemovedTags: map[string]bool{}, KeptMatch: map[string]bool{}, CannotUntag: map[string]bool{},
		Before: map[string]string{}, Present: map[string]bool{}}

	// What exists: tag targets, the children of pushed indexes and what was
	// pushed untagged.
	byDigest := map[string]*obj{}
	for _, o := range l.Objs {
		if o.Untagged {
			out.Present[o.Digest] = true
			byDigest[o.Digest] = o
		}
	}
	for t, i := range l.Tags {
		o := l.Objs[i]
		out.Before[t] = o.Digest
		out.Present[o.Digest] = true
		byDigest[o.Digest] = o
		for _, c := range o.Children {
			out.Present[l.Objs[c].Digest] = true
			byDigest[l.Objs[c].Digest] = l.Objs[c]
		}
	}
	tagsOn := map[string][]string{}
	for t, d := range out.Before {
		tagsOn[d] = append(tagsOn[d], t)
	}
	for _, ts := range tagsOn {
		sort.Strings(ts)
	}
	parents := map[string][]string{}   // child -> indexes listing it
	referrers := map[string][]string{} // subject -> referrers
	subjectOf := map[string]string{}   // referrer -> subject
	for d, o := range byDigest {
		for _, c := range o.Children {
			parents[l.Objs[c].Digest] = append(parents[l.Objs[c].Digest], d)
		}
		if o.Kind.isRef() {
			subjectOf[d] = o.Subject
			referrers[o.Subject] = append(referrers[o.Subject], d)
		}
	}
	isRef := func(d string) bool { return byDigest[d].Kind.isRef() }
	// age: an image's created time, unknown (zero) before 2013 or more than
	// a day ahead; an index's is the newest of its children's, unknown when
	// one child's is.
	plausible := func(t time.Time) time.Time {
		if t.Year() < 2013 || t.After(now.Add(24*time.Hour)) {
			return time.Time{}
		}
		return t
	}
	age := func(d string) time.Time {
		o := byDigest[d]
		if len(o.Children) == 0 {
			return plausible(o.Created)
		}
		var t time.Time
		for _, c := range o.Children {
			ct := plausible(l.Objs[c].Created)
			if ct.IsZero() {
				return time.Time{}
			}
			if ct.After(t) {
				t = ct
			}
		}
		return t
	}

	// 1. Tag policy: include, exclude, keep-latest, older-than.
	include := matcher(p.Tags, p.Regex)
	if len(p.Tags) == 0 {
		include = func(string) bool { return true }
	}
	exclude := matcher(p.Exclude, p.Regex)
	// protect-latest (on by default): latest stays unless a pattern is
	// exactly "latest".
	namesLatest := false
	for _, t := range p.Tags {
		namesLatest = namesLatest || t == "latest"
	}
	survivor := map[string]bool{} // non-referrer tags every rule lets go
	var cands []string
	for t := range out.Before {
		if !referrerTag.MatchString(t) && include(t) && !exclude(t) && (t != "latest" || namesLatest) {
			survivor[t] = true
			cands = append(cands, t)
		}
	}
	sort.Strings(cands)
	if p.KeepLatest > 0 {
		keepLatest(p.KeepLatest, cands, out.Before, byDigest, parents, age, survivor)
	}
	if p.olderThan > 0 {
		cut := now.Add(-p.olderThan)
		for _, t := range cands {
			if a := age(out.Before[t]); a.IsZero() || !a.Before(cut) {
				survivor[t] = false
			}
		}
	}
	protected := exclude // a referrer tag an exclude pattern (or keep) protects
	keepDigest := map[string]bool{}
	if len(p.Rules) > 0 {
		survivor, include, protected, keepDigest = ruleSetTags(p, out.Before, byDigest, parents, age)
	}

	// 2. Manifests: the greatest set of deletions no rule objects to.
	staticKeep := func(d string) bool {
		for _, t := range tagsOn[d] {
			if referrerTag.MatchString(t) {
				if protected(t) && p.DeleteReferrers {
					return true // an excluded signature stays (and keeps its subject)
				}
				continue
			}
			if !survivor[t] {
				return true // a kept tag keeps its manifest
			}
		}
		return keepDigest[d] || isRef(d) && !p.DeleteReferrers
	}
	// An orphan is proven: its subject is not here, and it names this
	// repository (one naming another, or none, may sign an image elsewhere).
	orphan := func(d string) bool {
		return !out.Present[subjectOf[d]] && byDigest[d].Names == l.Repo
	}
	del := map[string]bool{}
	for d := range out.Present {
		if !staticKeep(d) {
			del[d] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for d := range del {
			if !justified(d, del, tagsOn, parents, subjectOf, out.Present, p, orphan) || blocked(d, del, parents, referrers, subjectOf, out.Present, p) {
				delete(del, d)
				changed = true
			}
		}
	}
	out.Deleted = del

	// A tag goes with its deleted manifest. A survivor on a kept manifest
	// loses only its name where the registry can untag; where it cannot
	// (2.8 refuses DELETE by tag), deleting the manifest would take the kept
	// tags or the kept image with it, so the tag stays.
	for t, d := range out.Before {
		switch {
		case del[d] || survivor[t] && canUntag:
			out.RemovedTags[t] = true
		case survivor[t]:
			out.KeptMatch[t] = true
			out.CannotUntag[t] = true
		case include(t) && !referrerTag.MatchString(t):
			out.KeptMatch[t] = true
		}
	}
	return out
}

// keepLatest: keep-latest counts images (a manifest no index lists, with
// the children it lists), ranks them by the highest version among their
// candidate tags when any candidate is a version (`1.2` as the newest
// release of its line), else by age; ties go to the newer image, then an
// index, then the greater candidate tag on the root, then the greater root
// digest. Images that cannot be ranked are kept and not counted. It clears
// survivor for every tag it keeps.
func keepLatest(n int, cands []string, before map[string]string, byDigest map[string]*obj, parents map[string][]string, age func(string) time.Time, survivor map[string]bool) {
	type img struct {
		root    string
		index   bool
		rootTag string
		ver     *version
		created time.Time
	}
	vers := resolveVersions(cands)
	imgs := map[string]*img{}
	imagesOf := map[string][]*img{}
	for _, t := range cands {
		d := before[t]
		if byDigest[d].Kind.isRef() {
			continue // a referrer's tags are not ranked: it follows its subject
		}
		roots := parents[d]
		if len(roots) == 0 {
			roots = []string{d}
		}
		for _, r := range roots {
			im := imgs[r]
			if im == nil {
				im = &img{root: r, index: len(byDigest[r].Children) > 0, created: age(r)}
				imgs[r] = im
			}
			if r == d && t > im.rootTag {
				im.rootTag = t
			}
			if v, ok := vers[t]; ok && (im.ver == nil || cmpVer(v, *im.ver) > 0) {
				im.ver = &v
			}
			imagesOf[t] = append(imagesOf[t], im)
		}
	}
	byVersion := len(vers) > 0
	rankable := func(im *img) bool {
		if byVersion {
			return im.ver != nil
		}
		return !im.created.IsZero()
	}
	ahead := func(a, b *img) bool {
		if byVersion {
			if c := cmpVer(*a.ver, *b.ver); c != 0 {
				return c > 0
			}
		}
		switch {
		case !a.created.Equal(b.created):
			return a.created.After(b.created)
		case a.index != b.index:
			return a.index
		case a.rootTag != b.rootTag:
			return a.rootTag > b.rootTag
		}
		return a.root > b.root
	}
	keep := map[*img]bool{}
	for _, im := range imgs {
		if !rankable(im) {
			keep[im] = true
			continue
		}
		k := 0
		for _, o := range imgs {
			if o != im && rankable(o) && ahead(o, im) {
				k++
			}
		}
		keep[im] = k < n
	}
	for t, ims := range imagesOf {
		for _, im := range ims {
			if keep[im] {
				survivor[t] = false
			}
		}
	}
}

// resolveVersions reads candidate tags as versions: `1.2.3` and `1.2-rc.1`
// (as 1.2.0-rc.1) as they are; `1.2` as the newest release (no pre-release)
// of 1.2.x among the tags, else 1.2.0.
func resolveVersions(tags []string) map[string]version {
	out := map[string]version{}
	var releases []version
	var partial []string
	for _, t := range tags {
		v, ok := parseVer(t)
		if !ok {
			continue
		}
		core, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(t, "v"), "V"), "-")
		if strings.Count(core, ".") == 1 && len(v.pre) == 0 && !strings.Contains(t, "+") {
			partial = append(partial, t)
			out[t] = v
			continue
		}
		out[t] = v
		if len(v.pre) == 0 {
			releases = append(releases, v)
		}
	}
	for _, t := range partial {
		best := out[t]
		for _, r := range releases {
			if r.core[0] == best.core[0] && r.core[1] == best.core[1] && cmpVer(r, best) > 0 {
				best = r
			}
		}
		out[t] = best
	}
	return out
}

// justified: the policy asks for d, or it goes with a deleted index or a
// deleted subject, or it is an orphan signature.
func justified(d string, del map[string]bool, tagsOn, parents map[string][]string, subjectOf map[string]string, present map[string]bool, p policy, orphan func(string) bool) bool {
	if s, ok := subjectOf[d]; ok {
		if orphan(d) {
			return true // proven orphan (delete-referrers is on, or it is kept statically)
		}
		if del[s] && p.DeleteReferrers {
			return true
		}
	} else if len(tagsOn[d]) > 0 {
		return true // every tag on it survived: staticKeep passed
	}
	for _, par := range parents[d] {
		if del[par] {
			return true
		}
	}
	return false
}

// blocked: something kept still needs d.
func blocked(d string, del map[string]bool, parents, referrers map[string][]string, subjectOf map[string]string, present map[string]bool, p policy) bool {
	for _, par := range parents[d] {
		if !del[par] {
			return true // a child of a kept index
		}
	}
	if s, ok := subjectOf[d]; ok && present[s] && !del[s] {
		return true // a signature of a kept image
	}
	if p.DeleteReferrers {
		for _, r := range referrers[d] {
			if !del[r] {
				return true // a kept signature keeps its subject
			}
		}
	}
	return false
}
