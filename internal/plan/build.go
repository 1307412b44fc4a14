package plan

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

// tagState is the policy verdict on one tag before graph rules.
type tagState struct {
	tag, digest string
	matched     bool // matched Include
	refName     bool // a referrer tag name (sha256-<hex>[.sig|.att|.sbom])
	survivor    bool // a deletion candidate every policy rule agreed to
	// protected: a referrer tag an exclude pattern or keep names.
	protected bool
	// rule/reason: why the tag is kept by policy (when !survivor)
	rule   Rule
	reason string
	ref    RuleRef // the retention rule behind rule, or the first covering a survivor
}

// verdict is a rule and its one-sentence reason.
type verdict struct {
	rule   Rule
	reason string
}

// builder holds the indexes one Build needs. It never mutates the graph.
type builder struct {
	g   *graph.Graph
	p   Policy
	now time.Time

	digests     []string                   // every manifest digest, sorted
	man         map[string]*graph.Manifest // every manifest (tag targets included)
	tagsOf      map[string][]string        // digest -> sorted tags, from g.Tags
	parents     map[string][]string        // child -> sorted indexes listing it
	referrersOf map[string][]string        // subject -> sorted referrers
	subject     map[string]string          // referrer -> subject ("" when unknown)
	isRef       map[string]bool
	tags        map[string]*tagState
	ages        map[ageKey]ageResult // memo of ageOf

	canDelete bool // some way to delete a manifest exists
	// lastTagged is the version kept by the last-tagged-version rule
	// (lasttagged.go); "" when the rule did not apply.
	lastTagged string

	rules       []ruleSpec      // the retention rules that apply to this repository
	keepDigests map[string]bool // Policy.KeepDigests
	rankings    []ranked        // how each rule's keep-latest ranked, in rule order
	ignored     []string        // candidate tags a version ranking could not read (Plan.IgnoredTags)
	untaggedRef map[string]RuleRef
	// imageIndexes: untagged indexes heading an image a rule's
	// keep-latest keeps, with why, by rule (keepImageIndexes).
	imageIndexes map[string]map[RuleRef]verdict
}

// Build decides, for every tag and manifest of g, what policy p does to it at
// time now. It is pure and deterministic: no network, no clock, no map
// iteration order leaks into the result.
//
// The rules, in short:
//   - a tag is a deletion candidate when it matches Include and not Exclude,
//     survives keep-latest, and (with OlderThan) its image is known to be old
//     enough; referrer tags (sha256-<hex>[.sig|.att|.sbom]) are never
//     candidates: referrers follow their subject;
//   - a manifest is deleted only when every tag on it is a surviving
//     candidate (or it is an orphan referrer, an untagged manifest with
//     Untagged on, or a child/referrer of a deleted manifest), and nothing
//     kept references it: no kept index lists it, no kept subject has it as
//     referrer, and (with DeleteReferrers) no kept referrer points at it;
//   - a candidate tag whose manifest stays is untagged where the registry can
//     do that, otherwise kept and reported.
func Build(g *graph.Graph, p Policy, now time.Time) *Plan {
	b := newBuilder(g, p, now)
	b.decideTags()
	static := b.staticBlocks()
	seeds, seedWhy, noSeed := b.seeds(static)
	del, why, dyn := b.fixpoint(seeds, seedWhy, static)
	if b.keepLastTagged(del, static) {
		seeds, seedWhy, noSeed = b.seeds(static)
		del, why, dyn = b.fixpoint(seeds, seedWhy, static)
	}
	return b.assemble(del, why, static, dyn, noSeed)
}

