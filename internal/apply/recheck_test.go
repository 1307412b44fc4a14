package apply

import (
	"context"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
)

// relister is a backend whose listing says every tag's digest.
type relister struct {
	*fake
	current map[string]string
}

func (r relister) ListTags(context.Context) (map[string]string, error) { return r.current, nil }

// TestRelist: where the listing carries digests, the re-check lists again,
// sees a kept tag moved onto a doomed image and keeps that image; where it
// does not, the re-check was part of discovery and Relist adds nothing.
func TestRelist(t *testing.T) {
	include, err := plan.CompilePatterns([]string{"pr-*"}, false)
	if err != nil {
		t.Fatal(err)
	}
	pol := plan.Policy{Include: include}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rebuild := func(g *graph.Graph) *plan.Plan { return plan.Build(g, pol, now) }

	g := graph.New("registry.test/app", "fake", graph.Capabilities{DeleteManifest: true, Untag: graph.Yes, ListsDigests: true})
	g.SetTag("pr-1", dA)
	g.SetTag("pr-2", dB)
	g.SetTag("v1", dK)
	for _, d := range []string{dA, dB, dK} {
		g.Manifest(d).Kind = graph.KindImage
	}
	g.Finish()
	p := rebuild(g)
	if got := p.DeletedDigests(); len(got) != 2 {
		t.Fatalf("plan deletes %v, want %s and %s", got, dA, dB)
	}

	b := relister{fake: newFake(), current: map[string]string{"pr-1": dA, "pr-2": dB, "v1": dB}}
	recheck := Relist(b, g, p, rebuild)
	if recheck == nil {
		t.Fatal("Relist returned no re-check for a listing that carries digests")
	}
	fresh, err := recheck(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := fresh.DeletedDigests(); len(got) != 1 || got[0] != dA {
		t.Errorf("after v1 moved onto %s the re-check deletes %v, want only %s", dB, got, dA)
	}
	if len(g.Manifests[dB].Tags) != 1 {
		t.Errorf("the re-check changed the discovered graph: %s has tags %v", dB, g.Manifests[dB].Tags)
	}

	g.Capabilities.ListsDigests = false
	if Relist(b, g, p, rebuild) != nil {
		t.Error("Relist returned a re-check where discovery does it")
	}
}
