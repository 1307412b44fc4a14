package plan

import (
	"fmt"
	"time"
)

// ageResult is a manifest's age: its creation time, or why it is unknown.
type ageResult struct {
	t       time.Time // zero when unknown
	unknown string    // why it is unknown, a clause for a reason
}

// plausible says whether t can be a creation time. Nothing was built as an
// OCI image before 2013; ko, Bazel rules_oci, nix and SOURCE_DATE_EPOCH=0
// write 1970 for reproducibility, and a clock far ahead is as wrong. Such a
// time says nothing about when the image was made, so it counts as unknown.
func (b *builder) plausible(t time.Time) bool {
	return !t.IsZero() && t.UTC().Year() >= 2013 && !t.After(b.now.Add(24*time.Hour))
}

// age is a manifest's creation time, zero when unknown.
func (b *builder) age(d string) time.Time { return b.ageOf(d).t }

// ageOf is a manifest's age. An image's is its own creation time. An
// index is as young as its youngest part: its newest child's time, or its
// own when that is newer (a push time, such as a GitHub Packages version's);
// an older annotation of its own never hides a new child. A child of unknown
// age makes the index's unknown, except an attestation or other referrer
// (buildx lists them in the index, without a time). An index whose entries
// are all referrers has its own time.
func (b *builder) ageOf(d string) ageResult {
	if r, ok := b.ages[d]; ok {
		return r
	}
	// Met again before it is known: an index listing itself through others.
	b.ages[d] = ageResult{unknown: "its index lists itself"}
	r := b.computeAge(d)
	b.ages[d] = r
	return r
}

func (b *builder) computeAge(d string) ageResult {
	m, ok := b.man[d]
	if !ok {
		return ageResult{unknown: fmt.Sprintf("%s was not read", d)}
	}
	var newest time.Time
	children := 0
	for _, c := range uniq(m.Children) {
		if c == d || b.isRef[c] {
			continue
		}
		children++
		cr := b.ageOf(c)
		if cr.t.IsZero() {
			return ageResult{unknown: fmt.Sprintf("its platform manifest %s: %s", c, cr.unknown)}
		}
		if cr.t.After(newest) {
			newest = cr.t
		}
	}
	switch {
	case children > 0:
		if b.plausible(m.Created) && m.Created.After(newest) {
			newest = m.Created
		}
		return ageResult{t: newest}
	case m.Created.IsZero():
		return ageResult{unknown: "its creation time is unknown"}
	case !b.plausible(m.Created):
		return ageResult{unknown: fmt.Sprintf("its creation time %s is not plausible (before 2013 or in the future)", m.Created.UTC().Format(time.RFC3339))}
	}
	return ageResult{t: m.Created}
}