func newBuilder(g *graph.Graph, p Policy, now time.Time) *builder {
	b := &builder{
		g: g, p: p, now: now,
		man:          map[string]*graph.Manifest{},
		tagsOf:       map[string][]string{},
		parents:      map[string][]string{},
		referrersOf:  map[string][]string{},
		subject:      map[string]string{},
		isRef:        map[string]bool{},
		tags:         map[string]*tagState{},
		ages:         map[ageKey]ageResult{},
		keepDigests:  map[string]bool{},
		untaggedRef:  map[string]RuleRef{},
		imageIndexes: map[string]map[RuleRef]verdict{},
		canDelete:    g.Capabilities.DeleteManifest || g.Capabilities.TagsOnly,
	}
	b.rules = b.ruleSpecs()
	for _, d := range p.KeepDigests {
		b.keepDigests[d] = true
	}
	for d, m := range g.Manifests {
		if m == nil {
			m = &graph.Manifest{Digest: d, Kind: graph.KindUnknown}
		}
		b.man[d] = m
	}
	for t, d := range g.Tags {
		if _, ok := b.man[d]; !ok {
			b.man[d] = &graph.Manifest{Digest: d, Kind: graph.KindUnknown}
		}
		b.tagsOf[d] = append(b.tagsOf[d], t)
	}
	for d := range b.man {
		b.digests = append(b.digests, d)
	}
	sort.Strings(b.digests)
	for _, d := range b.digests {
		sort.Strings(b.tagsOf[d])
		m := b.man[d]
		for _, c := range uniq(m.Children) {
			if _, ok := b.man[c]; ok && c != d {
				b.parents[c] = append(b.parents[c], d)
			}
		}
		subj, ref := m.Subject, m.Kind == graph.KindReferrer || m.Subject != ""
		for _, t := range b.tagsOf[d] {
			if rt, ok := graph.ParseReferrerTag(t); ok {
				ref = true
				if subj == "" {
					subj = rt.SubjectIn(maps.Keys(b.man))
				}
			}
		}
		if ref {
			b.isRef[d] = true
			if subj == d {
				subj = "" // a self-reference is no subject at all
			}
			b.subject[d] = subj
			if subj != "" {
				b.referrersOf[subj] = append(b.referrersOf[subj], d)
			}
		}
	}
	return b
}

// keptTags returns the tags on d that block its deletion.
func (b *builder) keptTags(d string) []*tagState {
	var out []*tagState
	for _, t := range b.tagsOf[d] {
		st := b.tags[t]
		if (!st.refName && !st.survivor) || (st.protected && b.p.DeleteReferrers) {
			out = append(out, st)
		}
	}
	return out
}

// inert: a manifest this registry cannot delete at all because it has no tag
// and the registry deletes tags only.
func (b *builder) inert(d string) bool {
	return b.g.Capabilities.TagsOnly && len(b.tagsOf[d]) == 0
}

// shownAfter says whether the registry still shows kept manifest d once
// this run is done. On a tags-only registry (Docker Hub) a manifest is
// seen through a tag that stays on it or a kept index that is itself
// shown; an unseen one cannot be deleted and is not what a user keeps, so
// as a referrer it does not hold its subject. Reading the tags after this
// run's untags, not before, gives the decision the next run will make.
func (b *builder) shownAfter(d string, del, seen map[string]bool) bool {
	if !b.g.Capabilities.TagsOnly {
		return true
	}
	if seen[d] { // a cycle in a hostile graph shows nothing
		return false
	}
	seen[d] = true
	for _, t := range b.tagsOf[d] {
		if st := b.tags[t]; st.protected || !st.survivor || d == b.lastTagged {
			return true
		}
	}
	for _, p := range b.parents[d] {
		if !del[p] && b.shownAfter(p, del, seen) {
			return true
		}
	}
	return false
}

// staticBlocks are the reasons a manifest is kept whatever else is deleted.
func (b *builder) staticBlocks() map[string]verdict {
	out := map[string]verdict{}
	for _, d := range b.digests {
		m := b.man[d]
		switch kt := b.keptTags(d); {
		case m.Undeletable != "":
			out[d] = verdict{RuleUndeletable, "the registry cannot delete it: " + m.Undeletable}
		case !b.canDelete:
			out[d] = verdict{RuleCannotDelete, "this registry cannot delete manifests"}
		case b.inert(d):
			out[d] = verdict{RuleCannotDelete, "this registry deletes tags, not manifests; an untagged manifest stays until the registry removes it"}
		case b.keepDigests[d]:
			out[d] = verdict{RuleKeep, "the policy's keep names its digest"}
		case len(kt) > 0:
			out[d] = keptTagVerdict(kt)
		case b.isRef[d] && !b.p.DeleteReferrers:
			out[d] = verdict{RuleReferrersOff, "it is a referrer (signature, attestation or SBOM) and delete-referrers is off"}
		}
	}
	return out
}

