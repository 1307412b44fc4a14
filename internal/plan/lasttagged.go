package plan

import (
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

// lastTaggedReason is GitHub's rule, known before deleting: it refuses to
// delete a package's last tagged version, asking to delete the package
// instead.
const lastTaggedReason = "GitHub refuses to delete a package's last tagged version (it asks to delete the package instead), " +
	"and the plan deletes every tagged version: the newest is kept"

// keepLastTagged applies the registry's last-tagged-version rule (graph
// Capabilities.KeepsLastTagged) to a deletion set: when del holds every
// tagged manifest, the newest of them that nothing else in del holds (not
// a platform manifest of a deleted index, not a referrer) is kept as
// undeletable, so that the plan keeps it whole, with its platform
// manifests and signatures, instead of learning the rule from a refusal
// after its signatures are gone. It reports whether static changed; the
// caller then computes the deletion set again.
func (b *builder) keepLastTagged(del map[string]bool, static map[string]verdict) bool {
	if !b.g.Capabilities.KeepsLastTagged {
		return false
	}
	var tagged []string
	for _, d := range b.digests {
		if len(b.tagsOf[d]) == 0 {
			continue
		}
		if !del[d] {
			return false // a tagged version stays
		}
		tagged = append(tagged, d)
	}
	if len(tagged) == 0 {
		return false
	}
	root := func(d string) bool {
		if b.isRef[d] {
			return false
		}
		for _, p := range b.parents[d] {
			if del[p] {
				return false
			}
		}
		return true
	}
	best := ""
	better := func(d string) bool {
		if best == "" {
			return true
		}
		if rd, rb := root(d), root(best); rd != rb {
			return rd
		}
		if td, tb := pushedOrCreated(b.man[d]), pushedOrCreated(b.man[best]); !td.Equal(tb) {
			return td.After(tb)
		}
		return d > best
	}
	for _, d := range tagged {
		if better(d) {
			best = d
		}
	}
	static[best] = verdict{RuleUndeletable, lastTaggedReason}
	b.lastTagged = best
	return true
}

// pushedOrCreated is when a version became what it is, for "newest": the
// registry's push time where it says, else the image's creation time.
func pushedOrCreated(m *graph.Manifest) time.Time {
	if !m.Pushed.IsZero() {
		return m.Pushed
	}
	return m.Created
}
