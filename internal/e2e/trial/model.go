package trial

import (
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The model: an independent reading of issue 4's rules and internal/plan's
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

	// What exists: tag targets and the children of pushed indexes.
	byDigest := map[string]*obj{}
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
		if o.Kind == kSig {
			subjectOf[d] = o.Subject
			referrers[o.Subject] = append(referrers[o.Subject], d)
		}
	}
	// age: an image's created time; an index's is the newest of its children's.
	age := func(d string) time.Time {
		o := byDigest[d]
		t := o.Created
		for _, c := range o.Children {
			if ct := l.Objs[c].Created; ct.After(t) {
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
	survivor := map[string]bool{} // non-referrer tags every rule lets go
	var cands []string
	for t := range out.Before {
		if !referrerTag.MatchString(t) && include(t) && !exclude(t) {
			survivor[t] = true
			cands = append(cands, t)
		}
	}
	sort.Strings(cands)
	if p.KeepLatest > 0 {
		type img struct {
			digest  string
			tags    []string
			ver     version
			created time.Time
		}
		semver := true
		imgs := map[string]*img{}
		for _, t := range cands {
			d := out.Before[t]
			im := imgs[d]
			if im == nil {
				im = &img{digest: d, created: age(d)}
				imgs[d] = im
			}
			im.tags = append(im.tags, t)
			if _, ok := parseVer(t); !ok {
				semver = false
			}
		}
		// An image ranks by the highest version among its candidate tags.
		for _, im := range imgs {
			first := true
			for _, t := range im.tags {
				if v, ok := parseVer(t); ok && (first || cmpVer(v, im.ver) > 0) {
					im.ver, first = v, false
				}
			}
		}
		var ranked []*img
		keep := map[string]bool{}
		for _, im := range imgs {
			if !semver && im.created.IsZero() {
				keep[im.digest] = true // cannot be ranked: kept, not counted
				continue
			}
			ranked = append(ranked, im)
		}
		sort.Slice(ranked, func(i, j int) bool {
			a, b := ranked[i], ranked[j]
			if semver {
				if c := cmpVer(a.ver, b.ver); c != 0 {
					return c > 0
				}
			}
			if !a.created.Equal(b.created) {
				return a.created.After(b.created)
			}
			if at, bt := a.tags[len(a.tags)-1], b.tags[len(b.tags)-1]; at != bt {
				return at > bt
			}
			return a.digest > b.digest
		})
		for i := 0; i < len(ranked) && i < p.KeepLatest; i++ {
			keep[ranked[i].digest] = true
		}
		for _, t := range cands {
			if keep[out.Before[t]] {
				survivor[t] = false
			}
		}
	}
	if p.olderThan > 0 {
		cut := now.Add(-p.olderThan)
		for _, t := range cands {
			if a := age(out.Before[t]); a.IsZero() || !a.Before(cut) {
				survivor[t] = false
			}
		}
	}

	// 2. Manifests: the greatest set of deletions no rule objects to.
	isRef := func(d string) bool { return byDigest[d].Kind == kSig }
	staticKeep := func(d string) bool {
		for _, t := range tagsOn[d] {
			if referrerTag.MatchString(t) {
				if exclude(t) && p.DeleteReferrers {
					return true // an excluded signature stays (and keeps its subject)
				}
				continue
			}
			if !survivor[t] {
				return true // a kept tag keeps its manifest
			}
		}
		return isRef(d) && !p.DeleteReferrers
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
			if !justified(d, del, tagsOn, parents, subjectOf, out.Present, p) || blocked(d, del, parents, referrers, subjectOf, out.Present, p) {
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

// justified: the policy asks for d, or it goes with a deleted index or a
// deleted subject, or it is an orphan signature.
func justified(d string, del map[string]bool, tagsOn, parents map[string][]string, subjectOf map[string]string, present map[string]bool, p policy) bool {
	if s, ok := subjectOf[d]; ok {
		if !present[s] {
			return true // orphan (delete-referrers is on, or it is kept statically)
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
