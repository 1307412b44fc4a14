package plan

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/regsweep/regsweep/internal/graph"
)

// TestPlanProperties builds thousands of random repositories and policies
// and checks the safety properties against an independent reading of the
// graph. A failure prints its seed; rerun one case with -run and the seed.
func TestPlanProperties(t *testing.T) {
	const cases = 4000
	for seed := uint64(1); seed <= cases; seed++ {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		g := randomGraph(r)
		pol := randomPolicy(t, r)
		p := Build(g, pol, testNow)
		var rec recorder
		checkInvariants(&rec, g, pol, p)
		// (f) determinism: a rebuilt copy (fresh maps, other iteration
		// order) gives the identical plan.
		if again := Build(cloneGraph(g), pol, testNow); !reflect.DeepEqual(p, again) {
			rec.Errorf("Build is not deterministic:\n%s\n---\n%s", p, again)
		}
		if len(rec.msgs) > 0 {
			t.Fatalf("seed %d failed:\n%s\npolicy %s caps %+v\n%s\n%s", seed, strings.Join(rec.msgs, "\n"), policyString(pol), g.Capabilities, dumpGraph(g), p)
		}
	}
}

// recorder collects failures without the cost of a subtest per case.
type recorder struct{ msgs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

// reporter is the part of testing.T the invariant checks use.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

func policyString(p Policy) string {
	pats := func(m Matcher) []string {
		if m == nil {
			return nil
		}
		return m.Patterns()
	}
	return fmt.Sprintf("include=%q exclude=%q keep=%d older=%s refs=%v untagged=%v placeholder=%v untag-first-at=%d",
		pats(p.Include), pats(p.Exclude), p.KeepLatest, p.OlderThan, p.DeleteReferrers, p.Untagged, p.UntagWithPlaceholder, p.UntagFirstAt)
}

func dumpGraph(g *graph.Graph) string {
	var b strings.Builder
	for _, d := range g.SortedDigests() {
		m := g.Manifests[d]
		fmt.Fprintf(&b, "%s kind=%s tags=%v children=%v subject=%.15s created=%s listed=%v undeletable=%q\n",
			d[:15], m.Kind, m.Tags, short(m.Children), m.Subject, m.Created.Format(time.DateOnly), m.Listed, m.Undeletable)
	}
	return b.String()
}

func short(ds []string) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d[:min(15, len(d))]
	}
	return out
}

func cloneGraph(g *graph.Graph) *graph.Graph {
	c := graph.New(g.Repository, g.Backend, g.Capabilities)
	ds := g.SortedDigests()
	for i := len(ds) - 1; i >= 0; i-- { // reverse insertion order on purpose
		m := *g.Manifests[ds[i]]
		m.Children = append([]string(nil), m.Children...)
		m.Tags = nil
		c.Manifests[ds[i]] = &m
	}
	for t, d := range g.Tags {
		c.Tags[t] = d
	}
	c.Finish()
	return c
}

var propTagPool = []string{
	"pr-1", "pr-2", "pr-3", "pr-4", "pr-5", "pr-12", "latest", "main", "nightly",
	"v1.0.0", "v1.2.0", "1.0.0-rc.1", "1.0.0-rc.2", "v2.0.0", "1.3", "sha-abc",
}

