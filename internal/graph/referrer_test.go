package graph

import (
	"slices"
	"strings"
	"testing"
)

func TestParseReferrerTag(t *testing.T) {
	h256 := strings.Repeat("ab", 32)
	h512 := strings.Repeat("cd", 64)
	for _, c := range []struct {
		tag  string
		want ReferrerTag
		ok   bool
	}{
		{"sha256-" + h256, ReferrerTag{Subject: "sha256:" + h256}, true},
		{"sha256-" + h256 + ".sig", ReferrerTag{Subject: "sha256:" + h256, Suffix: "sig"}, true},
		{"sha256-" + h256 + ".att", ReferrerTag{Subject: "sha256:" + h256, Suffix: "att"}, true},
		{"sha256-" + h256 + ".sbom", ReferrerTag{Subject: "sha256:" + h256, Suffix: "sbom"}, true},
		{"sha512-" + h512 + ".sig", ReferrerTag{Subject: "sha512:" + h512, Suffix: "sig"}, true},
		{"sha512-" + h512[:64], ReferrerTag{Subject: "sha512:" + h512[:64], Truncated: true}, true},
		{"sha512-" + h512[:64] + ".sig", ReferrerTag{}, false}, // cosign never truncates
		{"sha256-" + h256 + ".sig.sig", ReferrerTag{}, false},
		{"sha256-" + h256 + ".SIG", ReferrerTag{}, false},
		{"sha256-" + h256 + ".", ReferrerTag{}, false},
		{"sha256-" + strings.ToUpper(h256), ReferrerTag{}, false},
		{"sha256-" + h256[:63], ReferrerTag{}, false},
		{"sha256-" + h256 + "0", ReferrerTag{}, false},
		{"sha384-" + h256, ReferrerTag{}, false},
		{"sha256_" + h256, ReferrerTag{}, false},
		{"sha256-", ReferrerTag{}, false},
		{"pr-1", ReferrerTag{}, false},
		{"", ReferrerTag{}, false},
	} {
		got, ok := ParseReferrerTag(c.tag)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseReferrerTag(%.20q...) = %+v, %v; want %+v, %v", c.tag, got, ok, c.want, c.ok)
		}
	}
}

func TestSubjectIn(t *testing.T) {
	h512 := strings.Repeat("cd", 64)
	other := strings.Repeat("cd", 32) + strings.Repeat("ef", 32)
	r, _ := ParseReferrerTag("sha512-" + h512[:64])
	if got := r.SubjectIn(slices.Values([]string{"sha512:" + h512})); got != "sha512:"+h512 {
		t.Errorf("one match: %q", got)
	}
	if got := r.SubjectIn(slices.Values([]string{"sha512:" + h512, "sha512:" + other})); got != "" {
		t.Errorf("two matches must give no subject, got %q", got)
	}
	if got := r.SubjectIn(slices.Values([]string{"sha256:" + h512[:64]})); got != "" {
		t.Errorf("no sha512 digest: %q", got)
	}
	full, _ := ParseReferrerTag("sha256-" + h512[:64] + ".sig")
	if got := full.SubjectIn(slices.Values([]string(nil))); got != "sha256:"+h512[:64] {
		t.Errorf("untruncated: %q", got)
	}
}
