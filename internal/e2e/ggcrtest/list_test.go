package ggcrtest

import (
	"context"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// TestTagListWithoutLink: pkg/registry cuts a tag list at n (1,000 here)
// and sends no Link. zz-keep, listed after the first 1,000 tags, shares its
// image with pr-0000: read only the first page, the sweep would delete the
// image zz-keep names.
func TestTagListWithoutLink(t *testing.T) {
	repo := start(t, nil) + "/many"
	p := newPusher(t, repo)
	shared := p.image("pr-0000", "shared")
	doomed := p.image("pr-0001", "doomed")
	ctx := context.Background()
	img := seed.Image("doomed", day0)
	for i := 2; i < 1000; i++ {
		if err := p.p.Tag(ctx, fmt.Sprintf("pr-%04d", i), img); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.p.Tag(ctx, "zz-keep", seed.Image("shared", day0)); err != nil {
		t.Fatal(err)
	}
	res := run(t, repo, 0, map[string]string{"tags": "pr-*"})
	mustBe(t, repo, []v1.Descriptor{doomed}, []v1.Descriptor{shared})
	if got := e2e.State(t, repo); len(got) != 1 || got["zz-keep"] != shared.Digest.String() {
		t.Fatalf("tags after the run = %d tags (zz-keep = %s), want only zz-keep on %s", len(got), got["zz-keep"], shared.Digest)
	}
	if res.Outputs["deleted-count"] != "1" {
		t.Errorf("deleted-count = %s, want 1", res.Outputs["deleted-count"])
	}
}
