package ghpackages

import (
	"strings"

	"github.com/regsweep/regsweep/internal/graph"
)

// markAbsent records in g.Absent the subjects that are not in the package.
// The versions listing is complete (every page, tagged and untagged
// versions alike, or discovery fails), so a subject it does not name and
// no index lists is not here: looking it up by digest could say no more.
// It proves an orphan only where the referrer places its subject in this
// package (an OCI subject field, a fallback tag); a cosign signature names
// its subject by tag alone, and cosign's COSIGN_REPOSITORY keeps such
// signatures apart from their images, so those stay unproven. At the
// re-check before deleting, a subject pushed meanwhile is a listed
// version again, and keeps its referrers.
func markAbsent(g *graph.Graph) {
	here := map[string]bool{}
	for _, m := range g.Manifests {
		if m.Listed {
			here[m.Digest] = true
		}
		for _, c := range m.Children {
			here[c] = true
		}
	}
	for _, d := range g.Tags {
		here[d] = true
	}
	for _, d := range g.SortedDigests() {
		s := g.Manifests[d].Subject
		if s != "" && s != d && strings.HasPrefix(s, "sha256:") && !here[s] {
			g.Absent[s] = true
		}
	}
}
