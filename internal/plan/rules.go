package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/regsweep/regsweep/internal/graph"
)

// ruleSpec is a retention rule as one Build applies it.
type ruleSpec struct {
	RetentionRule
	ref RuleRef
	// rankUntagged: keep-latest also keeps the newest untagged images.
	// Only in rule sets: the keep-latest input leaves untagged manifests
	// to older-than, as it always has.
	rankUntagged bool
}

// ruleSpecs are the rules that apply to this repository, in policy order.
func (b *builder) ruleSpecs() []ruleSpec {
	if len(b.p.Rules) == 0 {
		return []ruleSpec{{RetentionRule: b.p.retention()[0]}}
	}
	var out []ruleSpec
	for i, r := range b.p.Rules {
		if r.Repositories != nil && !repositoryMatch(r.Repositories, b.g.Repository) {
			continue
		}
		out = append(out, ruleSpec{RetentionRule: r, ref: RuleRef{RuleIndex: i + 1, RuleName: r.Name}, rankUntagged: true})
	}
	return out
}

// repositoryMatch matches a repository's whole name (host/path) or its path.
func repositoryMatch(m Matcher, repo string) bool {
	if m.Match(repo) {
		return true
	}
	_, path, ok := strings.Cut(repo, "/")
	return ok && m.Match(path)
}

// prefix names the rule at the start of a warning, "" for the inputs.
func (r ruleSpec) prefix() string {
	if by := r.ref.By(); by != "" {
		return by + ": "
	}
	return ""
}

// coversUntagged: some rule here covers untagged manifests.
func (b *builder) coversUntagged() bool {
	for _, r := range b.rules {
		if r.Untagged {
			return true
		}
	}
	return false
}

// ruleTags is one rule's reading of the tags: the ones it covers, and a
// keep verdict for each covered tag it would keep.
type ruleTags struct {
	covers map[string]bool
	keep   map[string]verdict
}

// decideTags applies every rule (patterns, protect-latest, keep-latest,
// older-than) and the policy's keep to the tags.
func (b *builder) decideTags() {
	names := make([]string, 0, len(b.g.Tags))
	for t, d := range b.g.Tags {
		st := &tagState{tag: t, digest: d}
		_, st.refName = graph.ParseReferrerTag(t)
		b.tags[t] = st
		names = append(names, t)
	}
	sort.Strings(names)
	views := make([]ruleTags, len(b.rules))
	excluded := map[string]bool{} // some rule's tags matched it, and its exclude-tags took it out
	for i, r := range b.rules {
		v := ruleTags{covers: map[string]bool{}, keep: map[string]verdict{}}
		var cands []*tagState
		for _, t := range names {
			st := b.tags[t]
			inc := matches(r.Include, t)
			st.matched = st.matched || inc
			if matches(r.Exclude, t) {
				excluded[t] = excluded[t] || inc || st.refName
				continue
			}
			if !inc || st.refName {
				continue
			}
			v.covers[t] = true
			if b.p.ProtectLatest && t == "latest" && !literal(r.Include, t) {
				v.keep[t] = verdict{RuleProtectLatest, "latest is kept unless a tags pattern names it (protect-latest)"}
				continue
			}
			cands = append(cands, st)
		}
		if r.KeepLatest > 0 {
			b.keepLatestGroups(r, cands, v.keep)
		}
		for _, st := range cands {
			if _, kept := v.keep[st.tag]; kept {
				continue
			}
			if av := b.timeVerdict(st.digest, r.RetentionRule); av != nil {
				v.keep[st.tag] = *av
			}
		}
		views[i] = v
	}
	for _, t := range names {
		st := b.tags[t]
		if st.refName {
			// Referrers follow their subject; an exclude pattern or keep
			// still protects them.
			switch {
			case b.keptByPolicy(st):
				st.protected, st.rule, st.reason = true, RuleKeep, "the policy's keep names it"
			case excluded[t]:
				st.protected, st.rule, st.reason = true, RuleExcluded, "matches exclude-tags"
			}
			continue
		}
		if b.keptByPolicy(st) {
			st.rule, st.reason = RuleKeep, "the policy's keep names it"
			if b.keepDigests[st.digest] {
				st.reason = "the policy's keep names its digest"
			}
			continue
		}
		covered := false
		for i, v := range views {
			if !v.covers[t] {
				continue
			}
			if !covered {
				covered, st.ref = true, b.rules[i].ref
			}
			if kv, ok := v.keep[t]; ok {
				st.rule, st.reason, st.ref = kv.rule, kv.reason, b.rules[i].ref
				break
			}
		}
		switch {
		case st.rule != "":
		case covered:
			st.survivor = true
		case excluded[t]:
			st.rule, st.reason = RuleExcluded, "matches exclude-tags"
		default:
			st.rule, st.reason = RuleNoMatch, "matches no tags pattern"
		}
	}
}

