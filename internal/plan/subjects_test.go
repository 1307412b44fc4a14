package plan

import (
	"crypto/sha512"
	"encoding/hex"
	"testing"

	"github.com/regsweep/regsweep/internal/graph"
)

// dg512 is a stable fake sha512 digest for a short name.
func dg512(name string) string {
	sum := sha512.Sum512([]byte(name))
	return "sha512:" + hex.EncodeToString(sum[:])
}

// The OCI fallback scheme cuts a sha512 subject to 64 hex digits: the tag
// is a referrer tag all the same, never a candidate, and its index follows
// the one digest it begins.
func TestTruncatedSha512FallbackTag(t *testing.T) {
	g := graph.New("registry.test/app", "oci", capsOCI3)
	x := dg512("x")
	g.SetTag("v1", x)
	g.Manifests[x].Kind = graph.KindImage
	fbTag := "sha512-" + x[len("sha512:"):len("sha512:")+64]
	g.SetTag(fbTag, dg("fb"))
	g.Manifests[dg("fb")].Kind = graph.KindIndex
	g.SetTag("pr-1", dg("a"))
	g.Manifests[dg("a")].Kind = graph.KindImage
	g.Finish()
	p := Build(g, Policy{Include: mustMatcher(t, "*"), Exclude: mustMatcher(t, "v1"), DeleteReferrers: true}, testNow)
	checkExpect(t, p, expect{"m:fb": "keep/referrer-of-kept", "t:" + fbTag: "keep/referrer-of-kept", "m:a": "delete/match"})
}
