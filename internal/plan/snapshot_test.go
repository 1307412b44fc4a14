package plan

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"
)

// representative is a release repository: multi-arch releases, PR images,
// a PR tag sharing latest's digest, signatures, an orphan signature.
func representative() *fx {
	f := newFx(capsOCI3)
	for i, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0-rc.1", "v1.3.0"} {
		name := "rel-" + v
		f.img(name+"-amd64", daysAgo(100-10*i)).img(name+"-arm64", daysAgo(100-10*i)).
			index(name, time.Time{}, []string{name + "-amd64", name + "-arm64"}, v).
			sig(name+"-sig", name)
	}
	f.g.SetTag("latest", dg("rel-v1.3.0"))
	f.img("pr-1", daysAgo(60), "pr-1").img("pr-2", daysAgo(2), "pr-2").
		img("pr-3", daysAgo(45), "pr-3", "pr-3-abc123").
		ref("pr-1-sbom", "pr-1").
		sig("orphan-sig", "long-gone").absent("long-gone", "orphan-sig")
	f.g.SetTag("pr-4", dg("rel-v1.3.0")) // a PR built from the release commit
	return f
}

func TestPlanStringSnapshot(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
	}{
		{"prs older than 30 days", Policy{Include: mustMatcher(t, "pr-*"), OlderThan: 30 * 24 * time.Hour, DeleteReferrers: true}},
		{"keep latest 2 releases", Policy{Include: mustMatcher(t, "v*"), KeepLatest: 2, DeleteReferrers: true}},
		{"everything but latest, referrers kept", Policy{Include: mustMatcher(t, "*"), Exclude: mustMatcher(t, "latest")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Build(representative().done(), tt.policy, testNow)
			checkInvariants(t, representative().done(), tt.policy, p)
			snaps.MatchSnapshot(t, p.String())
		})
	}
}

func TestPlanJSONSnapshot(t *testing.T) {
	g := newFx(capsGitHub).img("a", daysAgo(40), "pr-1").img("b", daysAgo(40), "latest", "pr-2").
		listed("u", daysAgo(40)).ref("r", "a").done()
	p := Build(g, Policy{Include: mustMatcher(t, "pr-*"), DeleteReferrers: true, Untagged: true, OlderThan: 7 * 24 * time.Hour}, testNow)
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	snaps.MatchSnapshot(t, string(out))
}
