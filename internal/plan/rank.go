package plan

import (
	"fmt"
	"sort"
)

// ranked is how one rule's keep-latest ranked one group of images.
type ranked struct {
	how string // RankVersion, RankCreated or RankPushed
	ref RuleRef
}

// keepLatest keeps the newest n images among the candidates (sorted by tag);
// see rankImages for the order. Tags on referrer manifests are not counted.
// It returns the verdict for every tag it keeps, the verdict for every
// image it keeps (by its root), how it ranked ("" when there was nothing
// to rank) and the candidate tags a version ranking could not read.
func (b *builder) keepLatest(cands []*tagState, n int, from AgeFrom) (map[string]verdict, map[string]verdict, string, []string) {
	byRoot := map[string]*image{}
	var imgs []*image
	var tags []string
	for _, st := range cands { // sorted by tag, so every image's tags are too
		if b.isRef[st.digest] {
			continue
		}
		tags = append(tags, st.tag)
		for _, r := range b.roots(st.digest) {
			im, ok := byRoot[r]
			if !ok {
				im = &image{root: r, index: len(b.man[r].Children) > 0, created: b.age(r, from)}
				byRoot[r] = im
				imgs = append(imgs, im)
			}
			im.tags = append(im.tags, st.tag)
			if r == st.digest {
				im.rootTag = st.tag
			}
		}
	}
	if len(imgs) == 0 {
		return nil, nil, "", nil
	}
	versions := resolveVersions(tags)
	byVersion := len(versions) > 0
	ranking := b.timeRanking(from)
	var ignored []string
	if byVersion {
		ranking = RankVersion
		for _, t := range tags {
			if versions[t] == nil {
				ignored = append(ignored, t)
			}
		}
	}
	for _, im := range imgs {
		for _, t := range im.tags {
			if v := versions[t]; v != nil && (im.version == nil || v.GreaterThan(im.version)) {
				im.version = v
			}
		}
	}
	rankedImgs, unranked := rankImages(imgs, byVersion)
	keep := map[string]verdict{}
	for i, im := range rankedImgs {
		if i >= n {
			break
		}
		keep[im.root] = verdict{RuleKeepLatest, fmt.Sprintf("newest image #%d by %s; keep-latest keeps %d", i+1, ranking, n)}
	}
	for _, im := range unranked {
		if byVersion {
			keep[im.root] = verdict{RuleNotVersion, "keep-latest ranks by version and no tag of its image is one, so it cannot be ranked"}
		} else {
			keep[im.root] = verdict{RuleAgeUnknown, b.ageOf(im.root, from).unknown + ", so keep-latest cannot rank it"}
		}
	}
	out := map[string]verdict{}
	for _, st := range cands {
		if b.isRef[st.digest] {
			continue
		}
		// A tag on a manifest that several images share (a platform
		// manifest in two indexes) is kept when any of them is; a
		// keep-latest verdict wins over an unranked one.
		var v *verdict
		for _, r := range b.roots(st.digest) {
			if kv, ok := keep[r]; ok && (v == nil || kv.rule == RuleKeepLatest) {
				v = &kv
			}
		}
		if v != nil {
			out[st.tag] = *v
		}
	}
	return out, keep, ranking, ignored
}

// keepLatestUntagged keeps the newest n untagged images among untagged
// (sorted digests, none of them tagged): an image is a manifest of the set
// no index lists, with what it lists, so platform manifests pushed before
// their index count as images of their own until it arrives. A manifest
// of the set inside a tagged image is left to the graph rules. Images of
// unknown age are kept and not counted.
func (b *builder) keepLatestUntagged(untagged []string, n int, from AgeFrom) map[string]verdict {
	in := map[string]bool{}
	for _, d := range untagged {
		in[d] = true
	}
	byRoot := map[string]*image{}
	var imgs []*image
	imagesOf := map[string][]string{}
	for _, d := range untagged {
		rs := b.roots(d)
		all := true
		for _, r := range rs {
			all = all && in[r]
		}
		if !all {
			continue
		}
		imagesOf[d] = rs
		for _, r := range rs {
			if _, ok := byRoot[r]; !ok {
				im := &image{root: r, index: len(b.man[r].Children) > 0, created: b.age(r, from)}
				byRoot[r] = im
				imgs = append(imgs, im)
			}
		}
	}
	rankedImgs, unranked := rankImages(imgs, false)
	keep := map[string]verdict{}
	for i, im := range rankedImgs {
		if i >= n {
			break
		}
		keep[im.root] = verdict{RuleKeepLatest, fmt.Sprintf("newest untagged image #%d by %s; keep-latest keeps %d", i+1, b.timeRanking(from), n)}
	}
	for _, im := range unranked {
		keep[im.root] = verdict{RuleAgeUnknown, b.ageOf(im.root, from).unknown + ", so keep-latest cannot rank it"}
	}
	out := map[string]verdict{}
	for _, d := range untagged {
		var v *verdict
		for _, r := range imagesOf[d] {
			if kv, ok := keep[r]; ok && (v == nil || kv.rule == RuleKeepLatest) {
				v = &kv
			}
		}
		if v != nil {
			out[d] = *v
		}
	}
	return out
}

// roots are the images d belongs to: the manifests no index lists that
// list d, directly or through other indexes, or d itself when no index
// lists it. Indexes of referrers (OCI fallback tags) are not images of
// what they list.
func (b *builder) roots(d string) []string {
	seen := map[string]bool{d: true}
	var out []string
	var walk func(x string)
	walk = func(x string) {
		top := true
		for _, p := range b.parents[x] {
			if b.isRef[p] {
				continue
			}
			top = false
			if !seen[p] {
				seen[p] = true
				walk(p)
			}
		}
		if top {
			out = append(out, x)
		}
	}
	walk(d)
	if len(out) == 0 { // a cycle with no way out: d stands alone
		out = []string{d}
	}
	sort.Strings(out)
	return out
}