func randomGraph(r *rand.Rand) *graph.Graph {
	capsChoices := []graph.Capabilities{
		capsOCI3, capsOCI2, {DeleteManifest: true}, capsGitHub, capsHub,
		{Untag: graph.No}, {DeleteManifest: true, Untag: graph.Yes, ListUntagged: true},
	}
	g := graph.New("registry.test/rand", "oci", capsChoices[r.IntN(len(capsChoices))])
	created := func() time.Time {
		if r.IntN(7) == 0 {
			return time.Time{}
		}
		return daysAgo(r.IntN(90))
	}
	n := 1 + r.IntN(18)
	var images, all []string
	for i := range n {
		d := dg(fmt.Sprint("m", i))
		m := g.Manifest(d)
		m.Created = created()
		m.Listed = g.Capabilities.ListUntagged && r.IntN(3) > 0
		if r.IntN(20) == 0 {
			m.Undeletable = "public"
		}
		switch k := r.IntN(10); {
		case k < 6 || len(images) == 0:
			m.Kind = graph.KindImage
			images = append(images, d)
		case k < 8:
			m.Kind = graph.KindIndex
			if r.IntN(2) == 0 {
				m.Created = time.Time{}
			}
			for range 1 + r.IntN(3) {
				if r.IntN(3) == 0 { // nested indexes, referrer indexes
					m.Children = append(m.Children, all[r.IntN(len(all))])
				} else {
					m.Children = append(m.Children, images[r.IntN(len(images))])
				}
			}
		default:
			// A referrer: subject is an earlier manifest, or missing (orphan).
			subject := dg(fmt.Sprint("gone", r.IntN(3)))
			if r.IntN(4) > 0 {
				subject = all[r.IntN(len(all))]
			}
			switch r.IntN(3) {
			case 0: // OCI subject field
				m.Kind, m.Subject = graph.KindReferrer, subject
			case 1: // cosign tag only
				m.Kind = graph.KindImage
				g.SetTag("sha256-"+strings.TrimPrefix(subject, "sha256:")+[]string{".sig", ".att", ".sbom"}[r.IntN(3)], d)
			default: // both
				m.Kind, m.Subject = graph.KindReferrer, subject
				g.SetTag("sha256-"+strings.TrimPrefix(subject, "sha256:")+".sig", d)
			}
		}
		all = append(all, d)
	}
	for _, tag := range propTagPool {
		if r.IntN(3) == 0 {
			continue
		}
		g.SetTag(tag, all[r.IntN(len(all))])
	}
	g.Finish()
	return g
}

func randomPolicy(t testing.TB, r *rand.Rand) Policy {
	includes := [][]string{{"pr-*"}, {"*"}, {"v*", "1.*"}, {"pr-[1-3]", "main"}, {"*", "sha256-*"}, nil}
	excludes := [][]string{nil, nil, {"latest"}, {"*.sig"}, {"v1.*"}, {"pr-2", "sha256-*"}}
	p := Policy{
		Include:              mustMatcher(t, includes[r.IntN(len(includes))]...),
		KeepLatest:           []int{0, 0, 1, 2, 3, 10}[r.IntN(6)],
		DeleteReferrers:      r.IntN(3) > 0,
		Untagged:             r.IntN(2) == 0,
		UntagWithPlaceholder: r.IntN(4) == 0,
		// Half the plans take the untag-first schedule whenever they delete.
		UntagFirstAt: []int{0, 1, 2, -1}[r.IntN(4)],
	}
	if ex := excludes[r.IntN(len(excludes))]; ex != nil {
		p.Exclude = mustMatcher(t, ex...)
	}
	if r.IntN(2) == 0 {
		p.OlderThan = time.Duration(1+r.IntN(60)) * 24 * time.Hour
	}
	return p
}

// model is an independent reading of the graph for the checks; it shares no
// code with the builder beyond the graph types.
type model struct {
	g        *graph.Graph
	tagsOf   map[string][]string
	parents  map[string][]string
	subject  map[string]string // referrers only
	isRef    map[string]bool
	refsOf   map[string][]string
	refTagRE func(string) (string, bool)
}

func newModel(g *graph.Graph) *model {
	m := &model{g: g, tagsOf: map[string][]string{}, parents: map[string][]string{}, subject: map[string]string{}, isRef: map[string]bool{}, refsOf: map[string][]string{}}
	m.refTagRE = func(tag string) (string, bool) {
		rest, ok := strings.CutPrefix(tag, "sha256-")
		if !ok {
			return "", false
		}
		for _, suf := range []string{".sig", ".att", ".sbom"} {
			rest = strings.TrimSuffix(rest, suf)
		}
		if len(rest) != 64 || strings.Trim(rest, "0123456789abcdef") != "" {
			return "", false
		}
		return "sha256:" + rest, true
	}
	for t, d := range g.Tags {
		m.tagsOf[d] = append(m.tagsOf[d], t)
	}
	for d, man := range g.Manifests {
		for _, c := range man.Children {
			if c != d {
				m.parents[c] = append(m.parents[c], d)
			}
		}
		s := man.Subject
		ref := man.Kind == graph.KindReferrer || s != ""
		for _, t := range m.tagsOf[d] {
			if ts, ok := m.refTagRE(t); ok {
				ref = true
				if s == "" {
					s = ts
				}
			}
		}
		if ref {
			m.isRef[d], m.subject[d] = true, s
			m.refsOf[s] = append(m.refsOf[s], d)
		}
	}
	return m
}

