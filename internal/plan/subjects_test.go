package plan

import (
	"crypto/sha512"
	"encoding/hex"
	"math/rand/v2"
	"strings"
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

// absent records that subject answered 404 at the last look, and that the
// referrers' own content places it in this repository (as discovery does
// for a subject field, or a cosign payload naming the repository).
func (f *fx) absent(subject string, referrers ...string) *fx {
	f.g.Absent[dg(subject)] = true
	for _, r := range referrers {
		f.g.Manifest(dg(r)).SubjectRepository = f.g.Repository
	}
	return f
}

// An orphan is proven, never assumed: only a subject that answered 404 in
// this repository, of a referrer whose content places it here, makes one.
func TestOrphanIsProven(t *testing.T) {
	pol := func(t testing.TB) Policy {
		return Policy{Include: mustMatcher(t, "pr-*"), DeleteReferrers: true, Untagged: true}
	}
	tests := []struct {
		name  string
		graph func() *graph.Graph
		want  expect
	}{
		{
			name:  "subject never looked up (a backend that cannot check)",
			graph: func() *graph.Graph { return newFx(capsOCI3).sig("s", "x").ref("r", "y").done() },
			want:  expect{"m:s": "keep/orphan-unproven", "m:r": "keep/orphan-unproven"},
		},
		{
			name: "subject exists untagged (found at the last look)",
			graph: func() *graph.Graph {
				f := newFx(capsOCI3).sig("s", "x").ref("r", "x")
				f.g.Manifest(dg("x")).Exists = true
				return f.done()
			},
			want: expect{"m:s": "keep/referrer-of-kept", "m:r": "keep/referrer-of-kept", "m:x": "keep/untagged-off"},
		},
		{
			name: "subject 404, signature names another repository (COSIGN_REPOSITORY)",
			graph: func() *graph.Graph {
				f := newFx(capsOCI3).sig("s", "x")
				f.g.Absent[dg("x")] = true
				f.g.Manifest(dg("s")).SubjectRepository = "registry.test/other"
				return f.done()
			},
			want: expect{"m:s": "keep/orphan-unproven"},
		},
		{
			name: "subject 404, signature says nothing about its repository",
			graph: func() *graph.Graph {
				f := newFx(capsOCI3).sig("s", "x")
				f.g.Absent[dg("x")] = true
				return f.done()
			},
			want: expect{"m:s": "keep/orphan-unproven", "t:" + sigTag("x", ".sig"): "keep/orphan-unproven"},
		},
		{
			name: "subject 404, referrer of this repository: proven",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).sig("s", "x").ref("r", "y").absent("x", "s").absent("y", "r").done()
			},
			want: expect{"m:s": "delete/orphan-referrer", "m:r": "delete/orphan-referrer"},
		},
		{
			name: "host compared without case",
			graph: func() *graph.Graph {
				f := newFx(capsOCI3).sig("s", "x")
				f.g.Absent[dg("x")] = true
				f.g.Manifest(dg("s")).SubjectRepository = "REGISTRY.test/app"
				return f.done()
			},
			want: expect{"m:s": "delete/orphan-referrer"},
		},
		{
			name: "a proven orphan's own referrer goes with it",
			graph: func() *graph.Graph {
				return newFx(capsOCI3).ref("sbom", "x").ref("sig-of-sbom", "sbom").absent("x", "sbom").done()
			},
			want: expect{"m:sbom": "delete/orphan-referrer", "m:sig-of-sbom": "delete/referrer-of-deleted"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkExpect(t, Build(tt.graph(), pol(t), testNow), tt.want)
		})
	}
}

// TestSubjectSourcesAgree: a referrer's link to its subject gives the same
// decisions whichever source carried it: the manifest's own subject field,
// a cosign tag naming the subject, or an OCI fallback index listing it.
func TestSubjectSourcesAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	checked := 0
	for i := range 3000 {
		g := randomGraph(r)
		pol := randomPolicy(t, r)
		if g.Capabilities.TagsOnly {
			continue // an untagged manifest cannot be deleted there: tags change what can go
		}
		// One referrer known only by its subject field, per subject.
		bySubject := map[string]string{}
		for _, d := range g.SortedDigests() {
			m := g.Manifests[d]
			if m.Kind != graph.KindReferrer || m.Subject == "" || m.Subject == d || len(m.Tags) > 0 || !strings.HasPrefix(m.Subject, "sha256:") {
				continue
			}
			if _, ok := bySubject[m.Subject]; !ok {
				bySubject[m.Subject] = d
			}
		}
		if len(bySubject) == 0 {
			continue
		}
		cosign, fallback := cloneGraph(g), cloneGraph(g)
		skip := false
		for s, d := range bySubject {
			hex := strings.TrimPrefix(s, "sha256:")
			sigTag, fbTag := "sha256-"+hex+".sig", "sha256-"+hex
			if _, taken := g.Tags[sigTag]; taken {
				skip = true
			}
			if _, taken := g.Tags[fbTag]; taken {
				skip = true
			}
			if pol.Exclude != nil && (pol.Exclude.Match(sigTag) || pol.Exclude.Match(fbTag)) {
				skip = true // an excluded referrer tag keeps its manifest: a different repository
			}
			c := cosign.Manifests[d]
			c.Kind, c.Subject = graph.KindImage, ""
			cosign.SetTag(sigTag, d)
			fb := fallback.Manifest(dg("fallback of " + s))
			fb.Kind, fb.Subject, fb.SubjectRepository = graph.KindReferrer, s, fallback.Repository
			fallback.SetTag(fbTag, fb.Digest)
		}
		if skip {
			continue
		}
		cosign.Finish()
		fallback.Finish()
		want := Build(g, pol, testNow)
		for name, other := range map[string]*graph.Graph{"cosign tag": cosign, "fallback index": fallback} {
			got := Build(other, pol, testNow)
			for _, md := range want.Manifests {
				gm, ok := manifestDecision(got, md.Digest)
				if !ok || gm.Action != md.Action {
					t.Fatalf("graph %d, %s: %s is %s (%s: %s), subject field says %s (%s: %s)\npolicy %s\n%s",
						i, name, md.Digest, gm.Action, gm.Rule, gm.Reason, md.Action, md.Rule, md.Reason, policyString(pol), dumpGraph(g))
				}
			}
		}
		checked++
	}
	if checked < 200 {
		t.Fatalf("only %d graphs had a referrer to move between sources", checked)
	}
	t.Logf("%d graphs: the same decisions from subject fields, cosign tags and fallback indexes", checked)
}

func manifestDecision(p *Plan, d string) (ManifestDecision, bool) {
	for _, m := range p.Manifests {
		if m.Digest == d {
			return m, true
		}
	}
	return ManifestDecision{}, false
}