// keptTagVerdict explains a manifest kept by its tags.
func keptTagVerdict(kt []*tagState) verdict {
	first := kt[0]
	for _, st := range kt {
		if st.rule != RuleNoMatch { // a policy rule is more telling than "no match"
			first = st
			break
		}
	}
	rule := first.rule
	if rule == RuleNoMatch {
		rule = RuleReferencedByTag
	}
	return verdict{rule, fmt.Sprintf("tagged %s, which is kept (%s)", quoteTags(kt), first.rule)}
}

// present says whether a subject exists as far as the graph knows: named by
// a tag, listed by the registry, read by discovery, or listed by an index.
func (b *builder) present(d string) bool {
	m, ok := b.man[d]
	if !ok {
		return false
	}
	return len(b.tagsOf[d]) > 0 || m.Listed || m.Exists || m.Kind != graph.KindUnknown || len(b.parents[d]) > 0
}

// orphan says whether referrer d, whose subject s the graph does not hold,
// is proven an orphan: s answered 404 in this repository at the last look,
// and d's own content places s in this repository (an OCI subject field,
// or a cosign payload naming it). Otherwise it says why d stays.
func (b *builder) orphan(d, s string) (verdict, bool) {
	switch repo := b.man[d].SubjectRepository; {
	case !b.g.Absent[s]:
		return verdict{RuleOrphanUnproven, fmt.Sprintf("its subject %s was not found, and whether it exists could not be checked", s)}, false
	case repo == "":
		return verdict{RuleOrphanUnproven, fmt.Sprintf("its subject %s is not in this repository, and nothing in it says which repository it belongs to (cosign's COSIGN_REPOSITORY keeps signatures apart from their images)", s)}, false
	case !strings.EqualFold(repo, b.g.Repository):
		return verdict{RuleOrphanUnproven, fmt.Sprintf("it refers to %s in %s, another repository", s, repo)}, false
	}
	return verdict{RuleOrphanReferrer, fmt.Sprintf("it refers to %s, which no longer exists (404 in this repository)", s)}, true
}

// seeds are the manifests the policy itself asks to delete, with why; noSeed
// records why an untagged manifest was not a seed.
func (b *builder) seeds(static map[string]verdict) ([]string, map[string]verdict, map[string]verdict) {
	var seeds, untagged []string
	why := map[string]verdict{}
	noSeed := map[string]verdict{}
	for _, d := range b.digests {
		if _, blocked := static[d]; blocked {
			continue
		}
		tags := b.tagsOf[d]
		switch {
		case b.isRef[d]:
			s := b.subject[d]
			if s == "" || b.present(s) {
				continue
			}
			if v, proven := b.orphan(d, s); proven {
				seeds = append(seeds, d)
				why[d] = v
			} else {
				noSeed[d] = v
			}
		case len(tags) > 0:
			// Not statically blocked: every tag is a surviving candidate.
			seeds = append(seeds, d)
			why[d] = verdict{RuleMatch, fmt.Sprintf("every tag on it (%s) matched and no rule keeps it", quoteTagNames(tags))}
		case b.man[d].Listed && b.coversUntagged():
			untagged = append(untagged, d)
		}
	}
	keep := b.untaggedVerdicts(untagged)
	for _, d := range untagged {
		if v, ok := keep[d]; ok {
			noSeed[d] = v
			continue
		}
		seeds = append(seeds, d)
		why[d] = verdict{RuleUntagged, "no tag names it and untagged is on"}
	}
	sort.Strings(seeds)
	return seeds, why, noSeed
}

