package trial

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ruleSetTrial marks the trial numbers that draw a rule set (the `policy`
// input) instead of the single rule of the inputs; they run beside the
// other trials, so a seed replays every earlier trial unchanged.
const ruleSetTrial = uint64(1) << 62

// trialName is the subtest name of trial i.
func trialName(i uint64) string {
	if i&ruleSetTrial != 0 {
		return fmt.Sprintf("ruleset-%04d", i&^ruleSetTrial)
	}
	return fmt.Sprintf("trial-%04d", i)
}

// rule is one retention rule of a drawn rule set.
type rule struct {
	Name       string
	Tags       []string
	Exclude    []string
	Regex      bool
	GroupBy    string
	KeepLatest int
	OlderThan  string
	olderThan  time.Duration
}

// randomRuleSet turns p into a rule set of one to three rules, with a keep
// list of tags and digests from the layout. The delete-referrers and
// dry-run draws stay.
func randomRuleSet(r *rand.Rand, l *layout, p policy) policy {
	out := policy{DeleteReferrers: p.DeleteReferrers, DryRun: p.DryRun}
	globs := [][2]string{
		{"pr-*", `pr-\d+`}, {"v*", `v.*`}, {"feature-*", `feature-.*`}, {"*", `.*`}, {"v1.*", `v1\..*`},
		{"[0-9]*", `[0-9].*`}, {"sha-*", `sha-[0-9a-f]+`}, {"*.*.*", `[^.]+\.[^.]+\..*`}, {"latest", `latest`},
	}
	excludes := [][2]string{{"latest", `latest`}, {"v1.*", `v1\..*`}, {"pr-1*", `pr-1.*`}, {"*.sig", `.*\.sig`}, {"stable", `stable|main`}}
	groupBys := []string{`^pr-([0-9])`, `^v?([0-9]+)\.`, `^([a-z]+)-`, `^sha-([0-9a-f])`, `^(v)?([0-9]+)`}
	for i := range 1 + r.IntN(3) {
		ru := rule{Regex: r.IntN(4) == 0}
		pick := func(g [2]string) string {
			if ru.Regex {
				return g[1]
			}
			return g[0]
		}
		if r.IntN(2) == 0 {
			ru.Name = fmt.Sprintf("rule-%d", i+1)
		}
		for range 1 + r.IntN(2) {
			ru.Tags = append(ru.Tags, pick(globs[r.IntN(len(globs))]))
		}
		if r.IntN(4) == 0 {
			ru.Exclude = []string{pick(excludes[r.IntN(len(excludes))])}
		}
		if r.IntN(2) == 0 {
			ru.KeepLatest = 1 + r.IntN(3)
			if r.IntN(2) == 0 {
				ru.GroupBy = groupBys[r.IntN(len(groupBys))]
			}
		}
		if r.IntN(2) == 0 {
			ru.OlderThan = []string{"30d", "90d", "2w", "180d", "36h"}[r.IntN(5)]
			d, err := parseAge(ru.OlderThan)
			if err != nil {
				panic(err)
			}
			ru.olderThan = d
		}
		out.Rules = append(out.Rules, ru)
	}
	tags := l.sortedTags()
	switch r.IntN(4) {
	case 0:
		out.Keep = []string{"latest", "stable"}
	case 1:
		if t := tags[r.IntN(len(tags))]; !referrerTag.MatchString(t) {
			out.Keep = []string{t}
		}
	case 2:
		out.Keep = []string{l.Objs[l.Tags[tags[r.IntN(len(tags))]]].Digest}
	}
	return out
}

// policyYAML writes the rule set as the `policy` input.
func (p policy) policyYAML() string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	list := func(ss []string) string {
		qs := make([]string, len(ss))
		for i, s := range ss {
			qs[i] = q(s)
		}
		return "[" + strings.Join(qs, ", ") + "]"
	}
	var b strings.Builder
	b.WriteString("rules:\n")
	for _, ru := range p.Rules {
		fmt.Fprintf(&b, "  - tags: %s\n", list(ru.Tags))
		if ru.Name != "" {
			fmt.Fprintf(&b, "    name: %s\n", q(ru.Name))
		}
		if ru.Regex {
			b.WriteString("    use-regex: true\n")
		}
		if len(ru.Exclude) > 0 {
			fmt.Fprintf(&b, "    exclude-tags: %s\n", list(ru.Exclude))
		}
		if ru.KeepLatest > 0 {
			fmt.Fprintf(&b, "    keep-latest: %d\n", ru.KeepLatest)
		}
		if ru.GroupBy != "" {
			fmt.Fprintf(&b, "    group-by: %s\n", q(ru.GroupBy))
		}
		if ru.OlderThan != "" {
			fmt.Fprintf(&b, "    older-than: %s\n", q(ru.OlderThan))
		}
	}
	if len(p.Keep) > 0 {
		fmt.Fprintf(&b, "keep: %s\n", list(p.Keep))
	}
	return b.String()
}

