package plan

import (
	"fmt"
	"time"
)

// AgeFrom is which time counts as an image's age (`age-from`).
type AgeFrom string

const (
	// AgeFromDefault: the push time where the backend reports pushes
	// (graph.Capabilities.PushTimes), else the image's creation time.
	AgeFromDefault AgeFrom = ""
	// AgeFromPushed: the registry's push time only; where the backend does
	// not report pushes, ages are unknown (kept).
	AgeFromPushed AgeFrom = "pushed"
	// AgeFromCreated: the image's own creation time only (its config's
	// `created` or its annotation), however recently it was pushed.
	AgeFromCreated AgeFrom = "created"
)

// AgeFroms are the values `age-from` takes.
func AgeFroms() []string { return []string{string(AgeFromPushed), string(AgeFromCreated)} }

// AgeSource says where an age came from; every age shown names it.
type AgeSource string

const (
	SourceCreated AgeSource = "created" // the image's config or annotation
	SourcePushed  AgeSource = "pushed"  // the registry's push time
	SourceUnknown AgeSource = "unknown"
)

// Origin is where a time of this source comes from, for the words that show it.
func (s AgeSource) Origin() string {
	switch s {
	case SourceCreated:
		return "image config"
	case SourcePushed:
		return "registry"
	}
	return "unknown"
}

// ageResult is a manifest's age: its time and source, or why it is unknown.
type ageResult struct {
	t       time.Time // zero when unknown
	src     AgeSource // where t came from (the source asked for, even when unknown)
	unknown string    // why it is unknown, a clause for a reason
}

// String is the age as the summary shows it: "pushed 2026-01-02T03:04:05Z
// (registry)".
func (a ageResult) String() string {
	return fmt.Sprintf("%s %s (%s)", a.src, a.t.UTC().Format(time.RFC3339), a.src.Origin())
}

// ageKey memoizes an age by manifest and source.
type ageKey struct {
	d   string
	src AgeSource
}

// source is the time age-from reads on this graph's backend.
func (b *builder) source(from AgeFrom) AgeSource {
	switch from {
	case AgeFromPushed:
		return SourcePushed
	case AgeFromCreated:
		return SourceCreated
	}
	if b.g.Capabilities.PushTimes {
		return SourcePushed
	}
	return SourceCreated
}

// plausible says whether t can be a creation or push time. Nothing was
// built as an OCI image before 2013; ko, Bazel rules_oci, nix and
// SOURCE_DATE_EPOCH=0 write 1970 for reproducibility, and a clock far ahead
// is as wrong. Such a time says nothing about when the image was made, so
// it counts as unknown.
func (b *builder) plausible(t time.Time) bool {
	return !t.IsZero() && t.UTC().Year() >= 2013 && !t.After(b.now.Add(24*time.Hour))
}

// age is a manifest's age as age-from reads it, zero when unknown.
func (b *builder) age(d string, from AgeFrom) time.Time { return b.ageOf(d, from).t }

// ageOf is the one home of a manifest's age, for the rule's age-from. An
// image's is its own time (creation or push). An index is as young as its
// youngest part: its newest child's time, or its own when that is newer (a
// push time, such as a GitHub Packages version's); an older annotation of
// its own never hides a new child. A child of unknown age makes the index's
// unknown, except an attestation or other referrer (buildx lists them in the
// index, without a time). An index whose entries are all referrers has its
// own time.
func (b *builder) ageOf(d string, from AgeFrom) ageResult {
	k := ageKey{d, b.source(from)}
	if r, ok := b.ages[k]; ok {
		return r
	}
	// Met again before it is known: an index listing itself through others.
	b.ages[k] = ageResult{src: k.src, unknown: "its index lists itself"}
	r := b.computeAge(d, k.src)
	r.src = k.src
	b.ages[k] = r
	return r
}

func (b *builder) computeAge(d string, src AgeSource) ageResult {
	m, ok := b.man[d]
	if !ok {
		return ageResult{unknown: fmt.Sprintf("%s was not read", d)}
	}
	own, what := m.Created, "creation time"
	if src == SourcePushed {
		own, what = m.Pushed, "push time"
		if !b.g.Capabilities.PushTimes {
			return ageResult{unknown: "this registry does not report push times (age-from: pushed)"}
		}
	}
	var newest time.Time
	children := 0
	for _, c := range uniq(m.Children) {
		if c == d || b.isRef[c] {
			continue
		}
		children++
		cr := b.ageOf(c, AgeFrom(src))
		if cr.t.IsZero() {
			return ageResult{unknown: fmt.Sprintf("its platform manifest %s: %s", c, cr.unknown)}
		}
		if cr.t.After(newest) {
			newest = cr.t
		}
	}
	switch {
	case children > 0:
		if b.plausible(own) && own.After(newest) {
			newest = own
		}
		return ageResult{t: newest}
	case own.IsZero():
		return ageResult{unknown: "its " + what + " is unknown"}
	case !b.plausible(own):
		return ageResult{unknown: fmt.Sprintf("its %s %s is not plausible (before 2013 or in the future)", what, own.UTC().Format(time.RFC3339))}
	}
	return ageResult{t: own}
}