// fixpoint computes the deletion set: the closure of the seeds through
// children (of deleted indexes) and referrers (of deleted subjects), minus
// every manifest something kept still references. Blocking only grows, so
// the loop ends; each round costs O(manifests + edges).
func (b *builder) fixpoint(seeds []string, seedWhy, static map[string]verdict) (map[string]bool, map[string]verdict, map[string]verdict) {
	dyn := map[string]verdict{}
	blocked := func(d string) bool {
		_, s := static[d]
		_, y := dyn[d]
		return s || y
	}
	for {
		del := map[string]bool{}
		why := map[string]verdict{}
		var queue []string
		push := func(d string, v verdict) {
			if del[d] || blocked(d) {
				return
			}
			del[d] = true
			why[d] = v
			queue = append(queue, d)
		}
		for _, d := range seeds {
			push(d, seedWhy[d])
		}
		for len(queue) > 0 {
			d := queue[0]
			queue = queue[1:]
			if b.g.Capabilities.DeleteManifest && !b.g.Capabilities.TagsOnly {
				for _, c := range uniq(b.man[d].Children) {
					if _, ok := b.man[c]; ok {
						push(c, verdict{RuleChildOfDeleted, fmt.Sprintf("it belongs to deleted index %s and nothing kept references it", d)})
					}
				}
			}
			if b.p.DeleteReferrers {
				for _, r := range b.referrersOf[d] {
					push(r, verdict{RuleReferrerOfDel, fmt.Sprintf("it refers to deleted image %s", d)})
				}
			}
		}
		changed := false
		for _, d := range b.digests {
			if !del[d] {
				continue
			}
			if v, ok := b.dynamicBlock(d, del); ok {
				dyn[d] = v
				changed = true
			}
		}
		if !changed {
			return del, why, dyn
		}
	}
}

// dynamicBlock says whether something kept (outside del) still needs d.
func (b *builder) dynamicBlock(d string, del map[string]bool) (verdict, bool) {
	for _, p := range b.parents[d] {
		if !del[p] {
			return verdict{RuleChildOfKept, fmt.Sprintf("kept index %s lists it", p)}, true
		}
	}
	if b.isRef[d] {
		s := b.subject[d]
		if s == "" {
			return verdict{RuleSubjectKept, "it is a referrer whose subject is unknown"}, true
		}
		if b.present(s) && !del[s] {
			return verdict{RuleSubjectKept, fmt.Sprintf("it refers to kept image %s", s)}, true
		}
	}
	if b.p.DeleteReferrers {
		for _, r := range b.referrersOf[d] {
			if !del[r] && b.shownAfter(r, del, map[string]bool{}) {
				return verdict{RuleReferredByKept, fmt.Sprintf("kept referrer %s refers to it; deleting it would leave the referrer dangling", r)}, true
			}
		}
	}
	return verdict{}, false
}

// keepVerdict explains why a manifest outside the deletion set stays. The
// policy's own reason (static, then why it was no seed: the rule keeping an
// untagged manifest) comes before a graph rule's (dyn): a rule's keep holds
// whatever the graph does, while dyn depends on which rounds of the
// fixpoint pushed the manifest and its referencers.
func (b *builder) keepVerdict(d string, static, dyn, noSeed map[string]verdict) verdict {
	if v, ok := static[d]; ok {
		return v
	}
	if v, ok := noSeed[d]; ok {
		return v
	}
	if v, ok := dyn[d]; ok {
		return v
	}
	if b.isRef[d] {
		if s := b.subject[d]; s != "" {
			return verdict{RuleSubjectKept, fmt.Sprintf("it refers to kept image %s", s)}
		}
		return verdict{RuleSubjectKept, "it is a referrer whose subject is unknown"}
	}
	if ps := b.parents[d]; len(ps) > 0 {
		return verdict{RuleChildOfKept, fmt.Sprintf("kept index %s lists it", ps[0])}
	}
	switch {
	case !b.man[d].Listed:
		return verdict{RuleUntaggedOff, "no tag names it and the registry did not list it, so what uses it is unknown"}
	case !b.coversUntagged():
		return verdict{RuleUntaggedOff, "no tag names it and untagged is off"}
	}
	return verdict{RuleUntaggedOff, "no tag names it"}
}

