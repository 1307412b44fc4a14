package dist3test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// keptRules maps each kept matching tag to the rule that kept it.
func keptRules(t *testing.T, res e2e.Result) map[string]string {
	t.Helper()
	var kept []struct{ Tag, Rule string }
	res.JSON(t, "kept-tags", &kept)
	out := map[string]string{}
	for _, k := range kept {
		out[k.Tag] = k.Rule
	}
	return out
}

// TestKeepLatestMultiArch: two multi-arch builds, sha-1111111 (older) and
// sha-2222222, each with per-platform tags on its platform manifests.
// keep-latest 1 keeps the newer build whole (index, both platforms, all
// three tags) and deletes the older one whole. Ranking tags instead of
// images kept only sha-2222222-arm64 and deleted both indexes.
func TestKeepLatestMultiArch(t *testing.T) {
	repo := graphRegistry(t) + "/builds"
	p := pusher(t, repo)
	build := func(sha string, age time.Duration) (index string, kids []string) {
		amd := seed.ImagePlatform(sha, now.Add(-age), "linux", "amd64")
		arm := seed.ImagePlatform(sha, now.Add(-age+time.Hour), "linux", "arm64")
		pushImage(t, p, "sha-"+sha+"-amd64", amd)
		pushImage(t, p, "sha-"+sha+"-arm64", arm)
		return pushIndex(t, p, "sha-"+sha, seed.Index(amd, arm)), []string{digest(t, amd), digest(t, arm)}
	}
	oldIx, oldKids := build("1111111", 50*time.Hour)
	newIx, newKids := build("2222222", 2*time.Hour)

	res := run(t, map[string]string{"repository": repo, "tags": "sha-*", "keep-latest": "1"})

	want := map[string]string{"sha-2222222": newIx, "sha-2222222-amd64": newKids[0], "sha-2222222-arm64": newKids[1]}
	checkState(t, repo, want, append([]string{oldIx}, oldKids...), append([]string{newIx}, newKids...))
	wantRules := map[string]string{"sha-2222222": "keep-latest", "sha-2222222-amd64": "keep-latest", "sha-2222222-arm64": "keep-latest"}
	if got := keptRules(t, res); !reflect.DeepEqual(got, wantRules) {
		t.Errorf("kept-tags rules = %v, want %v", got, wantRules)
	}
	pullIndex(t, repo, "sha-2222222")
	if !strings.Contains(res.Summary, "keep-latest ranked images by creation time.") {
		t.Errorf("the summary does not say how keep-latest ranked:\n%s", res.Summary)
	}
}

// TestKeepLatestFloatingBackport: docker/metadata-action tags each release
// v1.2.3, v1.2 and v1, and moves the floating tags to the newest push of
// their line. A backport v1.2.4 is pushed after v2.0.0 and takes v1 and
// v1.2. With `tags` empty (every tag a candidate) and keep-latest 1: v2.0.0
// and its floating tags stay; the backport and v1.2.3 go; `nightly`, not a
// version, is kept and named; `latest` is kept (protect-latest). Before,
// `v2` switched the ranking to dates and the backport was kept instead.
func TestKeepLatestFloatingBackport(t *testing.T) {
	repo := graphRegistry(t) + "/floating"
	p := pusher(t, repo)
	tag := func(img v1.Image, tags ...string) string {
		d := pushImage(t, p, tags[0], img)
		for _, extra := range tags[1:] {
			if err := p.Tag(context.Background(), extra, img); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	r123 := tag(seed.Image("1.2.3", now.AddDate(0, 0, -20)), "v1.2.3", "v1.2", "v1")
	r200 := tag(seed.Image("2.0.0", now.AddDate(0, 0, -10)), "v2.0.0", "v2.0", "v2")
	r124 := tag(seed.Image("1.2.4", now.AddDate(0, 0, -1)), "v1.2.4", "v1.2", "v1") // the backport moves v1, v1.2
	nightly := tag(seed.Image("nightly", now.AddDate(0, 0, -30)), "nightly")
	latest := tag(seed.Image("main", now.AddDate(0, 0, -40)), "latest")

	res := run(t, map[string]string{"repository": repo, "keep-latest": "1"})

	want := map[string]string{"v2.0.0": r200, "v2.0": r200, "v2": r200, "nightly": nightly, "latest": latest}
	checkState(t, repo, want, []string{r123, r124}, []string{r200, nightly, latest})
	wantRules := map[string]string{"v2.0.0": "keep-latest", "v2.0": "keep-latest", "v2": "keep-latest", "nightly": "not-a-version", "latest": "protect-latest"}
	if got := keptRules(t, res); !reflect.DeepEqual(got, wantRules) {
		t.Errorf("kept-tags rules = %v, want %v", got, wantRules)
	}
	if !strings.Contains(res.Summary, "keep-latest ranked images by version; not versions, so not ranked: `nightly`.") {
		t.Errorf("the summary does not say the ranking and the ignored tag:\n%s", res.Summary)
	}
}

// TestOlderThanImplausibleTimes: ko, Bazel rules_oci and nix write
// created 1970-01-01 for reproducibility. Images pushed a minute ago with
// that date, alone or as a multi-arch index, survive older-than 200d as of
// unknown age; an image really built in 2024 goes. An index annotated 2019
// whose platform manifest was built an hour ago is as young as that child.
func TestOlderThanImplausibleTimes(t *testing.T) {
	repo := graphRegistry(t) + "/ko"
	p := pusher(t, repo)
	epoch := time.Unix(0, 0).UTC()
	ko := pushImage(t, p, "ko-1", seed.Image("ko-1", epoch))
	amd := seed.ImagePlatform("ko-2", epoch, "linux", "amd64")
	arm := seed.ImagePlatform("ko-2", epoch, "linux", "arm64")
	koIx := pushIndex(t, p, "ko-2", seed.Index(amd, arm))
	old := pushImage(t, p, "ko-old", seed.Image("ko-old", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)))
	fresh := seed.ImagePlatform("ko-annotated", now.Add(-time.Hour), "linux", "amd64")
	annotated := mutate.Annotations(seed.Index(fresh),
		map[string]string{"org.opencontainers.image.created": "2019-01-01T00:00:00Z"}).(v1.ImageIndex)
	annIx := pushIndex(t, p, "ko-annotated", annotated)

	res := run(t, map[string]string{"repository": repo, "tags": "ko-*", "older-than": "200d"})

	want := map[string]string{"ko-1": ko, "ko-2": koIx, "ko-annotated": annIx}
	checkState(t, repo, want, []string{old}, []string{ko, koIx, digest(t, amd), digest(t, arm), annIx, digest(t, fresh)})
	wantRules := map[string]string{"ko-1": "age-unknown", "ko-2": "age-unknown", "ko-annotated": "older-than"}
	if got := keptRules(t, res); !reflect.DeepEqual(got, wantRules) {
		t.Errorf("kept-tags rules = %v, want %v", got, wantRules)
	}
	if del := res.Tags(t, "deleted-tags"); !reflect.DeepEqual(del, []string{"ko-old"}) {
		t.Errorf("deleted-tags = %v, want [ko-old]", del)
	}
}