// ageVerdict returns a keep verdict when older-than, with age-from from,
// objects to d, else nil.
func (b *builder) ageVerdict(d string, olderThan time.Duration, from AgeFrom) *verdict {
	if olderThan <= 0 {
		return nil
	}
	a := b.ageOf(d, from)
	if a.t.IsZero() {
		return &verdict{RuleAgeUnknown, a.unknown + ", so older-than cannot be checked"}
	}
	if !a.t.Before(b.now.Add(-olderThan)) {
		return &verdict{RuleTooNew, fmt.Sprintf("%s, less than %s ago (older-than)", a, fmtDuration(olderThan))}
	}
	return nil
}

// pullVerdict returns a keep verdict when pulled-within objects to d, else
// nil. Where the registry does not report pulls, nothing is guessed: the
// rule keeps all it covers (and the plan warns once).
func (b *builder) pullVerdict(d string, within time.Duration) *verdict {
	if within <= 0 {
		return nil
	}
	if !b.g.Capabilities.PullTimes {
		return &verdict{RulePullsUnknown, "this registry does not report pulls, so pulled-within cannot be checked"}
	}
	if t := b.lastPull(d, map[string]bool{}); !t.IsZero() && t.After(b.now.Add(-within)) {
		return &verdict{RulePulledWithin, fmt.Sprintf("pulled %s (registry), less than %s ago (pulled-within)", t.UTC().Format(time.RFC3339), fmtDuration(within))}
	}
	return nil
}

// timeVerdict is every time rule of one retention rule on d: older-than
// (with the rule's age-from), then pulled-within; nil when neither keeps d.
func (b *builder) timeVerdict(d string, r RetentionRule) *verdict {
	if v := b.ageVerdict(d, r.OlderThan, r.AgeFrom); v != nil {
		return v
	}
	return b.pullVerdict(d, r.PulledWithin)
}

// timeRanking names the time keep-latest ranks by under age-from from.
func (b *builder) timeRanking(from AgeFrom) string {
	if b.source(from) == SourcePushed {
		return RankPushed
	}
	return RankCreated
}

// shownAge is the age a manifest's decision shows: by the age-from of the
// rule behind the decision (the first rule here when none is named).
func (b *builder) shownAge(d string, ref RuleRef) (time.Time, AgeSource) {
	from := AgeFromDefault
	if ref.RuleIndex > 0 && ref.RuleIndex <= len(b.p.Rules) {
		from = b.p.Rules[ref.RuleIndex-1].AgeFrom
	} else if len(b.rules) > 0 {
		from = b.rules[0].AgeFrom
	}
	a := b.ageOf(d, from)
	if a.t.IsZero() {
		return time.Time{}, SourceUnknown
	}
	return a.t, a.src
}

// lastPull is when d was last pulled: its own pull, or a platform
// manifest's (pulling a multi-arch image pulls one of them). Zero: never.
func (b *builder) lastPull(d string, seen map[string]bool) time.Time {
	m, ok := b.man[d]
	if !ok || seen[d] {
		return time.Time{}
	}
	seen[d] = true
	t := m.Pulled
	for _, c := range m.Children {
		if b.isRef[c] {
			continue
		}
		if ct := b.lastPull(c, seen); ct.After(t) {
			t = ct
		}
	}
	return t
}

// timeWarnings say once what this registry cannot tell the time rules.
func (b *builder) timeWarnings() []string {
	c := b.g.Capabilities
	pulls, pushes := false, false
	for _, r := range b.rules {
		pulls = pulls || r.PulledWithin > 0 && !c.PullTimes
		pushes = pushes || r.AgeFrom == AgeFromPushed && !c.PushTimes && (r.OlderThan > 0 || r.KeepLatest > 0)
	}
	var w []string
	if pulls {
		w = append(w, "pulled-within: this registry does not report pulls, so it cannot be checked here; everything the rule covers is kept")
	}
	if pushes {
		w = append(w, "age-from pushed: this registry does not report push times, so ages are unknown here and what older-than or a keep-latest by time covers is kept (age-from: created reads the images' creation times)")
	}
	return w
}