func (m *model) exists(d string) bool {
	man, ok := m.g.Manifests[d]
	return ok && (len(m.tagsOf[d]) > 0 || man.Listed || man.Kind != graph.KindUnknown || len(m.parents[d]) > 0)
}

func (m *model) age(d string) time.Time {
	man := m.g.Manifests[d]
	t := man.Created
	for _, c := range man.Children {
		if cm := m.g.Manifests[c]; cm != nil && cm.Created.After(t) {
			t = cm.Created
		}
	}
	return t
}

func (m *model) oldEnough(p Policy, d string) bool {
	if p.OlderThan == 0 {
		return true
	}
	a := m.age(d)
	return !a.IsZero() && a.Before(testNow.Add(-p.OlderThan))
}

// checkInvariants asserts properties (a)-(e) and the plan's well-formedness.
func checkInvariants(t reporter, g *graph.Graph, pol Policy, p *Plan) {
	t.Helper()
	m := newModel(g)
	caps := g.Capabilities
	del := map[string]bool{}
	phaseOf := map[string]int{}
	seenM := map[string]bool{}
	for i, md := range p.Manifests {
		if i > 0 && p.Manifests[i-1].Digest >= md.Digest {
			t.Errorf("manifests not sorted at %s", md.Digest)
		}
		if md.Rule == "" || md.Reason == "" {
			t.Errorf("manifest %s has no rule or reason", md.Digest)
		}
		seenM[md.Digest] = true
		if md.Action == Delete {
			del[md.Digest] = true
			phaseOf[md.Digest] = md.Phase
		} else if md.Action != Keep {
			t.Errorf("manifest %s action %s", md.Digest, md.Action)
		}
	}
	for d := range g.Manifests {
		if !seenM[d] {
			t.Errorf("manifest %s has no decision", d)
		}
	}
	tagDec := map[string]TagDecision{}
	for i, td := range p.Tags {
		if i > 0 && p.Tags[i-1].Tag >= td.Tag {
			t.Errorf("tags not sorted at %s", td.Tag)
		}
		if td.Rule == "" || td.Reason == "" {
			t.Errorf("tag %s has no rule or reason", td.Tag)
		}
		tagDec[td.Tag] = td
	}
	if len(tagDec) != len(g.Tags) {
		t.Errorf("%d tag decisions for %d tags", len(tagDec), len(g.Tags))
	}

	// (a) no deleted manifest carries a kept tag; policy-kept tags are kept.
	for tag, d := range g.Tags {
		td := tagDec[tag]
		if td.Digest != d {
			t.Errorf("tag %s digest %s, want %s", tag, td.Digest, d)
		}
		if del[d] != (td.Action == Delete) {
			t.Errorf("(a) tag %s is %s but its manifest deleted=%v", tag, td.Action, del[d])
		}
		_, refName := m.refTagRE(tag)
		matched := pol.Include != nil && pol.Include.Match(tag)
		excluded := pol.Exclude != nil && pol.Exclude.Match(tag)
		if td.Matched != matched {
			t.Errorf("tag %s Matched=%v, want %v", tag, td.Matched, matched)
		}
		if td.Action != Keep && ((!refName && (!matched || excluded)) || (refName && excluded && pol.DeleteReferrers)) {
			t.Errorf("(a) tag %s is kept by policy but planned %s", tag, td.Action)
		}
		if td.Rule == RuleKeepLatest && td.Action != Keep {
			t.Errorf("(a) tag %s kept by keep-latest but planned %s", tag, td.Action)
		}
		if td.Action == Untag {
			if refName || !matched || excluded || !m.oldEnough(pol, d) {
				t.Errorf("(d) tag %s untagged without being a candidate", tag)
			}
			if caps.Untag == graph.No && !caps.TagsOnly && !(pol.UntagWithPlaceholder && caps.DeleteManifest) {
				t.Errorf("tag %s untagged on a registry that cannot untag", tag)
			}
		}
	}

	for d := range del {
		man := g.Manifests[d]
		// (b) no deleted manifest is a child of a kept index.
		for _, par := range m.parents[d] {
			if !del[par] {
				t.Errorf("(b) %s deleted but kept index %s lists it", d, par)
			}
		}
		// referrers of kept subjects are kept.
		if m.isRef[d] {
			if s := m.subject[d]; s == "" || (m.exists(s) && !del[s]) {
				t.Errorf("referrer %s deleted but its subject %q is kept", d, s)
			}
		}
		// (c) with delete-referrers, no kept referrer is left dangling.
		if pol.DeleteReferrers {
			for _, r := range m.refsOf[d] {
				if !del[r] && !(caps.TagsOnly && len(m.tagsOf[r]) == 0) {
					t.Errorf("(c) %s deleted but kept referrer %s points at it", d, r)
				}
			}
		}
		if man.Undeletable != "" || !(caps.DeleteManifest || caps.TagsOnly) || (caps.TagsOnly && len(m.tagsOf[d]) == 0) {
			t.Errorf("%s deleted though the registry cannot delete it", d)
		}
		// (d) justified.
		if !justified(m, pol, p, d, del, tagDec) {
			t.Errorf("(d) %s deleted without justification", d)
		}
	}
	if !pol.DeleteReferrers {
		dangling := false
		for r, s := range m.subject {
			if !del[r] && del[s] {
				dangling = true
			}
		}
		if dangling && !containsSub(p.Warnings, "delete-referrers is off") {
			t.Errorf("(c) referrers left dangling without a warning")
		}
	}

	// (e) ops and phases.
	ops := map[Op]int{}
	for i, ph := range p.Phases {
		if len(ph) == 0 {
			t.Errorf("empty phase %d", i)
		}
		if !sort.SliceIsSorted(ph, func(a, b int) bool { return ph[a].Digest < ph[b].Digest }) {
			t.Errorf("phase %d not sorted by digest", i)
		}
		for _, op := range ph {
			if _, dup := ops[op]; dup {
				t.Errorf("duplicate op %v", op)
			}
			ops[op] = i
		}
	}
	for op, ph := range ops {
		switch {
		case op.Kind == OpDelete:
			if !del[op.Digest] || phaseOf[op.Digest] != ph {
				t.Errorf("(e) op %v in phase %d does not match its decision", op, ph)
			}
		case op.BeforeDelete:
			// Untag first: only a tag that goes with its manifest, on a
			// registry that untags, before that manifest's deletion.
			if op.Kind != OpUntag || !del[op.Digest] || tagDec[op.Tag].Action != Delete || g.Tags[op.Tag] != op.Digest {
				t.Errorf("(e) untag-first op %v removes a tag that does not go with its manifest", op)
			}
			if caps.Untag != graph.Yes || caps.TagsOnly || !caps.DeleteManifest {
				t.Errorf("(e) untag-first op %v on a registry without untag (%+v)", op, caps)
			}
			if ph >= phaseOf[op.Digest] {
				t.Errorf("(e) untag-first op %v in phase %d not before its manifest's deletion in %d", op, ph, phaseOf[op.Digest])
			}
		case op.Kind == OpUntag && del[op.Digest]:
			t.Errorf("(e) op %v untags a tag of a deleted manifest", op)
		case op.Kind == OpUntag:
			if tagDec[op.Tag].Action != Untag || g.Tags[op.Tag] != op.Digest {
				t.Errorf("(e) op %v without an untag decision", op)
			}
		}
	}
	for _, td := range tagDec {
		if td.Action == Untag {
			ph, ok := ops[Op{Kind: OpUntag, Digest: td.Digest, Tag: td.Tag}]
			if !ok {
				t.Errorf("untag of %s has no op", td.Tag)
			}
			for d := range del {
				if ph >= phaseOf[d] {
					t.Errorf("(e) untag %s in phase %d not before deletion of %s in %d", td.Tag, ph, d, phaseOf[d])
				}
			}
		}
	}
	for d := range del {
		if _, ok := ops[Op{Kind: OpDelete, Digest: d}]; !ok {
			t.Errorf("(e) deleted %s has no delete op", d)
		}
		for _, par := range m.parents[d] {
			if del[par] && phaseOf[par] >= phaseOf[d] && par != d {
				t.Errorf("(e) index %s (phase %d) not before its child %s (phase %d)", par, phaseOf[par], d, phaseOf[d])
			}
		}
		for _, r := range m.refsOf[d] {
			if del[r] && phaseOf[r] >= phaseOf[d] && r != d {
				t.Errorf("(e) referrer %s (phase %d) not before its subject %s (phase %d)", r, phaseOf[r], d, phaseOf[d])
			}
		}
	}
	if pol.Untagged && !caps.ListUntagged && !containsSub(p.Warnings, "cannot list untagged") {
		t.Errorf("no warning that untagged is unavailable")
	}
	checkKeepLatest(t, m, pol, p, tagDec)
}

