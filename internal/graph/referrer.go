package graph

import (
	"iter"
	"strings"
)

// ReferrerTag is what the name of a referrer tag says: cosign's
// <alg>-<hex>.sig, .att and .sbom, or the OCI referrers fallback tag
// <alg>-<hex> (an index listing the subject's referrers).
type ReferrerTag struct {
	// Subject is the digest the tag names ("sha256:<hex>"). The OCI
	// fallback scheme cuts the hex at 64 characters, so a sha512 fallback
	// tag names only a prefix: see Truncated.
	Subject string
	// Suffix is "sig", "att" or "sbom" for cosign's tags, "" for the OCI
	// fallback tag.
	Suffix string
	// Truncated: Subject is "sha512:" and the first 64 hex digits of the
	// digest, not a digest; SubjectIn finds the digest it stands for.
	Truncated bool
}

// Fallback reports whether the tag is the OCI referrers fallback tag.
func (r ReferrerTag) Fallback() bool { return r.Suffix == "" }

// ParseReferrerTag recognises a referrer tag. It is the one parser every
// backend and the plan use, so that they agree on what is a referrer.
func ParseReferrerTag(tag string) (ReferrerTag, bool) {
	alg, rest, ok := strings.Cut(tag, "-")
	if !ok {
		return ReferrerTag{}, false
	}
	hex, suffix, dot := strings.Cut(rest, ".")
	switch {
	case !dot:
	case suffix == "sig", suffix == "att", suffix == "sbom":
	default:
		return ReferrerTag{}, false
	}
	if !isLowerHex(hex) {
		return ReferrerTag{}, false
	}
	r := ReferrerTag{Subject: alg + ":" + hex, Suffix: suffix}
	switch {
	case alg == "sha256" && len(hex) == 64:
	case alg == "sha512" && len(hex) == 128:
		// Longer than a tag may be (128 characters), but unambiguous.
	case alg == "sha512" && len(hex) == 64 && suffix == "":
		r.Truncated = true
	default:
		return ReferrerTag{}, false
	}
	return r, true
}

// SubjectIn returns the digest the tag names among known digests: the
// subject itself, or for a truncated tag the one known digest it begins;
// "" when a truncated tag matches none or several.
func (r ReferrerTag) SubjectIn(known iter.Seq[string]) string {
	if !r.Truncated {
		return r.Subject
	}
	found := ""
	for d := range known {
		if len(d) != len("sha512:")+128 || !strings.HasPrefix(d, r.Subject) {
			continue
		}
		if found != "" && found != d {
			return "" // ambiguous: no subject rather than a guess
		}
		found = d
	}
	return found
}

func isLowerHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