// keptByPolicy: the policy's keep names the tag or its digest.
func (b *builder) keptByPolicy(st *tagState) bool {
	return matches(b.p.Keep, st.tag) || b.keepDigests[st.digest]
}

// keepLatestGroups runs keep-latest over each group of the rule's
// candidates (one group without group-by) and records its verdicts in keep.
func (b *builder) keepLatestGroups(r ruleSpec, cands []*tagState, keep map[string]verdict) {
	groups := map[string][]*tagState{}
	if r.GroupBy == nil {
		groups[""] = cands
	} else {
		for _, st := range cands {
			m := r.GroupBy.FindStringSubmatch(st.tag)
			if m == nil {
				keep[st.tag] = verdict{RuleNoGroup, fmt.Sprintf("group-by %s does not match it, so keep-latest cannot count it in a group", r.GroupBy)}
				continue
			}
			key := strings.Join(m[1:], "\x00")
			groups[key] = append(groups[key], st)
		}
	}
	for _, key := range sortedKeys(groups) {
		kl, roots, how, ignored := b.keepLatest(groups[key], r.KeepLatest, r.AgeFrom)
		for t, v := range kl {
			if r.GroupBy != nil && v.rule == RuleKeepLatest {
				v.reason += fmt.Sprintf(" in group %q", strings.ReplaceAll(key, "\x00", ", "))
			}
			keep[t] = v
		}
		b.keepImageIndexes(r, roots)
		if how != "" {
			b.rankings = append(b.rankings, ranked{how: how, ref: r.ref})
		}
		b.ignored = append(b.ignored, ignored...)
	}
	if len(b.rankings) > 1 {
		sort.Strings(b.ignored)
		b.ignored = uniq(b.ignored)
	}
}

// keepImageIndexes records the untagged indexes at the root of images the
// rule's keep-latest keeps (or cannot rank). Such an index is part of the
// image kept: deleting it as untagged would split its platform manifests
// into images of their own, which the next run would rank again (one run
// keeping three images under keep-latest: 2, the next deleting one).
// Within a rule, keep-latest before age-unknown before not-a-version.
func (b *builder) keepImageIndexes(r ruleSpec, roots map[string]verdict) {
	for _, d := range sortedKeys(roots) {
		v := roots[d]
		if len(b.tagsOf[d]) > 0 {
			continue // kept by its own tags
		}
		byRule := b.imageIndexes[d]
		if byRule == nil {
			byRule = map[RuleRef]verdict{}
			b.imageIndexes[d] = byRule
		}
		if old, ok := byRule[r.ref]; ok && rootRank(old.rule) <= rootRank(v.rule) {
			continue
		}
		what := "keeps"
		if v.rule != RuleKeepLatest {
			what = "cannot rank and keeps"
		}
		byRule[r.ref] = verdict{v.rule, fmt.Sprintf("no tag names it, but it lists an image keep-latest %s (%s); the index is part of that image", what, v.reason)}
	}
}

// rootRank orders keep-latest's verdicts on an image: the lower, the more telling.
func rootRank(r Rule) int {
	switch r {
	case RuleKeepLatest:
		return 0
	case RuleAgeUnknown:
		return 1
	}
	return 2
}

