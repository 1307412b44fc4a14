package plan

import (
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestRuleSetProperties draws random repositories and random rule sets and
// checks every plan against a brute-force model of the rule-set semantics
// (ruleSetSemantics, sharing no code with the builder) and against the
// graph invariants every plan obeys. A failure prints its seed.
func TestRuleSetProperties(t *testing.T) {
	for seed := range propertySeeds(t, 1500) {
		r := rand.New(rand.NewPCG(seed, 0x5e75))
		g := randomGraph(r)
		pol := randomRuleSet(t, r)
		p := Build(g, pol, testNow)
		var rec recorder
		m := newModel(g)
		sem, want := ruleSetSemantics(m, pol)
		checkPlan(&rec, m, pol, sem, p)
		checkRuleNames(&rec, m, want, p)
		if again := Build(cloneGraph(g), pol, testNow); !reflect.DeepEqual(p, again) {
			rec.Errorf("Build is not deterministic:\n%s\n---\n%s", p, again)
		}
		if len(rec.msgs) > 0 {
			t.Fatalf("seed %d failed:\n%s\nrule set %s caps %+v\n%s\n%s", seed, strings.Join(rec.msgs, "\n"), ruleSetString(pol), g.Capabilities, dumpGraph(g), p)
		}
	}
}

var (
	ruleIncludes = [][]string{{"pr-*"}, {"*"}, {"v*", "1.*"}, {"pr-[1-3]", "main"}, {"*", "sha256-*"}, nil, {"v*", "[0-9]*"}, {"*", "latest"}, {"sha-*", "edge"}}
	ruleExcludes = [][]string{nil, nil, nil, {"latest"}, {"*.sig"}, {"v1.*"}, {"pr-2", "sha256-*"}}
	ruleGroupBys = []string{"", "", `^([a-z]+)-`, `^v?([0-9]+)\.`, `^(pr)-([0-9])`, `([0-9])$`}
)

// randomRuleSet draws one to four rules and a keep list.
func randomRuleSet(t testing.TB, r *rand.Rand) Policy {
	p := Policy{
		DeleteReferrers:      r.IntN(3) > 0,
		UntagWithPlaceholder: r.IntN(4) == 0,
		UntagFirstAt:         []int{0, 1, 2, -1}[r.IntN(4)],
		ProtectLatest:        r.IntN(3) > 0,
	}
	for i := range 1 + r.IntN(4) {
		rule := RetentionRule{KeepLatest: []int{0, 0, 1, 2, 3}[r.IntN(5)], Untagged: r.IntN(3) == 0}
		if i%2 == 0 {
			rule.Name = []string{"", "branches", "releases"}[r.IntN(3)]
		}
		if inc := ruleIncludes[r.IntN(len(ruleIncludes))]; inc != nil || !rule.Untagged {
			rule.Include = mustMatcher(t, inc...)
		}
		if ex := ruleExcludes[r.IntN(len(ruleExcludes))]; ex != nil {
			rule.Exclude = mustMatcher(t, ex...)
		}
		if gb := ruleGroupBys[r.IntN(len(ruleGroupBys))]; gb != "" && rule.KeepLatest > 0 {
			rule.GroupBy = regexp.MustCompile(gb)
		}
		if r.IntN(2) == 0 {
			rule.OlderThan = time.Duration(1+r.IntN(60)) * 24 * time.Hour
		}
		switch r.IntN(6) {
		case 0:
			rule.Repositories = mustMatcher(t, "other/*")
		case 1:
			rule.Repositories = mustMatcher(t, "rand", "team/*")
		}
		p.Rules = append(p.Rules, rule)
	}
	switch r.IntN(4) {
	case 0:
		p.Keep = mustMatcher(t, "latest", "v1.*")
	case 1:
		p.Keep = mustMatcher(t, "*.sig")
		p.KeepDigests = []string{dg("m1"), dg("m4")}
	case 2:
		p.KeepDigests = []string{dg("m0")}
	}
	return p
}

func ruleSetString(p Policy) string {
	pats := func(m Matcher) []string {
		if m == nil {
			return nil
		}
		return m.Patterns()
	}
	var b strings.Builder
	for i, r := range p.Rules {
		gb := ""
		if r.GroupBy != nil {
			gb = r.GroupBy.String()
		}
		b.WriteString("\n  rule " + string(rune('1'+i)) + " " + r.Name + ": ")
		b.WriteString(strings.Join([]string{
			"tags=" + strings.Join(pats(r.Include), ","), "exclude=" + strings.Join(pats(r.Exclude), ","),
			"group-by=" + gb, "keep-latest=" + string(rune('0'+r.KeepLatest)), "older-than=" + fmtDuration(r.OlderThan),
			"untagged=" + map[bool]string{true: "yes", false: "no"}[r.Untagged], "repositories=" + strings.Join(pats(r.Repositories), ","),
		}, " "))
	}
	b.WriteString("\n  keep=" + strings.Join(pats(p.Keep), ",") + " keep-digests=" + strings.Join(short(p.KeepDigests), ","))
	b.WriteString("\n  protect-latest=" + map[bool]string{true: "yes", false: "no"}[p.ProtectLatest] + " delete-referrers=" + map[bool]string{true: "yes", false: "no"}[p.DeleteReferrers])
	return b.String()
}

// ruleWant is the model's policy decision on one tag or untagged manifest:
// the rule that keeps it ("" when the policy deletes it) and the index of
// the rule behind the decision (0: none).
type ruleWant struct {
	rule  Rule
	index int
}

// ruleSetSemantics is the brute-force model of a rule set, read from the
// README: a rule covers the tags its tags match and its exclude-tags do not
// (referrer tags never), and untagged listed manifests with untagged; it
// keeps `latest` under protect-latest unless a pattern names it, then the
// newest keep-latest images of each group (a tag group-by does not match is
// kept), then what older-than objects to. A tag or untagged manifest goes
// when at least one rule covers it, every covering rule would delete it, and
// keep names neither it nor its digest.
func ruleSetSemantics(m *model, pol Policy) (semantics, map[string]ruleWant) {
	sem := semantics{deletes: map[string]bool{}, matched: map[string]bool{}, protected: map[string]bool{}, untagged: map[string]bool{}}
	want := map[string]ruleWant{}
	repo := m.g.Repository
	_, path, _ := strings.Cut(repo, "/")
	type ruleView struct {
		index  int
		rule   RetentionRule
		covers map[string]bool
		keep   map[string]Rule
		// heads: untagged roots of images the rule's keep-latest keeps
		// for its tags (or cannot rank): they stay with their image.
		heads map[string]Rule
	}
	var views []ruleView
	var tags []string
	for tag := range m.g.Tags {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	caps := m.g.Capabilities
	keepDigest := map[string]bool{}
	for _, d := range pol.KeepDigests {
		keepDigest[d] = true
	}
	// The untagged manifests a rule ranks: listed, no tag, no referrer,
	// and not kept whatever the rules say.
	var untagged []string
	for _, d := range m.g.SortedDigests() {
		man := m.g.Manifests[d]
		if len(m.tagsOf[d]) == 0 && man.Listed && !m.isRef[d] && man.Undeletable == "" && caps.DeleteManifest && !caps.TagsOnly && !keepDigest[d] {
			untagged = append(untagged, d)
		}
	}
	olderThan := func(d string, within time.Duration) (Rule, bool) {
		if within == 0 {
			return "", false
		}
		a := m.age(d)
		switch {
		case a.IsZero():
			return RuleAgeUnknown, true
		case !a.Before(testNow.Add(-within)):
			return RuleTooNew, true
		}
		return "", false
	}
	for i, r := range pol.Rules {
		if r.Repositories != nil && !r.Repositories.Match(repo) && !r.Repositories.Match(path) {
			continue
		}
		v := ruleView{index: i + 1, rule: r, covers: map[string]bool{}, keep: map[string]Rule{}, heads: map[string]Rule{}}
		groups := map[string][]string{}
		for _, tag := range tags {
			_, refName := m.refTagRE(tag)
			if refName || r.Include == nil || !r.Include.Match(tag) || (r.Exclude != nil && r.Exclude.Match(tag)) {
				continue
			}
			v.covers[tag] = true
			if pol.ProtectLatest && tag == "latest" && !slices.Contains(r.Include.Patterns(), "latest") {
				v.keep[tag] = RuleProtectLatest
				continue
			}
			key := ""
			if r.GroupBy != nil {
				sub := r.GroupBy.FindStringSubmatch(tag)
				if sub == nil {
					v.keep[tag] = RuleNoGroup
					continue
				}
				key = strings.Join(sub[1:], "|")
			}
			groups[key] = append(groups[key], tag)
		}
		for _, g := range groups {
			var cands []string
			for _, tag := range g {
				if !m.isRef[m.g.Tags[tag]] {
					cands = append(cands, tag)
				}
			}
			if r.KeepLatest > 0 {
				kept, unranked, how, _, roots := modelKeepLatest(m, cands, r.KeepLatest)
				for root, ranked := range roots {
					rule := RuleKeepLatest
					switch {
					case !ranked && how == RankVersion:
						rule = RuleNotVersion
					case !ranked:
						rule = RuleAgeUnknown
					}
					// keep-latest before age-unknown before not-a-version.
					if old, ok := v.heads[root]; len(m.tagsOf[root]) == 0 && (!ok || rule == RuleKeepLatest || old == RuleNotVersion) {
						v.heads[root] = rule
					}
				}
				for _, tag := range cands {
					switch {
					case kept[tag]:
						v.keep[tag] = RuleKeepLatest
					case unranked[tag] && how == RankVersion:
						v.keep[tag] = RuleNotVersion
					case unranked[tag]:
						v.keep[tag] = RuleAgeUnknown
					}
				}
			}
			for _, tag := range g {
				if _, kept := v.keep[tag]; !kept {
					if rule, ok := olderThan(m.g.Tags[tag], r.OlderThan); ok {
						v.keep[tag] = rule
					}
				}
			}
		}
		if r.Untagged {
			for _, d := range untagged {
				v.covers[d] = true
			}
			if r.KeepLatest > 0 {
				for d, rule := range modelNewestUntagged(m, untagged, r.KeepLatest) {
					v.keep[d] = rule
				}
			}
			for _, d := range untagged {
				if _, kept := v.keep[d]; !kept {
					if rule, ok := olderThan(d, r.OlderThan); ok {
						v.keep[d] = rule
					}
				}
			}
		}
		// After the rule's own untagged verdicts, an untagged index
		// heading an image the rule keeps for its tags stays with it,
		// whether or not the rule covers untagged manifests.
		for _, d := range untagged {
			if _, kept := v.keep[d]; !kept && v.heads[d] != "" {
				v.keep[d] = v.heads[d]
			}
		}
		views = append(views, v)
	}
	decide := func(key string) (ruleWant, bool) { // the decision, and whether the policy deletes
		w, covered := ruleWant{}, false
		for _, v := range views {
			if v.covers[key] {
				covered, w.index = true, v.index
				break
			}
		}
		if !covered {
			return w, false
		}
		// The first rule that keeps it, covering it or not (a rule keeps
		// an untagged index with the image its tags' keep-latest keeps).
		for _, v := range views {
			if rule, ok := v.keep[key]; ok {
				return ruleWant{rule: rule, index: v.index}, false
			}
		}
		return w, true
	}
	for _, tag := range tags {
		d := m.g.Tags[tag]
		_, refName := m.refTagRE(tag)
		kept := (pol.Keep != nil && pol.Keep.Match(tag)) || keepDigest[d]
		excluded := false
		for _, v := range views {
			inc := v.rule.Include != nil && v.rule.Include.Match(tag)
			sem.matched[tag] = sem.matched[tag] || inc
			excluded = excluded || ((inc || refName) && v.rule.Exclude != nil && v.rule.Exclude.Match(tag))
		}
		if refName {
			sem.protected[tag] = kept || excluded
			continue
		}
		if kept {
			want[tag] = ruleWant{rule: RuleKeep}
			continue
		}
		w, del := decide(tag)
		switch {
		case del:
			sem.deletes[tag] = true
		case w.index == 0 && excluded:
			w.rule = RuleExcluded
		case w.index == 0:
			w.rule = RuleNoMatch
		}
		want[tag] = w
	}
	for _, d := range untagged {
		sem.covers = sem.covers || views != nil && slices.ContainsFunc(views, func(v ruleView) bool { return v.rule.Untagged })
		w, del := decide(d)
		sem.untagged[d] = del
		if w.index > 0 {
			want["m:"+d] = w
		}
	}
	for _, v := range views {
		sem.covers = sem.covers || v.rule.Untagged
	}
	return sem, want
}

// modelNewestUntagged keeps, by brute force, the newest n untagged images:
// each root (a manifest no non-referrer index lists) among untagged with
// everything below it that is untagged too; images of unknown age are
// kept uncounted. It returns the rule keeping each manifest it keeps.
func modelNewestUntagged(m *model, untagged []string, n int) map[string]Rule {
	in := map[string]bool{}
	for _, d := range untagged {
		in[d] = true
	}
	var rootsOf func(d string, seen map[string]bool) []string
	rootsOf = func(d string, seen map[string]bool) []string {
		var out []string
		top := true
		for _, p := range m.parents[d] {
			if m.isRef[p] || seen[p] {
				top = top && m.isRef[p]
				continue
			}
			top = false
			seen[p] = true
			out = append(out, rootsOf(p, seen)...)
		}
		if top {
			out = append(out, d)
		}
		return out
	}
	imgRoots := map[string]bool{}
	rootsByD := map[string][]string{}
	for _, d := range untagged {
		rs := rootsOf(d, map[string]bool{d: true})
		all := len(rs) > 0
		for _, r := range rs {
			all = all && in[r]
		}
		if !all {
			continue
		}
		rootsByD[d] = rs
		for _, r := range rs {
			imgRoots[r] = true
		}
	}
	ahead := func(a, b string) bool {
		ta, tb := m.age(a), m.age(b)
		if !ta.Equal(tb) {
			return ta.After(tb)
		}
		ia, ib := len(m.g.Manifests[a].Children) > 0, len(m.g.Manifests[b].Children) > 0
		if ia != ib {
			return ia
		}
		return a > b
	}
	keptRoot := map[string]Rule{}
	for r := range imgRoots {
		if m.age(r).IsZero() {
			keptRoot[r] = RuleAgeUnknown
			continue
		}
		before := 0
		for o := range imgRoots {
			if o != r && !m.age(o).IsZero() && ahead(o, r) {
				before++
			}
		}
		if before < n {
			keptRoot[r] = RuleKeepLatest
		}
	}
	out := map[string]Rule{}
	for d, rs := range rootsByD {
		for _, r := range rs {
			if rule, ok := keptRoot[r]; ok && (out[d] == "" || rule == RuleKeepLatest) {
				out[d] = rule
			}
		}
	}
	return out
}

// checkRuleNames: a tag or untagged manifest the policy keeps is kept by the
// model's rule, also when a graph rule (child-of-kept-index,
// subject-of-kept-referrer) keeps it too: the policy's reason is named
// first. Every decision names the model's rule index.
func checkRuleNames(t reporter, m *model, want map[string]ruleWant, p *Plan) {
	t.Helper()
	for _, td := range p.Tags {
		w, ok := want[td.Tag]
		if !ok {
			continue
		}
		if w.rule != "" && (td.Action != Keep || td.Rule != w.rule) {
			t.Errorf("tag %s: planned %s/%s (%s), the model keeps it by %s", td.Tag, td.Action, td.Rule, td.Reason, w.rule)
		}
		if td.RuleIndex != w.index {
			t.Errorf("tag %s: decided by rule %d (%s), the model says rule %d", td.Tag, td.RuleIndex, td.Reason, w.index)
		}
	}
	for _, md := range p.Manifests {
		w, ok := want["m:"+md.Digest]
		if !ok {
			continue
		}
		// A manifest the policy keeps may still go with a deleted index
		// (child-of-deleted): the graph rules apply to the result.
		if w.rule != "" && ((md.Action == Keep && md.Rule != w.rule) || (md.Action == Delete && md.Rule == RuleUntagged)) {
			t.Errorf("untagged %s: planned %s/%s (%s), the model keeps it by %s", md.Digest, md.Action, md.Rule, md.Reason, w.rule)
		}
		if w.rule == "" && md.Action == Keep && (md.Rule == RuleTooNew || md.Rule == RuleKeepLatest || md.Rule == RuleAgeUnknown) {
			t.Errorf("untagged %s: the model deletes it, the plan keeps it by %s (%s)", md.Digest, md.Rule, md.Reason)
		}
		if md.RuleIndex != w.index {
			t.Errorf("untagged %s: decided by rule %d, the model says rule %d", md.Digest, md.RuleIndex, w.index)
		}
	}
}
