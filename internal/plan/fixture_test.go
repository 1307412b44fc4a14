package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

// now is the fixed "now" of every test.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(n int) time.Time { return testNow.Add(-time.Duration(n) * 24 * time.Hour) }

// dg is a stable fake digest for a short name.
func dg(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// sigTag is cosign's signature tag for a subject name.
func sigTag(subject, suffix string) string {
	return "sha256-" + dg(subject)[len("sha256:"):] + suffix
}

var (
	capsOCI3   = graph.Capabilities{DeleteManifest: true, Untag: graph.Yes}
	capsOCI2   = graph.Capabilities{DeleteManifest: true, Untag: graph.No}
	capsGitHub = graph.Capabilities{DeleteManifest: true, Untag: graph.No, ListUntagged: true}
	capsHub    = graph.Capabilities{TagsOnly: true, Untag: graph.Yes}
)

// fx builds graphs by short names: manifest "a" has digest dg("a").
type fx struct{ g *graph.Graph }

func newFx(caps graph.Capabilities) *fx {
	return &fx{g: graph.New("registry.test/app", "oci", caps)}
}

func (f *fx) add(name string, kind graph.Kind, created time.Time, tags ...string) *graph.Manifest {
	m := f.g.Manifest(dg(name))
	m.Kind, m.Created = kind, created
	for _, t := range tags {
		f.g.SetTag(t, m.Digest)
	}
	return m
}

func (f *fx) img(name string, created time.Time, tags ...string) *fx {
	f.add(name, graph.KindImage, created, tags...)
	return f
}

func (f *fx) index(name string, created time.Time, children []string, tags ...string) *fx {
	m := f.add(name, graph.KindIndex, created, tags...)
	for _, c := range children {
		m.Children = append(m.Children, dg(c))
		if _, ok := f.g.Manifests[dg(c)]; !ok {
			f.add(c, graph.KindImage, time.Time{})
		}
	}
	return f
}

// ref adds a referrer of subject (by OCI subject field) with optional tags.
func (f *fx) ref(name, subject string, tags ...string) *fx {
	m := f.add(name, graph.KindReferrer, time.Time{}, tags...)
	m.Subject = dg(subject)
	return f
}

// sig adds a cosign signature found only through its tag name.
func (f *fx) sig(name, subject string) *fx {
	f.add(name, graph.KindImage, time.Time{}, sigTag(subject, ".sig"))
	return f
}

func (f *fx) listed(name string, created time.Time) *fx {
	m := f.add(name, graph.KindImage, created)
	m.Listed = true
	return f
}

func (f *fx) done() *graph.Graph {
	f.g.Finish()
	return f.g
}

func mustMatcher(t testing.TB, patterns ...string) Matcher {
	t.Helper()
	m, err := CompilePatterns(patterns, false)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// manifestByName finds the decision for manifest name.
func manifestByName(p *Plan, name string) (ManifestDecision, bool) {
	for _, m := range p.Manifests {
		if m.Digest == dg(name) {
			return m, true
		}
	}
	return ManifestDecision{}, false
}

func tagByName(p *Plan, tag string) (TagDecision, bool) {
	for _, t := range p.Tags {
		if t.Tag == tag {
			return t, true
		}
	}
	return TagDecision{}, false
}