// justified: (d) a deleted manifest has a reason in the policy.
func justified(m *model, pol Policy, p *Plan, d string, del map[string]bool, tagDec map[string]TagDecision) bool {
	man := m.g.Manifests[d]
	tags := m.tagsOf[d]
	caps := m.g.Capabilities
	// Matched: every tag a candidate that passed every rule.
	if !m.isRef[d] && len(tags) > 0 {
		all := true
		for _, tag := range tags {
			_, refName := m.refTagRE(tag)
			if refName || !pol.Include.Match(tag) || (pol.Exclude != nil && pol.Exclude.Match(tag)) || tagDec[tag].Rule == RuleKeepLatest {
				all = false
			}
		}
		if all && m.oldEnough(pol, d) {
			return true
		}
	}
	// Untagged.
	if len(tags) == 0 && man.Listed && pol.Untagged && m.oldEnough(pol, d) {
		return true
	}
	if m.isRef[d] && pol.DeleteReferrers {
		s := m.subject[d]
		if s != "" && !m.exists(s) { // orphan
			return true
		}
		if del[s] { // referrer of a deleted subject
			return true
		}
	}
	if caps.DeleteManifest && !caps.TagsOnly {
		for _, par := range m.parents[d] {
			if del[par] {
				return true
			}
		}
	}
	return false
}

