package plan

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
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
	for seed := range propertySeeds(t, 2000) {
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
	return fmt.Sprintf("include=%q exclude=%q keep=%d older=%s refs=%v untagged=%v placeholder=%v untag-first-at=%d protect-latest=%v",
		pats(p.Include), pats(p.Exclude), p.KeepLatest, p.OlderThan, p.DeleteReferrers, p.Untagged, p.UntagWithPlaceholder, p.UntagFirstAt, p.ProtectLatest)
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
	for d, v := range g.Absent {
		c.Absent[d] = v
	}
	c.Finish()
	return c
}

var propTagPool = []string{
	"pr-1", "pr-2", "pr-3", "pr-4", "pr-5", "pr-12", "latest", "main", "nightly",
	"v1.0.0", "v1.2.0", "1.0.0-rc.1", "1.0.0-rc.2", "v2.0.0", "1.3", "sha-abc",
	"v3", "20240101", "01.2.3", "1.0.0-amd64", "edge",
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
			// Where discovery would place the subject: this repository (a
			// subject field, a payload naming it), another one
			// (COSIGN_REPOSITORY), or nowhere said.
			m.SubjectRepository = []string{"", g.Repository, "registry.test/other"}[r.IntN(3)]
			switch r.IntN(4) {
			case 3: // an OCI referrers fallback index (discovery gives it its tag's subject)
				m.Kind, m.Subject = graph.KindReferrer, subject
				g.SetTag("sha256-"+strings.TrimPrefix(subject, "sha256:"), d)
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
	if r.IntN(2) == 0 {
		addReleases(r, g, created)
	}
	// The last look at subjects nothing names: each answered 404, was found
	// untagged, or was not asked about (a backend that cannot).
	for i := range 3 {
		switch gone := dg(fmt.Sprint("gone", i)); r.IntN(3) {
		case 0:
			g.Absent[gone] = true
		case 1:
			g.Manifest(gone).Exists = true
		}
	}
	g.Finish()
	return g
}

// addReleases pushes releases as docker/metadata-action and buildx do:
// in push order, each release is a multi-arch index (platform manifests,
// sometimes per-platform tags and a buildx attestation without a time;
// sometimes a created annotation of its own that says nothing of its
// children) or a lone image, tagged `v1.2.3` (or `1.2.3`, the {{version}}
// form) with floating `v1.2` and `v1` that move to the newest push of their
// line, so a backport (v1.2.4 after v2.0.0) moves `v1` but not `v2`. Times
// include 1970 (ko, Bazel, nix), the future, and none.
func addReleases(r *rand.Rand, g *graph.Graph, created func() time.Time) {
	vers := []string{"1.2.3", "1.2.4", "2.0.0", "2.1.0", "1.3.0", "2.0.0-rc.1", "0.9.0"}
	r.Shuffle(len(vers), func(i, j int) { vers[i], vers[j] = vers[j], vers[i] })
	prefix := []string{"v", ""}[r.IntN(2)]
	odd := func() time.Time {
		switch r.IntN(8) {
		case 0:
			return time.Unix(0, 0).UTC() // SOURCE_DATE_EPOCH=0
		case 1:
			return testNow.Add(72 * time.Hour) // a clock far ahead
		}
		return created()
	}
	for i, v := range vers[:1+r.IntN(len(vers))] {
		tag := prefix + v
		rel := dg("rel-" + v)
		if r.IntN(3) > 0 {
			ix := g.Manifest(rel)
			ix.Kind = graph.KindIndex
			if r.IntN(3) == 0 {
				ix.Created = daysAgo(2000) // an annotation from another era
			}
			for _, arch := range []string{"amd64", "arm64"} {
				c := g.Manifest(dg("rel-" + v + "-" + arch))
				c.Kind, c.Created = graph.KindImage, odd()
				ix.Children = append(ix.Children, c.Digest)
				if r.IntN(3) == 0 {
					g.SetTag(tag+"-"+arch, c.Digest)
				}
			}
			if r.IntN(2) == 0 { // buildx attestation: a referrer inside the index, no time
				a := g.Manifest(dg("rel-" + v + "-att"))
				a.Kind, a.Subject = graph.KindReferrer, ix.Children[0]
				ix.Children = append(ix.Children, a.Digest)
			}
		} else {
			m := g.Manifest(rel)
			m.Kind, m.Created = graph.KindImage, odd()
		}
		g.SetTag(tag, rel)
		if !strings.Contains(v, "-") && r.IntN(4) > 0 {
			parts := strings.Split(v, ".")
			g.SetTag(prefix+parts[0]+"."+parts[1], rel)
			g.SetTag(prefix+parts[0], rel)
		}
		if i == 0 && r.IntN(3) == 0 {
			g.SetTag("sha-"+v, rel) // a second, non-version tag on a release
		}
	}
}

func randomPolicy(t testing.TB, r *rand.Rand) Policy {
	includes := [][]string{{"pr-*"}, {"*"}, {"v*", "1.*"}, {"pr-[1-3]", "main"}, {"*", "sha256-*"}, nil, {"v*", "[0-9]*"}, {"*", "latest"}}
	excludes := [][]string{nil, nil, {"latest"}, {"*.sig"}, {"v1.*"}, {"pr-2", "sha256-*"}}
	p := Policy{
		Include:              mustMatcher(t, includes[r.IntN(len(includes))]...),
		KeepLatest:           []int{0, 0, 1, 2, 3, 10}[r.IntN(6)],
		DeleteReferrers:      r.IntN(3) > 0,
		Untagged:             r.IntN(2) == 0,
		UntagWithPlaceholder: r.IntN(4) == 0,
		// Half the plans take the untag-first schedule whenever they delete.
		UntagFirstAt:  []int{0, 1, 2, -1}[r.IntN(4)],
		ProtectLatest: r.IntN(3) > 0,
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
	return ok && (len(m.tagsOf[d]) > 0 || man.Listed || man.Exists || man.Kind != graph.KindUnknown || len(m.parents[d]) > 0)
}

// age is the model's reading of the README: an image's age is its created
// time when plausible (2013 or later, at most a day ahead); an index's is the
// newest of the leaves below it (platform manifests, through nested
// indexes, skipping referrers) and of the plausible own times of the
// indexes on the way; one leaf of unknown age makes it unknown. Zero when
// unknown.
func (m *model) age(d string) time.Time {
	var leaves []string
	seen := map[string]bool{}
	var down func(x string)
	down = func(x string) {
		if seen[x] {
			return
		}
		seen[x] = true
		man := m.g.Manifests[x]
		var kids []string
		if man != nil {
			for _, c := range man.Children {
				if c != x && !m.isRef[c] {
					kids = append(kids, c)
				}
			}
		}
		if len(kids) == 0 {
			leaves = append(leaves, x)
		}
		for _, c := range kids {
			down(c)
		}
	}
	down(d)
	plausible := func(t time.Time) bool { return t.Year() >= 2013 && !t.After(testNow.Add(24*time.Hour)) }
	var newest time.Time
	for _, l := range leaves {
		man := m.g.Manifests[l]
		if man == nil || !plausible(man.Created) {
			return time.Time{}
		}
		if man.Created.After(newest) {
			newest = man.Created
		}
	}
	for x := range seen {
		if man := m.g.Manifests[x]; man != nil && plausible(man.Created) && man.Created.After(newest) {
			newest = man.Created
		}
	}
	return newest
}

func (m *model) oldEnough(p Policy, d string) bool {
	if p.OlderThan == 0 {
		return true
	}
	a := m.age(d)
	return !a.IsZero() && a.Before(testNow.Add(-p.OlderThan))
}

// candidate: a tag the policy's patterns offer for deletion.
func (m *model) candidate(pol Policy, tag string) bool {
	_, refName := m.refTagRE(tag)
	if refName || pol.Include == nil || !pol.Include.Match(tag) || (pol.Exclude != nil && pol.Exclude.Match(tag)) {
		return false
	}
	return !(pol.ProtectLatest && tag == "latest" && !slices.Contains(pol.Include.Patterns(), "latest"))
}

// semantics is what the policy alone decides, before graph rules, as a
// model reads it: the invariants hold for the single rule of the inputs
// and for rule sets alike.
type semantics struct {
	deletes   map[string]bool // non-referrer tags the policy deletes
	matched   map[string]bool // tags some tags pattern matched (TagDecision.Matched)
	protected map[string]bool // referrer tags an exclude pattern (or keep) protects
	untagged  map[string]bool // untagged listed manifests the policy deletes
	covers    bool            // some rule covers untagged manifests
}

// inputSemantics reads the single rule of the inputs.
func inputSemantics(m *model, pol Policy, kl map[string]bool) semantics {
	s := semantics{deletes: map[string]bool{}, matched: map[string]bool{}, protected: map[string]bool{}, untagged: map[string]bool{}, covers: pol.Untagged}
	for tag, d := range m.g.Tags {
		_, refName := m.refTagRE(tag)
		s.matched[tag] = pol.Include != nil && pol.Include.Match(tag)
		s.protected[tag] = refName && pol.Exclude != nil && pol.Exclude.Match(tag)
		s.deletes[tag] = !refName && m.candidate(pol, tag) && !kl[tag] && m.oldEnough(pol, d)
	}
	for d, man := range m.g.Manifests {
		s.untagged[d] = len(m.tagsOf[d]) == 0 && man.Listed && pol.Untagged && m.oldEnough(pol, d)
	}
	return s
}

// checkInvariants asserts properties (a)-(e) and the plan's well-formedness.
func checkInvariants(t reporter, g *graph.Graph, pol Policy, p *Plan) {
	t.Helper()
	m := newModel(g)
	kl := checkKeepLatest(t, m, pol, p)
	checkPlan(t, m, pol, inputSemantics(m, pol, kl), p)
}

// shownAfter: after plan p (its tag decisions tagDec, its deletions del),
// a tags-only registry still shows d through a tag p keeps on it or a kept
// index it shows.
func shownAfter(m *model, tagDec map[string]TagDecision, del map[string]bool, d string, seen map[string]bool) bool {
	if seen[d] {
		return false
	}
	seen[d] = true
	for _, tag := range m.tagsOf[d] {
		if tagDec[tag].Action == Keep {
			return true
		}
	}
	for _, par := range m.parents[d] {
		if !del[par] && shownAfter(m, tagDec, del, par, seen) {
			return true
		}
	}
	return false
}

// checkPlan asserts properties (a)-(e) and the plan's well-formedness
// against what the policy alone decides (sem).
func checkPlan(t reporter, m *model, pol Policy, sem semantics, p *Plan) {
	t.Helper()
	g := m.g
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
		if td.Matched != sem.matched[tag] {
			t.Errorf("tag %s Matched=%v, want %v", tag, td.Matched, sem.matched[tag])
		}
		if td.Action != Keep && ((!refName && !sem.deletes[tag]) || (refName && sem.protected[tag] && pol.DeleteReferrers)) {
			t.Errorf("(a) tag %s is kept by policy but planned %s", tag, td.Action)
		}
		if td.Action == Untag {
			if !sem.deletes[tag] {
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
		// (c) with delete-referrers, no kept referrer is left dangling
		// (on a tags-only registry: none the registry still shows).
		if pol.DeleteReferrers {
			for _, r := range m.refsOf[d] {
				if !del[r] && (!caps.TagsOnly || shownAfter(m, tagDec, del, r, map[string]bool{})) {
					t.Errorf("(c) %s deleted but kept referrer %s points at it", d, r)
				}
			}
		}
		if man.Undeletable != "" || !(caps.DeleteManifest || caps.TagsOnly) || (caps.TagsOnly && len(m.tagsOf[d]) == 0) {
			t.Errorf("%s deleted though the registry cannot delete it", d)
		}
		// (d) justified.
		if !justified(m, pol, sem, d, del) {
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
	if sem.covers && !caps.ListUntagged && !containsSub(p.Warnings, "cannot list untagged") {
		t.Errorf("no warning that untagged is unavailable")
	}
}

// justified: (d) a deleted manifest has a reason in the policy.
func justified(m *model, pol Policy, sem semantics, d string, del map[string]bool) bool {
	man := m.g.Manifests[d]
	tags := m.tagsOf[d]
	caps := m.g.Capabilities
	// Matched: every tag a candidate that passed every rule.
	if !m.isRef[d] && len(tags) > 0 {
		all := true
		for _, tag := range tags {
			if !sem.deletes[tag] {
				all = false
			}
		}
		if all {
			return true
		}
	}
	// Untagged.
	if sem.untagged[d] {
		return true
	}
	if m.isRef[d] && pol.DeleteReferrers {
		s := m.subject[d]
		// An orphan only when proven: its subject answered 404 here, and
		// the referrer places it in this repository.
		if s != "" && !m.exists(s) && m.g.Absent[s] && strings.EqualFold(man.SubjectRepository, m.g.Repository) {
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

// modelVersions resolves the candidate tags to versions: full ones as they
// are (a per-platform ending dropped), partial ones (`v2`, `v2.0`, `1.3`,
// a bare `2` only when a release of 2 is there) to the highest release of
// their line among the tags, else the line's first release.
func modelVersions(tags []string) map[string]*semver.Version {
	// Optional v, one to three numbers without leading zeros, then
	// pre-release/build.
	versionRE := regexp.MustCompile(`^([vV]?)(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?((?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$`)
	type pv struct {
		full      *semver.Version
		nums      []uint64
		bare      bool
		isPartial bool
	}
	read := map[string]pv{}
	var releases []*semver.Version
	for _, tag := range tags {
		s := tag
		for _, a := range []string{"-amd64", "-arm64"} {
			s = strings.TrimSuffix(s, a)
		}
		g := versionRE.FindStringSubmatch(s)
		if g == nil {
			continue
		}
		var nums []uint64
		for _, x := range g[2:5] {
			if x != "" {
				n, _ := strconv.ParseUint(x, 10, 64)
				nums = append(nums, n)
			}
		}
		switch {
		case len(nums) == 3 || (len(nums) == 2 && g[5] != ""):
			for len(nums) < 3 {
				nums = append(nums, 0)
			}
			v, err := semver.StrictNewVersion(fmt.Sprintf("%d.%d.%d%s", nums[0], nums[1], nums[2], g[5]))
			if err != nil {
				continue
			}
			read[tag] = pv{full: v}
			if v.Prerelease() == "" {
				releases = append(releases, v)
			}
		case g[5] == "":
			read[tag] = pv{nums: nums, bare: len(nums) == 1 && g[1] == "", isPartial: true}
		}
	}
	out := map[string]*semver.Version{}
	for tag, x := range read {
		if !x.isPartial {
			out[tag] = x.full
			continue
		}
		var best *semver.Version
		for _, rv := range releases {
			if rv.Major() == x.nums[0] && (len(x.nums) == 1 || rv.Minor() == x.nums[1]) && (best == nil || rv.GreaterThan(best)) {
				best = rv
			}
		}
		if best == nil && !x.bare {
			minor := uint64(0)
			if len(x.nums) == 2 {
				minor = x.nums[1]
			}
			best = semver.New(x.nums[0], minor, 0, "", "")
		}
		if best != nil {
			out[tag] = best
		}
	}
	return out
}

// checkKeepLatest is a brute-force model of keep-latest: it groups
// candidate tags into images (a manifest no index lists, with everything
// below it), ranks every image by counting the images strictly ahead of it
// in the README's order, and compares the plan's keep-latest decisions,
// ranking and ignored tags with it. It returns the tags keep-latest keeps
// (ranked among the newest N, or unranked).
func checkKeepLatest(t reporter, m *model, pol Policy, p *Plan) map[string]bool {
	t.Helper()
	tagDec := map[string]TagDecision{}
	for _, td := range p.Tags {
		tagDec[td.Tag] = td
	}
	kept := map[string]bool{}
	if pol.KeepLatest == 0 {
		for _, td := range tagDec {
			if td.Rule == RuleKeepLatest || td.Rule == RuleNotVersion {
				t.Errorf("keep-latest off but %s kept by it", td.Tag)
			}
		}
		if p.Ranking != "" || len(p.IgnoredTags) > 0 {
			t.Errorf("keep-latest off but ranking %q, ignored %v", p.Ranking, p.IgnoredTags)
		}
		return kept
	}
	var cands []string
	for tag, d := range m.g.Tags {
		if m.candidate(pol, tag) && !m.isRef[d] {
			cands = append(cands, tag)
		}
	}
	sort.Strings(cands)
	keptKL, unrankedKL, wantRanking, wantIgnored, _ := modelKeepLatest(m, cands, pol.KeepLatest)
	if p.Ranking != wantRanking || !slices.Equal(p.IgnoredTags, wantIgnored) {
		t.Errorf("ranking %q ignoring %v, want %q ignoring %v", p.Ranking, p.IgnoredTags, wantRanking, wantIgnored)
	}
	for _, tag := range cands {
		byKL, byUnranked := keptKL[tag], unrankedKL[tag]
		td := tagDec[tag]
		switch {
		case byKL:
			kept[tag] = true
			if td.Rule != RuleKeepLatest || td.Action != Keep {
				t.Errorf("keep-latest: %s is among the newest %d images but planned %s/%s (%s)", tag, pol.KeepLatest, td.Action, td.Rule, td.Reason)
			}
		case byUnranked:
			kept[tag] = true
			if td.Action != Keep || (td.Rule != RuleNotVersion && td.Rule != RuleAgeUnknown) {
				t.Errorf("keep-latest: %s cannot be ranked but planned %s/%s (%s)", tag, td.Action, td.Rule, td.Reason)
			}
		case td.Rule == RuleKeepLatest || td.Rule == RuleNotVersion:
			t.Errorf("keep-latest: %s is not among the newest %d images but kept by %s (%s)", tag, pol.KeepLatest, td.Rule, td.Reason)
		}
	}
	return kept
}

// modelKeepLatest is the brute-force keep-latest over candidate tags
// (sorted, none on a referrer): the tags it keeps among the newest keep
// images, the tags it cannot rank, how it ranks and the tags it ignores,
// and the roots of the images it keeps (true) or cannot rank (false).
func modelKeepLatest(m *model, cands []string, keep int) (kept, unrankedTags map[string]bool, wantRanking string, wantIgnored []string, roots map[string]bool) {
	// below[r]: every manifest reachable from r through index entries.
	below := func(r string) map[string]bool {
		out := map[string]bool{}
		var walk func(x string)
		walk = func(x string) {
			if out[x] {
				return
			}
			out[x] = true
			if man := m.g.Manifests[x]; man != nil {
				for _, c := range man.Children {
					walk(c)
				}
			}
		}
		walk(r)
		return out
	}
	isRoot := func(d string) bool {
		for _, par := range m.parents[d] {
			if !m.isRef[par] {
				return false
			}
		}
		return true
	}
	type img struct {
		root    string
		tags    []string
		version *semver.Version
		created time.Time
		index   bool
		rootTag string
	}
	var imgs []*img
	imagesOf := map[string][]*img{} // tag -> the images it belongs to
	for _, r := range m.g.SortedDigests() {
		if !isRoot(r) || m.isRef[r] {
			continue
		}
		in := below(r)
		im := &img{root: r, created: m.age(r), index: len(m.g.Manifests[r].Children) > 0}
		for _, tag := range cands {
			if in[m.g.Tags[tag]] {
				im.tags = append(im.tags, tag)
				imagesOf[tag] = append(imagesOf[tag], im)
				if m.g.Tags[tag] == r {
					im.rootTag = tag
				}
			}
		}
		if len(im.tags) > 0 {
			imgs = append(imgs, im)
		}
	}
	versions := modelVersions(cands)
	byVersion := len(versions) > 0
	wantRanking, wantIgnored = RankCreated, nil
	if byVersion {
		wantRanking = RankVersion
		for _, tag := range cands {
			if versions[tag] == nil {
				wantIgnored = append(wantIgnored, tag)
			}
		}
	}
	if len(cands) == 0 {
		wantRanking = ""
	}
	for _, im := range imgs {
		for _, tag := range im.tags {
			if v := versions[tag]; v != nil && (im.version == nil || v.GreaterThan(im.version)) {
				im.version = v
			}
		}
	}
	rankable := func(im *img) bool {
		if byVersion {
			return im.version != nil
		}
		return !im.created.IsZero()
	}
	ahead := func(a, b *img) bool { // a ranks strictly before b
		if byVersion {
			if c := a.version.Compare(b.version); c != 0 {
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
	keptImg, unranked := map[*img]bool{}, map[*img]bool{}
	for _, im := range imgs {
		if !rankable(im) {
			unranked[im] = true
			continue
		}
		n := 0
		for _, o := range imgs {
			if o != im && rankable(o) && ahead(o, im) {
				n++
			}
		}
		if n < keep {
			keptImg[im] = true
		}
	}
	kept, unrankedTags, roots = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for im := range keptImg {
		roots[im.root] = true
	}
	for im := range unranked {
		roots[im.root] = false
	}
	for _, tag := range cands {
		for _, im := range imagesOf[tag] {
			kept[tag] = kept[tag] || keptImg[im]
			unrankedTags[tag] = unrankedTags[tag] || unranked[im]
		}
		if kept[tag] {
			unrankedTags[tag] = false
		}
	}
	return kept, unrankedTags, wantRanking, wantIgnored, roots
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

// TestRecheckProperties: after random tag moves between planning and
// deleting, the re-checked plan only does what both plans do and never
// removes what the fresh plan keeps.
func TestRecheckProperties(t *testing.T) {
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
		got := orig.Recheck(fresh)
		var rec recorder
		checkRecheck(&rec, orig, fresh, got)
		if len(rec.msgs) > 0 {
			t.Fatalf("seed %d:\n%s\norig:\n%s\nfresh:\n%s\ngot:\n%s", seed, strings.Join(rec.msgs, "\n"), orig, fresh, got)
		}
	}
}

func checkRecheck(t reporter, orig, fresh, got *Plan) {
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
