package plan

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// versionTag is what a tag says as a version: a full version, or a partial
// one (`v2`, `v2.0`, docker/metadata-action's floating tags) naming a line.
type versionTag struct {
	full *semver.Version // `1.2.3`, `v1.2.3-rc.1`, `1.2-beta` (as 1.2.0-beta)
	line []uint64        // a partial version's major, or major and minor
	bare bool            // a bare number (`2`): a line only when a release of it exists
}

// trimPlatform drops a per-platform ending from a tag (`1.2.3-amd64`,
// `1.2.3-linux-arm64`): it names a platform of a release, not a pre-release.
func trimPlatform(tag string) string {
	archs := [...]string{
		"amd64", "x86_64", "386", "i386", "arm64", "aarch64", "arm64v8", "arm64-v8", "arm", "armv6", "armv7",
		"arm-v6", "arm-v7", "arm32v6", "arm32v7", "ppc64le", "s390x", "riscv64", "mips64le", "loong64",
	}
	for _, a := range archs {
		if rest, ok := strings.CutSuffix(tag, "-"+a); ok && rest != "" {
			for _, os := range []string{"-linux", "-windows"} {
				rest = strings.TrimSuffix(rest, os)
			}
			return rest
		}
	}
	return tag
}

// parseVersionTag reads a tag as a version. It accepts `1.2.3`, `v1.2.3`
// with optional pre-release and build metadata, `1.2` and `v1.2` (the line
// 1.2), `v2` (the line 2) and a bare `2` (the line 2, when a release of it
// exists). A per-platform ending (`-amd64`) is not part of the version.
func parseVersionTag(tag string) (versionTag, bool) {
	tag = trimPlatform(tag)
	s, hasV := strings.CutPrefix(tag, "v")
	if !hasV {
		s, hasV = strings.CutPrefix(tag, "V")
	}
	core, rest := s, ""
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		core, rest = s[:i], s[i:]
	}
	parts := strings.Split(core, ".")
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil || (len(p) > 1 && p[0] == '0') {
			return versionTag{}, false
		}
		nums[i] = n
	}
	switch {
	case len(parts) == 3 || (len(parts) == 2 && rest != ""):
		if len(parts) == 2 {
			core += ".0"
		}
		v, err := semver.StrictNewVersion(core + rest)
		if err != nil {
			return versionTag{}, false
		}
		return versionTag{full: v}, true
	case rest == "" && len(parts) <= 2:
		return versionTag{line: nums, bare: len(parts) == 1 && !hasV}, true
	}
	return versionTag{}, false
}

// parseVersion is the full version a tag names on its own, or nil.
func parseVersion(tag string) *semver.Version {
	vt, ok := parseVersionTag(tag)
	if !ok {
		return nil
	}
	if vt.full != nil {
		return vt.full
	}
	if vt.bare {
		return nil
	}
	return lineFloor(vt.line)
}

func lineFloor(line []uint64) *semver.Version {
	var minor uint64
	if len(line) > 1 {
		minor = line[1]
	}
	return semver.New(line[0], minor, 0, "", "")
}

// resolveVersions gives each tag of tags its rank as a version, or leaves
// it out. A partial version ranks as the highest release (no pre-release)
// of its line among tags, or the line's first release when none is there;
// a bare number is a version only when a release of its major is there (a
// build number or a date is not).
func resolveVersions(tags []string) map[string]*semver.Version {
	parsed := map[string]versionTag{}
	var releases []*semver.Version
	for _, t := range tags {
		vt, ok := parseVersionTag(t)
		if !ok {
			continue
		}
		parsed[t] = vt
		if vt.full != nil && vt.full.Prerelease() == "" {
			releases = append(releases, vt.full)
		}
	}
	out := map[string]*semver.Version{}
	for t, vt := range parsed {
		if vt.full != nil {
			out[t] = vt.full
			continue
		}
		var best *semver.Version
		for _, r := range releases {
			if r.Major() == vt.line[0] && (len(vt.line) == 1 || r.Minor() == vt.line[1]) && (best == nil || r.GreaterThan(best)) {
				best = r
			}
		}
		switch {
		case best != nil:
			out[t] = best
		case !vt.bare:
			out[t] = lineFloor(vt.line)
		}
	}
	return out
}

// image is one keep-latest unit: a manifest no index lists (the root), the
// manifests it lists, and every candidate tag on any of them.
type image struct {
	root    string
	index   bool     // the root lists manifests (a multi-arch image)
	rootTag string   // the greatest candidate tag on the root itself ("" when none)
	tags    []string // candidate tags on the image, sorted
	created time.Time
	version *semver.Version // highest version among tags (version ranking)
}

// rankImages orders images newest first.
//
// Keep-latest counts IMAGES, not tag names: tags on one digest are one
// image, and so are an index and the platform manifests it lists. Order:
//   - by version (when any candidate tag is a version): the image's highest
//     version, newest first (pre-releases before their release);
//   - otherwise by creation time (an index's is its newest child's);
//   - ties: newer creation time, then a multi-arch image before a lone
//     manifest, then the greater tag on the root (never a child's), then
//     the greater root digest.
//
// An image that cannot be ranked (no version tag under a version ranking,
// an unknown age under a time ranking) is returned in unranked; the caller
// keeps it without counting it.
func rankImages(imgs []*image, byVersion bool) (ranked, unranked []*image) {
	for _, im := range imgs {
		if (byVersion && im.version == nil) || (!byVersion && im.created.IsZero()) {
			unranked = append(unranked, im)
			continue
		}
		ranked = append(ranked, im)
	}
	sort.SliceStable(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		if byVersion {
			if c := a.version.Compare(b.version); c != 0 {
				return c > 0
			}
		}
		if !a.created.Equal(b.created) {
			return a.created.After(b.created)
		}
		if a.index != b.index {
			return a.index
		}
		if a.rootTag != b.rootTag {
			return a.rootTag > b.rootTag
		}
		return a.root > b.root
	})
	sort.Slice(unranked, func(i, j int) bool { return unranked[i].root < unranked[j].root })
	return ranked, unranked
}