// checkKeepLatest: no image deleted by the policy is newer than an image
// keep-latest kept, and keep-latest kept min(N, rankable) images.
func checkKeepLatest(t reporter, m *model, pol Policy, p *Plan, tagDec map[string]TagDecision) {
	t.Helper()
	if pol.KeepLatest == 0 {
		for _, td := range tagDec {
			if td.Rule == RuleKeepLatest {
				t.Errorf("keep-latest off but %s kept by it", td.Tag)
			}
		}
		return
	}
	cand := map[string][]string{} // image -> candidate tags
	semverMode := true
	for tag, d := range m.g.Tags {
		_, refName := m.refTagRE(tag)
		if refName || m.isRef[d] || !pol.Include.Match(tag) || (pol.Exclude != nil && pol.Exclude.Match(tag)) {
			continue
		}
		cand[d] = append(cand[d], tag)
		if parseVersion(tag) == nil {
			semverMode = false
		}
	}
	ver := func(d string) *semver.Version {
		var best *semver.Version
		for _, tag := range cand[d] {
			if v := parseVersion(tag); v != nil && (best == nil || v.GreaterThan(best)) {
				best = v
			}
		}
		return best
	}
	kept := map[string]bool{}
	rankable := 0
	for d, tags := range cand {
		if semverMode || !m.age(d).IsZero() {
			rankable++
		}
		for _, tag := range tags {
			if tagDec[tag].Rule == RuleKeepLatest {
				kept[d] = true
			}
		}
	}
	if len(kept) != min(pol.KeepLatest, rankable) {
		t.Errorf("keep-latest %d kept %d of %d rankable images", pol.KeepLatest, len(kept), rankable)
	}
	for d := range cand {
		if kept[d] || (!semverMode && m.age(d).IsZero()) {
			continue
		}
		for k := range kept {
			older := false
			if semverMode {
				older = ver(k).LessThan(ver(d))
			} else {
				older = m.age(k).Before(m.age(d))
			}
			if older {
				t.Errorf("keep-latest kept %s but not the newer %s", k, d)
			}
		}
	}
}

