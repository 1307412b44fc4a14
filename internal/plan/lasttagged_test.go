package plan

import (
	"testing"

	"github.com/regsweep/regsweep/internal/graph"
)

// TestKeepLastTagged: GitHub refuses to delete a package's last tagged
// version. When the plan would delete every tagged version, it keeps the
// newest one that nothing deleted holds, whole (platform manifests and
// signature too), with the rule undeletable; otherwise the rule changes
// nothing.
func TestKeepLastTagged(t *testing.T) {
	caps := capsGitHub
	caps.KeepsLastTagged = true
	pkg := func(caps graph.Capabilities, latest bool) *graph.Graph {
		f := newFx(caps).
			index("new", daysAgo(1), []string{"new-amd64", "new-arm64"}, "pr-2").
			sig("new-sig", "new").
			img("old", daysAgo(9), "pr-1")
		if latest {
			f.img("main", daysAgo(20), "latest")
		}
		return f.done()
	}
	pol := Policy{Include: mustMatcher(t, "pr-*"), DeleteReferrers: true, ProtectLatest: true}
	tests := []struct {
		name string
		g    *graph.Graph
		want map[string]Action
		rule Rule
	}{
		{
			name: "every-tagged-version-deleted-keeps-newest-whole",
			g:    pkg(caps, false),
			want: map[string]Action{"new": Keep, "new-amd64": Keep, "new-arm64": Keep, "new-sig": Keep, "old": Delete},
			rule: RuleUndeletable,
		},
		{
			name: "a-tagged-version-stays",
			g:    pkg(caps, true),
			want: map[string]Action{"new": Delete, "new-amd64": Delete, "new-arm64": Delete, "new-sig": Delete, "old": Delete, "main": Keep},
		},
		{
			name: "registry-without-the-rule",
			g:    pkg(capsGitHub, false),
			want: map[string]Action{"new": Delete, "new-amd64": Delete, "new-arm64": Delete, "new-sig": Delete, "old": Delete},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Build(tt.g, pol, testNow)
			for name, want := range tt.want {
				md, ok := manifestByName(p, name)
				if !ok || md.Action != want {
					t.Errorf("%s: %+v, want %s", name, md, want)
				}
			}
			if tt.rule != "" {
				md, _ := manifestByName(p, "new")
				td, _ := tagByName(p, "pr-2")
				if md.Rule != tt.rule || td.Action != Keep || td.Rule != tt.rule {
					t.Errorf("new: %+v, pr-2: %+v; want both kept by %s", md, td, tt.rule)
				}
			}
		})
	}
}