// canUntag says whether a tag can be removed while its manifest stays.
func (b *builder) canUntag() bool {
	c := b.g.Capabilities
	// The placeholder workaround ends by deleting the placeholder manifest.
	return c.TagsOnly || c.Untag != graph.No || (b.p.UntagWithPlaceholder && c.DeleteManifest)
}

// assemble turns the deletion set into decisions, ops, phases and warnings.
func (b *builder) assemble(del map[string]bool, why, static, dyn, noSeed map[string]verdict) *Plan {
	pl := &Plan{
		Repository:   b.g.Repository,
		Backend:      b.g.Backend,
		Capabilities: b.g.Capabilities,
		Tags:         []TagDecision{},
		Manifests:    []ManifestDecision{},
		Phases:       [][]Op{},
	}
	manV := map[string]verdict{}
	for _, d := range b.digests {
		if del[d] {
			manV[d] = why[d]
		} else {
			manV[d] = b.keepVerdict(d, static, dyn, noSeed)
		}
	}

	var untags []Op
	for _, t := range sortedKeys(b.tags) {
		st := b.tags[t]
		td := TagDecision{Tag: t, Digest: st.digest, Matched: st.matched}
		mv := manV[st.digest]
		td.RuleRef = st.ref
		switch {
		case st.protected:
			td.Action, td.Rule, td.Reason = Keep, st.rule, st.reason
		case del[st.digest] && st.survivor:
			td.Action, td.Rule, td.Reason = Delete, RuleMatch, "matched, no rule keeps it, and its image is deleted"
		case del[st.digest]:
			td.Action, td.Rule, td.Reason = Delete, mv.rule, "deleted with its image: "+mv.reason
		case st.survivor && st.digest == b.lastTagged:
			// Removing its tags would make it untagged, which is what
			// the registry's rule forbids.
			td.Action, td.Rule, td.Reason = Keep, mv.rule, mv.reason
		case st.survivor:
			td.Rule, td.Reason = b.untagVerdict(st.digest, mv)
			td.Action = Keep
			if b.canUntag() {
				td.Action = Untag
				untags = append(untags, Op{Kind: OpUntag, Digest: st.digest, Tag: t})
			}
		case !st.refName:
			td.Action, td.Rule, td.Reason = Keep, st.rule, st.reason
		default:
			td.Action, td.Rule, td.Reason = Keep, mv.rule, mv.reason
		}
		pl.Tags = append(pl.Tags, td)
	}

	levels := b.levels(del)
	maxLevel := -1
	for _, l := range levels {
		maxLevel = max(maxLevel, l)
	}
	phases := make([][]Op, maxLevel+2) // [0] untags, [1+level] deletions
	phases[0] = append(untags, b.untagFirst(pl.Tags, del, levels)...)
	for _, d := range b.digests {
		if !del[d] {
			continue
		}
		// On a tags-only registry (Docker Hub) the backend deletes a
		// manifest by deleting every tag on it; it is still one OpDelete, so
		// the record, the outputs and the count say a manifest went.
		phases[1+levels[d]] = append(phases[1+levels[d]], Op{Kind: OpDelete, Digest: d})
	}
	renumber := make([]int, len(phases))
	for i, ops := range phases {
		renumber[i] = len(pl.Phases)
		if len(ops) > 0 {
			sortOps(ops)
			pl.Phases = append(pl.Phases, ops)
		}
	}

	for _, d := range b.digests {
		m := b.man[d]
		md := ManifestDecision{Digest: d, Kind: m.Kind, Tags: b.tagsOf[d], Action: Keep}
		if md.Kind == "" {
			md.Kind = graph.KindUnknown
		}
		v := manV[d]
		md.Rule, md.Reason = v.rule, v.reason
		md.RuleRef = b.manifestRef(d, del[d])
		md.Age, md.AgeSource = b.shownAge(d, md.RuleRef)
		if del[d] {
			md.Action = Delete
			md.Phase = renumber[1+levels[d]]
		}
		pl.Manifests = append(pl.Manifests, md)
	}
	pl.Warnings = append(b.warnings(del), b.unprovenOrphans(manV)...)
	pl.probeForSchedule = b.g.Capabilities.Untag == graph.Unknown && pl.wouldUntagFirst(b.p.UntagFirstAt)
	pl.Ranking, pl.IgnoredTags = b.ranking(), b.ignored
	return pl
}

