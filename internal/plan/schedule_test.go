package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/graph"
)

// TestUntagFirstSchedule: the tags of doomed manifests go first exactly when
// the registry can untag (known), deletes by digest, and the plan deletes at
// least the threshold; NeedsUntagProbe asks when untag support is unknown.
func TestUntagFirstSchedule(t *testing.T) {
	unknown := graph.Capabilities{DeleteManifest: true}
	no := graph.Capabilities{DeleteManifest: true, Untag: graph.No}
	tagsOnly := graph.Capabilities{Untag: graph.Yes, TagsOnly: true}
	tests := []struct {
		name    string
		caps    graph.Capabilities
		images  int
		at      int
		first   bool // untag-first ops in the plan
		probe   bool // NeedsUntagProbe
		wantOps int  // ops in the plan
	}{
		{"default threshold reached", capsOCI3, DefaultUntagFirstAt, 0, true, false, 2 * DefaultUntagFirstAt},
		{"one below the default", capsOCI3, DefaultUntagFirstAt - 1, 0, false, false, DefaultUntagFirstAt - 1},
		{"forced on a small sweep", capsOCI3, 3, 1, true, false, 6},
		{"forbidden", capsOCI3, DefaultUntagFirstAt, -1, false, false, DefaultUntagFirstAt},
		{"untag unknown: probe first", unknown, DefaultUntagFirstAt, 0, false, true, DefaultUntagFirstAt},
		{"untag unknown, small sweep: no probe", unknown, 3, 0, false, false, 3},
		{"cannot untag (distribution 2.8)", no, DefaultUntagFirstAt, 0, false, false, DefaultUntagFirstAt},
		{"tags-only registry (Docker Hub)", tagsOnly, DefaultUntagFirstAt, 0, false, false, DefaultUntagFirstAt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFx(tt.caps).img("release", daysAgo(10), "v1", "latest")
			for i := range tt.images {
				f.img(fmt.Sprintf("pr-%d", i), daysAgo(5), fmt.Sprintf("pr-%d", i))
			}
			g := f.done()
			pol := Policy{Include: mustMatcher(t, "pr-*"), UntagFirstAt: tt.at}
			p := Build(g, pol, testNow)
			checkInvariants(t, g, pol, p)
			ops, first := 0, 0
			for i, ph := range p.Phases {
				for _, op := range ph {
					ops++
					if op.BeforeDelete {
						first++
						if i != 0 {
							t.Errorf("untag-first op %v in phase %d", op, i)
						}
					}
				}
			}
			if (first > 0) != tt.first || ops != tt.wantOps {
				t.Errorf("%d ops, %d untag-first; want %d ops, untag-first %v", ops, first, tt.wantOps, tt.first)
			}
			if tt.first && first != tt.images {
				t.Errorf("%d untag-first ops for %d single-tag images", first, tt.images)
			}
			if got := p.NeedsUntagProbe(); got != tt.probe {
				t.Errorf("NeedsUntagProbe = %v, want %v", got, tt.probe)
			}
			if tt.first && !strings.Contains(p.String(), "untag  pr-0 (") {
				t.Errorf("the dry-run text does not show the untag-first op:\n%s", p.String())
			}
		})
	}
}