// untaggedVerdicts decides the untagged manifests (sorted, listed, not
// statically kept): each rule covering untagged manifests keeps the newest
// keep-latest of them (rule sets) and the ones older-than objects to, and
// any rule keeps an index heading an image its keep-latest keeps for its
// tags (keepImageIndexes); a manifest goes only when no rule keeps it. It
// returns the keep verdicts and records which rule made each decision.
func (b *builder) untaggedVerdicts(untagged []string) map[string]verdict {
	out := map[string]verdict{}
	for _, r := range b.rules {
		var kl map[string]verdict
		if r.Untagged && r.rankUntagged && r.KeepLatest > 0 {
			kl = b.keepLatestUntagged(untagged, r.KeepLatest, r.AgeFrom)
		}
		for _, d := range untagged {
			if _, decided := out[d]; decided {
				continue
			}
			var v verdict
			if r.Untagged {
				if _, seen := b.untaggedRef[d]; !seen {
					b.untaggedRef[d] = r.ref
				}
				if kv, ok := kl[d]; ok {
					v = kv
				} else if av := b.timeVerdict(d, r.RetentionRule); av != nil {
					v = *av
				}
			}
			// An index of an image this rule's keep-latest keeps for
			// its tags stays with the image (keepImageIndexes).
			if iv, ok := b.imageIndexes[d][r.ref]; ok && v.rule == "" {
				v = iv
			}
			if v.rule != "" {
				out[d], b.untaggedRef[d] = v, r.ref
			}
		}
	}
	return out
}

// manifestRef names the rule behind a manifest's decision: for an
// untagged one the rule that covers it, for a tagged one the rule of the
// tag that keeps it or, when it goes, of its first tag.
func (b *builder) manifestRef(d string, deleted bool) RuleRef {
	if ref, ok := b.untaggedRef[d]; ok {
		return ref
	}
	tags := b.tagsOf[d]
	if !deleted {
		for _, st := range b.keptTags(d) {
			if st.ref.RuleIndex > 0 {
				return st.ref
			}
		}
		return RuleRef{}
	}
	for _, t := range tags {
		if st := b.tags[t]; st.survivor {
			return st.ref
		}
	}
	return RuleRef{}
}

// ranking says how keep-latest ranked (Plan.Ranking): one word when every
// rule and group ranked the same way, else each rule's.
func (b *builder) ranking() string {
	if len(b.rankings) == 0 {
		return ""
	}
	same := true
	for _, r := range b.rankings[1:] {
		same = same && r.how == b.rankings[0].how
	}
	if same {
		return b.rankings[0].how
	}
	var parts []string
	seen := map[ranked]bool{}
	for _, r := range b.rankings {
		if !seen[r] {
			seen[r] = true
			parts = append(parts, fmt.Sprintf("%s (%s)", r.how, r.ref.By()))
		}
	}
	return strings.Join(parts, ", ")
}

// patternWarnings names every tags and exclude-tags pattern that matches
// no tag here: most are typos, and an exclude pattern that matches nothing
// protects nothing. A repository without tags gets one warning instead of
// one per pattern.
func (b *builder) patternWarnings() []string {
	var tags []string
	var w []string
	for _, r := range b.rules {
		if r.Include == nil || len(r.Include.Patterns()) == 0 {
			continue
		}
		if len(b.g.Tags) == 0 {
			return []string{"this repository has no tags: no tags pattern can match"}
		}
		if tags == nil {
			tags = sortedKeys(b.g.Tags)
		}
		for _, p := range r.Include.Unmatched(tags) {
			w = append(w, fmt.Sprintf("%stags pattern %q matches no tag in this repository", r.prefix(), p))
		}
		if r.Exclude != nil {
			for _, p := range r.Exclude.Unmatched(tags) {
				w = append(w, fmt.Sprintf("%sexclude-tags pattern %q matches no tag in this repository: it protects nothing here", r.prefix(), p))
			}
		}
	}
	return w
}
