package plan

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

// decisions is a plan's actions and rules by tag and manifest: what two
// plans must agree on when only the words for an age's source differ.
func decisions(p *Plan) map[string]string {
	out := map[string]string{}
	for _, t := range p.Tags {
		out["t:"+t.Tag] = string(t.Action) + "/" + string(t.Rule)
	}
	for _, m := range p.Manifests {
		out["m:"+m.Digest] = string(m.Action) + "/" + string(m.Rule)
	}
	return out
}

// withTimes gives every manifest of g a random push and pull time (some
// unknown, some implausible) and a backend that reports both.
func withTimes(r *rand.Rand, g *graph.Graph) {
	g.Capabilities.PushTimes, g.Capabilities.PullTimes = true, r.IntN(4) > 0
	for _, d := range g.SortedDigests() {
		m := g.Manifests[d]
		switch r.IntN(9) {
		case 0: // unknown
		case 1:
			m.Pushed = time.Unix(0, 0).UTC() // a 1970 push: not a time
		default:
			m.Pushed = daysAgo(r.IntN(90))
		}
		if r.IntN(3) == 0 {
			m.Pulled = daysAgo(r.IntN(60))
		}
	}
}

// setTimeRules gives every rule of p the same age-from and pulled-within.
func setTimeRules(p Policy, from AgeFrom, within time.Duration) Policy {
	p.AgeFrom, p.PulledWithin = from, within
	rules := append([]RetentionRule(nil), p.Rules...)
	for i := range rules {
		rules[i].AgeFrom, rules[i].PulledWithin = from, within
	}
	p.Rules = rules
	return p
}

// TestAgeFromProperties: on random graphs and policies (single rules and
// rule sets), with random push and pull times,
//   - age-from created decides exactly as if the backend reported no push
//     times: push times never leak into it;
//   - age-from pushed decides exactly as age-from created would on a graph
//     whose creation times are the push times: the one age function reads
//     the time it is told to, with the same rules (plausibility, an index
//     as young as its youngest part);
//   - pulled-within only ever keeps more, and nothing deleted (other than a
//     referrer, which follows its subject) was pulled within the window,
//     itself or through a platform manifest; where the backend reports no
//     pulls, no tag any rule covers is deleted.
func TestAgeFromProperties(t *testing.T) {
	for seed := range propertySeeds(t, 750) {
		r := rand.New(rand.NewPCG(seed, 0xa9e5))
		g := randomGraph(r)
		withTimes(r, g)
		var pol Policy
		if r.IntN(2) == 0 {
			pol = randomPolicy(t, r)
		} else {
			pol = randomRuleSet(t, r)
		}
		fail := func(format string, args ...any) {
			t.Fatalf("seed %d: "+format+"\ncaps %+v\n%s", append(append([]any{seed}, args...), g.Capabilities, dumpGraph(g))...)
		}

		created := setTimeRules(pol, AgeFromCreated, 0)
		noPush := cloneGraph(g)
		noPush.Capabilities.PushTimes = false
		for _, m := range noPush.Manifests {
			m.Pushed = time.Time{}
		}
		if a, b := decisions(Build(g, created, testNow)), decisions(Build(noPush, created, testNow)); !equalMaps(a, b) {
			fail("age-from created reads push times:\n%v\n%v", a, b)
		}

		pushed := setTimeRules(pol, AgeFromPushed, 0)
		swapped := cloneGraph(g)
		swapped.Capabilities.PushTimes = false
		for _, m := range swapped.Manifests {
			m.Created, m.Pushed = m.Pushed, time.Time{}
		}
		pp := Build(g, pushed, testNow)
		if a, b := decisions(pp), decisions(Build(swapped, created, testNow)); !equalMaps(a, b) {
			fail("age-from pushed is not age-from created over push times:\n%v\n%v", a, b)
		}
		for _, md := range pp.Manifests {
			if md.AgeSource != SourcePushed && md.AgeSource != SourceUnknown || (md.AgeSource == SourceUnknown) != md.Age.IsZero() {
				fail("manifest %s: age %v from %q under age-from pushed", md.Digest, md.Age, md.AgeSource)
			}
		}

		within := time.Duration(1+r.IntN(45)) * 24 * time.Hour
		base := setTimeRules(pol, AgeFromDefault, 0)
		pulls := setTimeRules(pol, AgeFromDefault, within)
		pb, pw := Build(g, base, testNow), Build(g, pulls, testNow)
		was := map[string]bool{}
		for _, d := range pb.DeletedDigests() {
			was[d] = true
		}
		m := newModel(g)
		for _, d := range pw.DeletedDigests() {
			if !was[d] {
				fail("pulled-within %s deleted %s, which the policy without it keeps", within, d)
			}
			if m.isRef[d] {
				continue
			}
			if last := m.lastPull(d, map[string]bool{}); !last.IsZero() && last.After(testNow.Add(-within)) {
				fail("%s was pulled %s, within %s, and deleted", d, last, within)
			}
		}
		if !g.Capabilities.PullTimes {
			for _, td := range pw.Tags {
				if td.Action != Keep && !(td.Action == Delete && strings.HasPrefix(td.Reason, "deleted with its image")) {
					fail("tag %s: %s/%s (%s) where pulls are not reported", td.Tag, td.Action, td.Rule, td.Reason)
				}
			}
		}
	}
}

// lastPull is the newest pull of d or of a platform manifest it lists:
// a child that is a referrer (an attestation buildx lists in the index, or
// a manifest with a cosign tag) is no platform, and its pull (a scanner
// reading an SBOM, cosign verifying) says nothing about the image's use.
// Referrers are the model's isRef, read as every backend marks them: by
// kind, subject field or referrer tag. Reading them by kind and subject
// only, as this once did, counted the pull of a child that the random
// graphs make and no backend reports: an image manifest with a cosign tag
// yet no referrer kind (Docker Hub, GitHub Packages and the OCI backend
// all make such a manifest a referrer).
func (m *model) lastPull(d string, seen map[string]bool) time.Time {
	man := m.g.Manifests[d]
	if man == nil || seen[d] {
		return time.Time{}
	}
	seen[d] = true
	t := man.Pulled
	for _, c := range man.Children {
		if m.isRef[c] {
			continue
		}
		if ct := m.lastPull(c, seen); ct.After(t) {
			t = ct
		}
	}
	return t
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
