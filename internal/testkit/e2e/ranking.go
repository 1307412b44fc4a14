package e2e

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// keepLatestTagOnPlatform: keep-latest 1 over pr-*, where pr-3 names the
// arm64 manifest of a multi-arch v1.0 that no pattern matches. pr-3's image
// is v1.0, as young as its youngest platform, so the amd64 platform's time
// must be read though no matching tag names it.
//   - v1.0 is the newest image: pr-3 stays (keep-latest) and pr-1's older
//     image goes. Before, the amd64 time was never read, the image was
//     "age unknown", kept and not counted, and pr-1 was kept in its place.
//   - v1.0 is the older image: pr-3 is let go; distribution 3 removes the
//     tag alone, 2.8 keeps it as cannot-untag (v1.0 keeps the manifest),
//     never as age-unknown.
func keepLatestTagOnPlatform(t *testing.T, reg *Registry, _ *snaps.Config) {
	now := day0
	setup := func(repo string, platformAge, prAge time.Duration) (pr1, arm string) {
		p := pusher(t, repo)
		amd := seed.ImagePlatform("release", now.Add(-30*24*time.Hour), "linux", "amd64")
		armImg := seed.ImagePlatform("release", now.Add(-platformAge), "linux", "arm64")
		if _, err := p.Index(context.Background(), "v1.0", seed.Index(amd, armImg)); err != nil {
			t.Fatal(err)
		}
		if err := p.Tag(context.Background(), "pr-3", armImg); err != nil {
			t.Fatal(err)
		}
		d, err := p.Image(context.Background(), "pr-1", seed.Image("pr-1", now.Add(-prAge)))
		if err != nil {
			t.Fatal(err)
		}
		return d.String(), digestString(t, armImg)
	}
	sweep := func(repo string) (Result, map[string]string) {
		res := RunActionAt(t, now, map[string]string{"repository": repo, "tags": "pr-*", "keep-latest": "1"})
		if res.Code != 0 {
			t.Fatalf("exit %d\n%s", res.Code, res.Log)
		}
		var kept []struct{ Tag, Rule string }
		res.JSON(t, "kept-tags", &kept)
		rules := map[string]string{}
		for _, k := range kept {
			rules[k.Tag] = k.Rule
		}
		return res, rules
	}

	// v1.0 (2 days, by its arm64 platform) is newer than pr-1 (10 days).
	repo := reg.Host + "/platform-newest"
	pr1, arm := setup(repo, 2*24*time.Hour, 10*24*time.Hour)
	res, rules := sweep(repo)
	if want := map[string]string{"pr-3": "keep-latest"}; !reflect.DeepEqual(rules, want) {
		t.Errorf("newest: kept-tags rules = %v, want %v\n%s", rules, want, res.Log)
	}
	if got := State(t, repo); got["pr-3"] != arm || got["pr-1"] != "" {
		t.Errorf("newest: registry = %v, want pr-3 on %s and pr-1 gone", got, arm)
	}
	if got, want := res.Strings(t, "deleted-digests"), []string{pr1}; !reflect.DeepEqual(got, want) {
		t.Errorf("newest: deleted-digests = %v, want %v", got, want)
	}

	// v1.0 (20 days) is older than pr-1 (1 day).
	repo = reg.Host + "/platform-older"
	pr1, arm = setup(repo, 20*24*time.Hour, 24*time.Hour)
	res, rules = sweep(repo)
	after := State(t, repo)
	if after["pr-1"] != pr1 || !Exists(t, repo, arm) {
		t.Errorf("older: registry = %v, want pr-1 kept and the arm64 manifest %s kept by v1.0", after, arm)
	}
	switch reg.Generation {
	case 3:
		if want := map[string]string{"pr-1": "keep-latest"}; !reflect.DeepEqual(rules, want) {
			t.Errorf("older: kept-tags rules = %v, want %v\n%s", rules, want, res.Log)
		}
		if _, ok := after["pr-3"]; ok {
			t.Errorf("older: pr-3 not removed on distribution 3: %v", after)
		}
	case 2:
		if want := map[string]string{"pr-1": "keep-latest", "pr-3": "cannot-untag"}; !reflect.DeepEqual(rules, want) {
			t.Errorf("older: kept-tags rules = %v, want %v\n%s", rules, want, res.Log)
		}
	}
	if got := res.Strings(t, "deleted-digests"); len(got) != 0 {
		t.Errorf("older: deleted-digests = %v, want none", got)
	}
}

func digestString(t *testing.T, img v1.Image) string {
	t.Helper()
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}