// ruleSetTags is the model's reading of a rule set's tag policy (the
// README's "Retention rule sets"): a rule covers the non-referrer tags its
// tags match and its exclude-tags do not; it keeps `latest` unless one of
// its patterns is exactly "latest", then per group (a tag group-by does not
// match is kept) the newest keep-latest images, then what older-than
// objects to. A tag survives when a rule covers it, every covering rule
// lets it go, and keep names neither it nor its digest. include says
// whether some rule's tags match (the summary's "matching" tags); protect
// says whether a referrer tag is protected (an exclude pattern or keep).
func ruleSetTags(p policy, before map[string]string, byDigest map[string]*obj, parents map[string][]string, age func(string) time.Time) (survivor map[string]bool, include, protect func(string) bool, keepDigest map[string]bool) {
	survivor = map[string]bool{}
	keepDigest = map[string]bool{}
	var keepTags []string
	for _, k := range p.Keep {
		if strings.HasPrefix(k, "sha256:") {
			keepDigest[k] = true
		} else {
			keepTags = append(keepTags, k)
		}
	}
	kept := matcher(keepTags, false)
	var tags []string
	for t := range before {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	covered := map[string]bool{}
	objects := map[string]bool{} // some covering rule keeps it
	type ruleMatch struct{ inc, exc func(string) bool }
	var ms []ruleMatch
	for _, ru := range p.Rules {
		inc, exc := matcher(ru.Tags, ru.Regex), matcher(ru.Exclude, ru.Regex)
		ms = append(ms, ruleMatch{inc, exc})
		namesLatest := false
		for _, t := range ru.Tags {
			namesLatest = namesLatest || t == "latest"
		}
		surv := map[string]bool{}
		groups := map[string][]string{}
		var gre *regexp.Regexp
		if ru.GroupBy != "" {
			gre = regexp.MustCompile(ru.GroupBy)
		}
		for _, t := range tags {
			if referrerTag.MatchString(t) || !inc(t) || exc(t) {
				continue
			}
			covered[t] = true
			if t == "latest" && !namesLatest {
				objects[t] = true
				continue
			}
			key := ""
			if gre != nil {
				sub := gre.FindStringSubmatch(t)
				if sub == nil {
					objects[t] = true // no group: keep-latest cannot count it
					continue
				}
				key = strings.Join(sub[1:], "\x00")
			}
			surv[t] = true
			groups[key] = append(groups[key], t)
		}
		if ru.KeepLatest > 0 {
			for _, g := range groups {
				keepLatest(ru.KeepLatest, g, before, byDigest, parents, age, surv)
			}
		}
		if ru.olderThan > 0 {
			cut := now.Add(-ru.olderThan)
			for _, g := range groups {
				for _, t := range g {
					if a := age(before[t]); a.IsZero() || !a.Before(cut) {
						surv[t] = false
					}
				}
			}
		}
		for _, g := range groups {
			for _, t := range g {
				if !surv[t] {
					objects[t] = true
				}
			}
		}
	}
	for _, t := range tags {
		survivor[t] = covered[t] && !objects[t] && !kept(t) && !keepDigest[before[t]]
	}
	include = func(t string) bool {
		for _, m := range ms {
			if m.inc(t) {
				return true
			}
		}
		return false
	}
	protect = func(t string) bool {
		if kept(t) {
			return true
		}
		for _, m := range ms {
			if m.exc(t) {
				return true
			}
		}
		return false
	}
	return survivor, include, protect, keepDigest
}

func (ru rule) String() string {
	return fmt.Sprintf("{name=%q tags=%q exclude-tags=%q use-regex=%v group-by=%q keep-latest=%s older-than=%q}",
		ru.Name, ru.Tags, ru.Exclude, ru.Regex, ru.GroupBy, strconv.Itoa(ru.KeepLatest), ru.OlderThan)
}
