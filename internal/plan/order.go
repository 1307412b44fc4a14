package plan

import (
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// parseVersion parses a tag as a semantic version, or returns nil. It
// accepts `1.2`, `1.2.3`, `v1.2.3`, with optional pre-release and build
// metadata. A bare number (`7`, `20240101`, a commit id of digits) is NOT a
// version: it would otherwise turn every numeric tag scheme into "semver" by
// accident.
func parseVersion(tag string) *semver.Version {
	s := strings.TrimPrefix(strings.TrimPrefix(tag, "v"), "V")
	core, rest := s, ""
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		core, rest = s[:i], s[i:]
	}
	switch strings.Count(core, ".") {
	case 1:
		core += ".0"
	case 2:
	default:
		return nil
	}
	v, err := semver.StrictNewVersion(core + rest)
	if err != nil {
		return nil
	}
	return v
}

// image is one keep-latest unit: a distinct digest and its candidate tags.
type image struct {
	digest  string
	tags    []string // sorted
	created time.Time
	version *semver.Version // highest version among tags (semver mode)
}

// rankImages orders images newest first and returns them.
//
// Keep-latest counts IMAGES (distinct digests), not tag names: two matching
// tags on one digest are one image, which is what "keep the last 10 images"
// means and what deletion works on. Order:
//   - semver mode (every candidate tag parses as a version): the image's
//     highest version, newest first (pre-releases before their release:
//     1.0.0-rc.2 < 1.0.0);
//   - otherwise the image's creation time (for an index, the newest of its
//     own and its children's), newest first;
//   - ties: newer creation time, then the greatest tag name, then the
//     greatest digest.
//
// In time mode an image whose creation time is unknown cannot be ranked; it
// is returned in unranked and the caller keeps it (age-unknown) without
// counting it.
func rankImages(imgs []*image, semverMode bool) (ranked, unranked []*image) {
	for _, im := range imgs {
		if !semverMode && im.created.IsZero() {
			unranked = append(unranked, im)
			continue
		}
		ranked = append(ranked, im)
	}
	sort.SliceStable(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		if semverMode {
			if c := a.version.Compare(b.version); c != 0 {
				return c > 0
			}
		}
		if !a.created.Equal(b.created) {
			return a.created.After(b.created)
		}
		at, bt := a.tags[len(a.tags)-1], b.tags[len(b.tags)-1]
		if at != bt {
			return at > bt
		}
		return a.digest > b.digest
	})
	sort.Slice(unranked, func(i, j int) bool { return unranked[i].digest < unranked[j].digest })
	return ranked, unranked
}