// untagVerdict explains a surviving candidate tag whose manifest stays.
func (b *builder) untagVerdict(d string, mv verdict) (Rule, string) {
	var why string
	rule := mv.rule
	if kt := b.keptTags(d); len(kt) > 0 {
		why = "shares its digest with kept tag " + quoteTags(kt)
		if len(kt) > 1 {
			why = "shares its digest with kept tags " + quoteTags(kt)
		}
		rule = RuleSharedDigest
	} else {
		why = "its image is kept (" + mv.reason + ")"
	}
	if b.canUntag() {
		return rule, why + "; only the tag is removed"
	}
	return RuleCannotUntag, why + "; this registry cannot remove a tag alone"
}

// levels gives each deleted manifest its deletion level: 0 when nothing
// deleted references it, else one more than its deepest deleted referencer
// (an index before its children, a referrer before its subject). A cycle in
// a hostile graph is cut where the walk meets it.
func (b *builder) levels(del map[string]bool) map[string]int {
	level := map[string]int{}
	onStack := map[string]bool{}
	refs := b.references()
	var walk func(d string) int
	walk = func(d string) int {
		if l, ok := level[d]; ok {
			return l
		}
		onStack[d] = true
		l := 0
		for _, r := range refs.To(d) {
			if del[r] && !onStack[r] {
				l = max(l, walk(r)+1)
			}
		}
		onStack[d] = false
		level[d] = l
		return l
	}
	for _, d := range b.digests {
		if del[d] {
			walk(d)
		}
	}
	return level
}

func (b *builder) warnings(del map[string]bool) []string {
	w := b.patternWarnings()
	c := b.g.Capabilities
	if !b.canDelete {
		msg := "this registry cannot delete manifests; nothing is deleted"
		if b.canUntag() {
			msg += " (matching tags are only untagged)"
		}
		w = append(w, msg)
	}
	if b.coversUntagged() && !c.ListUntagged {
		w = append(w, "untagged: this registry cannot list untagged manifests; nothing untagged was deleted")
	}
	w = append(w, b.timeWarnings()...)
	if dw := b.danglingWarning(del); dw != "" && !b.p.DeleteReferrers {
		w = append(w, dw)
	}
	return w
}

// unprovenOrphans says, once, how many referrers stay because their
// subject was not found but is not proven gone from this repository.
func (b *builder) unprovenOrphans(manV map[string]verdict) []string {
	var unchecked, elsewhere, unnamed int
	for _, d := range b.digests {
		if manV[d].rule != RuleOrphanUnproven {
			continue
		}
		switch repo := b.man[d].SubjectRepository; {
		case !b.g.Absent[b.subject[d]]:
			unchecked++
		case repo == "":
			unnamed++
		default:
			elsewhere++
		}
	}
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{
		{elsewhere, "name another repository"},
		{unnamed, "name no repository (cosign's COSIGN_REPOSITORY stores signatures apart from their images)"},
		{unchecked, "could not be checked"},
	} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return []string{"referrers kept although their subject is not here, as nothing proves them orphans: " + strings.Join(parts, "; ")}
}

func sortOps(ops []Op) {
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Digest != ops[j].Digest {
			return ops[i].Digest < ops[j].Digest
		}
		if ops[i].Kind != ops[j].Kind {
			return ops[i].Kind < ops[j].Kind
		}
		return ops[i].Tag < ops[j].Tag
	})
}

func quoteTags(ts []*tagState) string {
	names := make([]string, len(ts))
	for i, st := range ts {
		names[i] = st.tag
	}
	return quoteTagNames(names)
}

func quoteTagNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func uniq(s []string) []string {
	if len(s) < 2 {
		return s
	}
	seen := make(map[string]bool, len(s))
	out := make([]string, 0, len(s))
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// fmtDuration prints whole days as "30d", else Go's form.
func fmtDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