func containsSub(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// FuzzPlanProperties explores more seeds than the fixed loop.
func FuzzPlanProperties(f *testing.F) {
	f.Add(uint64(1))
	f.Add(uint64(4242))
	f.Fuzz(func(t *testing.T, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		g := randomGraph(r)
		pol := randomPolicy(t, r)
		checkInvariants(t, g, pol, Build(g, pol, testNow))
	})
}

// TestIntersectProperties: after random tag moves between planning and
// deleting, the re-checked plan only does what both plans do and never
// removes what the fresh plan keeps.
func TestIntersectProperties(t *testing.T) {
	for seed := uint64(1); seed <= 1500; seed++ {
		r := rand.New(rand.NewPCG(seed, 0x1e7))
		g1 := randomGraph(r)
		pol := randomPolicy(t, r)
		g2 := cloneGraph(g1)
		ds := g2.SortedDigests()
		for _, tag := range g2.SortedTags() {
			switch r.IntN(6) {
			case 0:
				g2.Tags[tag] = ds[r.IntN(len(ds))] // moved
			case 1:
				delete(g2.Tags, tag) // deleted by someone else
			}
		}
		for _, tag := range []string{"latest", "pr-1", "hotfix"} {
			if r.IntN(4) == 0 {
				g2.Tags[tag] = ds[r.IntN(len(ds))] // pushed meanwhile
			}
		}
		g2.Finish()
		orig, fresh := Build(g1, pol, testNow), Build(g2, pol, testNow)
		got := orig.Intersect(fresh)
		var rec recorder
		checkIntersect(&rec, orig, fresh, got)
		if len(rec.msgs) > 0 {
			t.Fatalf("seed %d:\n%s\norig:\n%s\nfresh:\n%s\ngot:\n%s", seed, strings.Join(rec.msgs, "\n"), orig, fresh, got)
		}
	}
}

func checkIntersect(t reporter, orig, fresh, got *Plan) {
	opsOf := func(p *Plan) map[Op]bool {
		m := map[Op]bool{}
		for _, ph := range p.Phases {
			for _, op := range ph {
				m[op] = true
			}
		}
		return m
	}
	o, f, g := opsOf(orig), opsOf(fresh), opsOf(got)
	for op := range g {
		if op.BeforeDelete {
			// A schedule choice: it must be the original plan's, and
			// stand only while its tag goes with its manifest in both.
			if !o[op] {
				t.Errorf("untag-first op %v is not in the original plan", op)
			}
			continue
		}
		if !o[op] || !f[op] {
			t.Errorf("op %v is not in both plans", op)
		}
	}
	gotTag := map[string]TagDecision{}
	for _, td := range got.Tags {
		gotTag[td.Tag] = td
	}
	for op := range g {
		if op.BeforeDelete && (gotTag[op.Tag].Action != Delete || gotTag[op.Tag].Digest != op.Digest || !g[Op{Kind: OpDelete, Digest: op.Digest}]) {
			t.Errorf("untag-first op %v stands but its tag no longer goes with its manifest", op)
		}
	}
	freshMan := map[string]Action{}
	for _, m := range fresh.Manifests {
		freshMan[m.Digest] = m.Action
	}
	del := map[string]bool{}
	for _, m := range got.Manifests {
		if m.Action == Delete {
			del[m.Digest] = true
			if freshMan[m.Digest] != Delete {
				t.Errorf("%s deleted but the fresh plan keeps it", m.Digest)
			}
			if !g[Op{Kind: OpDelete, Digest: m.Digest}] {
				t.Errorf("%s deleted without an op", m.Digest)
			}
		}
	}
	freshTag := map[string]TagDecision{}
	for _, td := range fresh.Tags {
		freshTag[td.Tag] = td
	}
	for _, td := range got.Tags {
		switch td.Action {
		case Delete:
			if !del[td.Digest] {
				t.Errorf("tag %s deleted but its manifest is not", td.Tag)
			}
		case Untag:
			if !g[Op{Kind: OpUntag, Digest: td.Digest, Tag: td.Tag}] {
				t.Errorf("tag %s untagged without an op", td.Tag)
			}
		default:
			continue
		}
		if ft, ok := freshTag[td.Tag]; ok && (ft.Action == Keep || ft.Digest != td.Digest) {
			t.Errorf("tag %s removed but the fresh plan keeps it (%s)", td.Tag, ft.Reason)
		}
	}
	for op := range g {
		if op.Kind == OpDelete && !del[op.Digest] {
			t.Errorf("op %v for a kept manifest", op)
		}
	}
}
