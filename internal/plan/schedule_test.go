package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/graph"
)

// TestUntagFirstSchedule: the tags of doomed manifests go first exactly when
// the registry can untag (known), deletes by digest (not versions by id),
// and the plan deletes at least the threshold; NeedsUntagProbe asks when untag support is unknown.
func TestUntagFirstSchedule(t *testing.T) {
	unknown := graph.Capabilities{DeleteManifest: true}
	no := graph.Capabilities{DeleteManifest: true, Untag: graph.No}
	tagsOnly := graph.Capabilities{Untag: graph.Yes, TagsOnly: true}
	// GitHub Packages with ghcr-untag-workaround: it can untag (three
	// requests a tag), but deletes versions by id, reading no tags.
	ghWorkaround := graph.Capabilities{DeleteManifest: true, Untag: graph.Yes, ListsDigests: true, VersionDeletes: true}
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
		{"deletes versions by id (GitHub Packages)", ghWorkaround, DefaultUntagFirstAt, 0, false, false, DefaultUntagFirstAt},
		{"deletes versions by id, forced", ghWorkaround, 3, 1, false, false, 3},
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

// TestUntagFirstPays: the schedule weighs the reads of doomed tags that
// removing them first saves against the requests it adds (see
// untagFirstPays), at the default threshold.
func TestUntagFirstPays(t *testing.T) {
	// n deletions in phase, each removing tags tags.
	many := func(n, phase, tags int) []scheduled {
		out := make([]scheduled, n)
		for i := range out {
			out[i] = scheduled{phase: phase, tags: tags}
		}
		return out
	}
	at := DefaultUntagFirstAt
	tests := []struct {
		name string
		ds   []scheduled
		want bool
	}{
		{"single-tag images, at the threshold", many(at, 0, 1), true},
		{"single-tag images, one below", many(at-1, 0, 1), false},
		{"three tags per image, at the threshold: cost and savings both triple", many(at, 0, 3), true},
		{"three tags per image, one below", many(at-1, 0, 3), false},
		// 30 multi-arch images: 30 tagged indexes, then 240 platform
		// manifests, deleted after them, that read no doomed tag.
		{"multi-arch: children deleted after the tags went", append(many(30, 0, 1), many(240, 1, 0)...), false},
		// Signed images: the signatures (tagged .sig) go first, so each
		// image's tag is read by every signature's DELETE too.
		{"signed images", append(many(at/2, 0, 1), many(at/2, 1, 1)...), true},
		{"untagged manifests deleted with a few tagged ones read their tags", append(many(10, 0, 1), many(2*at, 0, 0)...), true},
		{"untagged manifests only: nothing to remove first", many(2*at, 0, 0), false},
		{"nothing", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := untagFirstPays(at, tt.ds); got != tt.want {
				t.Errorf("untagFirstPays = %v, want %v", got, tt.want)
			}
		})
	}
	// Forcing (1) takes it for any deletion that removes a tag.
	if !untagFirstPays(1, many(1, 0, 1)) {
		t.Error("UntagFirstAt 1 does not force the schedule on one tagged deletion")
	}
}

// TestUntagFirstMultiArch: 100 multi-arch images are 300 deletions, but
// their platform manifests are deleted after their index, whose DELETE took
// the tag: each of the 100 tags would be read by 50 DELETEs on average,
// short of the 75 that pay for its request. The plan keeps one DELETE per
// manifest, and asks for no probe (the count of deletions alone took the
// untag-first schedule here).
func TestUntagFirstMultiArch(t *testing.T) {
	for _, caps := range []graph.Capabilities{capsOCI3, {DeleteManifest: true}} {
		f := newFx(caps).img("release", daysAgo(10), "latest")
		for i := range 100 {
			f.index(fmt.Sprintf("i%d", i), daysAgo(5), []string{fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)}, fmt.Sprintf("pr-%d", i))
		}
		g := f.done()
		pol := Policy{Include: mustMatcher(t, "pr-*")}
		p := Build(g, pol, testNow)
		checkInvariants(t, g, pol, p)
		n := 0
		for _, ph := range p.Phases {
			for _, op := range ph {
				if op.BeforeDelete {
					t.Fatalf("untag-first op %v for 100 indexes and their 200 children", op)
				}
				n++
			}
		}
		if n != 300 || p.NeedsUntagProbe() {
			t.Errorf("%d ops (want 300), NeedsUntagProbe %v (want false)", n, p.NeedsUntagProbe())
		}
	}
}
