// The graph and ranking tests run the image-graph safety cases end to end
// against an embedded distribution 3 and check the registry's real state
// afterwards: multi-arch indexes sharing children, cosign-style signatures
// and orphans, keep-latest by semantic version, older-than by creation time.

package dist3test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// now is the fixed clock of age rules; seeded times lie before it.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

var requests = regexp.MustCompile(`\b\d+ requests\b`)

func snapshots() *snaps.Config {
	return snaps.WithConfig(snaps.Dir("__snapshots__"), snaps.Filename("graph"))
}

func graphRegistry(t *testing.T) string {
	t.Helper()
	r := dist3.Start(t.Context(), dist3.Options{})
	t.Cleanup(r.Close)
	return r.Host
}

func pusher(t *testing.T, repo string) *seed.Pusher {
	t.Helper()
	p, err := seed.NewPusher(context.Background(), repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pushImage(t *testing.T, p *seed.Pusher, tag string, img v1.Image) string {
	t.Helper()
	d, err := p.Image(context.Background(), tag, img)
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func pushIndex(t *testing.T, p *seed.Pusher, tag string, idx v1.ImageIndex) string {
	t.Helper()
	d, err := p.Index(context.Background(), tag, idx)
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func sign(t *testing.T, p *seed.Pusher, subject string) (tag, digest string) {
	t.Helper()
	h, err := v1.NewHash(subject)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Sign(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return seed.SignatureTag(h), d.String()
}

func digest(t *testing.T, x interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	h, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func run(t *testing.T, inputs map[string]string) e2e.Result {
	t.Helper()
	res := e2e.RunActionAt(t, now, inputs)
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	return res
}

// pullIndex pulls an index the way a client does: the index, then every
// child's manifest, config and layers. It fails the test on any error.
func pullIndex(t *testing.T, repo, tag string) {
	t.Helper()
	ref, err := name.ParseReference(repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("pull %s: %v", tag, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatalf("pull %s: %v", tag, err)
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatalf("pull %s child %s: %v", tag, desc.Digest, err)
		}
		if _, err := img.ConfigFile(); err != nil {
			t.Fatalf("pull %s child %s config: %v", tag, desc.Digest, err)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatalf("pull %s child %s layers: %v", tag, desc.Digest, err)
		}
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatalf("pull %s child %s layer: %v", tag, desc.Digest, err)
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				t.Fatalf("pull %s child %s layer: %v", tag, desc.Digest, err)
			}
		}
	}
}

// checkState compares the registry's tags with want and checks which
// digests resolve.
func checkState(t *testing.T, repo string, want map[string]string, gone, stay []string) {
	t.Helper()
	if got := e2e.State(t, repo); !reflect.DeepEqual(got, want) {
		t.Errorf("registry tags = %v\nwant %v", got, want)
	}
	for _, d := range gone {
		if e2e.Exists(t, repo, d) {
			t.Errorf("%s should be deleted but still resolves", d)
		}
	}
	for _, d := range stay {
		if !e2e.Exists(t, repo, d) {
			t.Errorf("%s should stay but is gone", d)
		}
	}
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// TestMultiArchSharedChildren: index A (amd64+arm64) is tagged v1.0.0 and
// pr-3; index B (kept, `stable`) shares A's amd64 child; index C (pr-4)
// shares B's s390x child and has a child of its own. Sweeping pr-*: A stays
// (v1.0.0 is kept; pr-3 is only untagged), B stays and fully pulls, C and
// its own child go, the shared children stay.
func TestMultiArchSharedChildren(t *testing.T) {
	for _, dry := range []bool{true, false} {
		t.Run(fmt.Sprintf("dry-run=%v", dry), func(t *testing.T) {
			repo := graphRegistry(t) + "/multi"
			p := pusher(t, repo)
			day := now.AddDate(0, -1, 0)
			amd := seed.ImagePlatform("app", day, "linux", "amd64")
			arm := seed.ImagePlatform("app", day, "linux", "arm64")
			s390 := seed.ImagePlatform("base", day, "linux", "s390x")
			ppc := seed.ImagePlatform("pr-4", day, "linux", "ppc64le")
			a := pushIndex(t, p, "v1.0.0", seed.Index(amd, arm))
			if _, err := p.Index(context.Background(), "pr-3", seed.Index(amd, arm)); err != nil {
				t.Fatal(err)
			}
			b := pushIndex(t, p, "stable", seed.Index(amd, s390))
			c := pushIndex(t, p, "pr-4", seed.Index(s390, ppc))
			dAmd, dArm, dS390, dPpc := digest(t, amd), digest(t, arm), digest(t, s390), digest(t, ppc)

			before := e2e.State(t, repo)
			res := run(t, map[string]string{"repository": repo, "tags": "pr-*", "dry-run": fmt.Sprint(dry)})

			if got, want := res.Strings(t, "deleted-digests"), sorted(c, dPpc); !reflect.DeepEqual(got, want) {
				t.Errorf("deleted-digests = %v, want %v (index pr-4 and its own child)", got, want)
			}
			if got, want := res.Tags(t, "deleted-tags"), sorted("pr-3", "pr-4"); !reflect.DeepEqual(got, want) {
				t.Errorf("deleted-tags = %v, want %v", got, want)
			}
			all := []string{a, b, c, dAmd, dArm, dS390, dPpc}
			if dry {
				checkState(t, repo, before, nil, all)
				return
			}
			checkState(t, repo, map[string]string{"v1.0.0": a, "stable": b},
				[]string{c, dPpc}, []string{a, b, dAmd, dArm, dS390})
			pullIndex(t, repo, "stable")
			pullIndex(t, repo, "v1.0.0")
		})
	}
}

// TestNestedIndex: the kept index `v2` holds an untagged index, which holds
// two images; one of them is also tagged pr-g. Sweeping pr-*: the
// grandchild stays (only its tag goes), and the whole of v2 still resolves.
func TestNestedIndex(t *testing.T) {
	repo := graphRegistry(t) + "/nested"
	p := pusher(t, repo)
	day := now.AddDate(0, -1, 0)
	g := seed.ImagePlatform("nested", day, "linux", "amd64")
	h := seed.ImagePlatform("nested", day, "linux", "arm64")
	inner := seed.Index(g, h)
	outer := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{Add: inner})
	dOuter := pushIndex(t, p, "v2", outer)
	if err := p.Tag(context.Background(), "pr-g", g); err != nil {
		t.Fatal(err)
	}
	dInner, dG, dH := digest(t, inner), digest(t, g), digest(t, h)

	res := run(t, map[string]string{"repository": repo, "tags": "pr-*"})
	if got := res.Strings(t, "deleted-digests"); len(got) != 0 {
		t.Errorf("deleted-digests = %v, want none: everything is inside the kept v2", got)
	}
	checkState(t, repo, map[string]string{"v2": dOuter}, nil, []string{dOuter, dInner, dG, dH})
}

// TestSignatures: v1 (kept) and pr-1, pr-2 (a multi-arch index) are signed;
// an orphan signature names an image that was never pushed.
func TestSignatures(t *testing.T) {
	cases := []struct {
		referrers bool
	}{{true}, {false}}
	for _, c := range cases {
		t.Run(fmt.Sprintf("delete-referrers=%v", c.referrers), func(t *testing.T) {
			repo := graphRegistry(t) + "/signed"
			p := pusher(t, repo)
			day := now.AddDate(0, -2, 0)
			v1d := pushImage(t, p, "v1", seed.Image("v1", day))
			pr1 := pushImage(t, p, "pr-1", seed.Image("pr-1", day))
			amd := seed.ImagePlatform("pr-2", day, "linux", "amd64")
			arm := seed.ImagePlatform("pr-2", day, "linux", "arm64")
			pr2 := pushIndex(t, p, "pr-2", seed.Index(amd, arm))
			sigV1Tag, sigV1 := sign(t, p, v1d)
			sigPr1Tag, sigPr1 := sign(t, p, pr1)
			sigPr2Tag, sigPr2 := sign(t, p, pr2)
			ghost, err := v1.NewHash(digest(t, seed.Image("never-pushed", day)))
			if err != nil {
				t.Fatal(err)
			}
			// A proven orphan: its subject answers 404 here and it names this repository.
			orphanTag := seed.SignatureTag(ghost)
			orphan := pushImage(t, p, orphanTag, seed.SignatureFor(repo, ghost))
			before := e2e.State(t, repo)

			res := run(t, map[string]string{"repository": repo, "tags": "pr-*", "delete-referrers": fmt.Sprint(c.referrers)})

			want := maps.Clone(before)
			for _, tag := range []string{"pr-1", "pr-2"} {
				delete(want, tag)
			}
			gone := []string{pr1, pr2, digest(t, amd), digest(t, arm)}
			stay := []string{v1d, sigV1}
			if c.referrers {
				for _, tag := range []string{sigPr1Tag, sigPr2Tag, orphanTag} {
					delete(want, tag)
				}
				gone = append(gone, sigPr1, sigPr2, orphan)
			} else {
				stay = append(stay, sigPr1, sigPr2, orphan)
			}
			checkState(t, repo, want, gone, stay)
			if _, ok := want[sigV1Tag]; !ok {
				t.Fatal("test bug: the kept image's signature must be expected")
			}
			if got, want := res.Strings(t, "deleted-digests"), sorted(gone...); !reflect.DeepEqual(got, want) {
				t.Errorf("deleted-digests = %v, want %v", got, want)
			}
		})
	}
}

// TestKeepLatestSemver: twelve v1.x.y releases pushed in shuffled order,
// created in REVERSE version order (so ranking by time would pick the
// oldest versions): keep-latest 3 keeps the three highest versions,
// v1.10.1 > v1.10.1-rc.10 > v1.10.1-rc.2 (pre-releases below their
// release, numeric identifiers compared as numbers, v1.10 above v1.9).
func TestKeepLatestSemver(t *testing.T) {
	repo := graphRegistry(t) + "/releases"
	p := pusher(t, repo)
	versions := []string{"v1.0.0", "v1.0.1", "v1.1.0", "v1.2.0", "v1.2.1", "v1.3.0", "v1.9.0", "v1.9.1", "v1.10.0", "v1.10.1-rc.2", "v1.10.1-rc.10", "v1.10.1"}
	digests := map[string]string{}
	order := slices.Clone(versions)
	rand.New(rand.NewPCG(4, 12)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, v := range order {
		created := now.AddDate(0, 0, -30-10*slices.Index(versions, v)) // higher version, older image
		digests[v] = pushImage(t, p, v, seed.Image(v, created))
	}
	latest := pushImage(t, p, "latest", seed.Image("main", now.AddDate(0, 0, -1)))

	res := run(t, map[string]string{"repository": repo, "tags": "v*", "keep-latest": "3"})

	keep := []string{"v1.10.1", "v1.10.1-rc.10", "v1.10.1-rc.2"}
	want := map[string]string{"latest": latest}
	var gone, stay []string
	for _, v := range versions {
		if slices.Contains(keep, v) {
			want[v] = digests[v]
			stay = append(stay, digests[v])
		} else {
			gone = append(gone, digests[v])
		}
	}
	checkState(t, repo, want, gone, stay)
	var kept []struct{ Tag, Rule string }
	res.JSON(t, "kept-tags", &kept)
	sort.Slice(kept, func(i, j int) bool { return kept[i].Tag < kept[j].Tag })
	wantKept := []struct{ Tag, Rule string }{{"v1.10.1", "keep-latest"}, {"v1.10.1-rc.10", "keep-latest"}, {"v1.10.1-rc.2", "keep-latest"}}
	if !reflect.DeepEqual(kept, wantKept) {
		t.Errorf("kept-tags = %+v, want %+v", kept, wantKept)
	}
	// The request count depends on the transport's probing, not on the
	// plan: normalized with hosts and durations.
	sum := requests.ReplaceAllString(e2e.Normalize(res.Summary), "<n> requests")
	snapshots().MatchSnapshot(t, sum)
}

// TestOlderThan: images created over a year, older-than 30d at a fixed
// now: older ones go, newer ones and the one of unknown age stay; a
// multi-arch index is as old as its newest child.
func TestOlderThan(t *testing.T) {
	repo := graphRegistry(t) + "/aged"
	p := pusher(t, repo)
	ages := map[string]int{"build-1d": 1, "build-10d": 10, "build-29d": 29, "build-31d": 31, "build-60d": 60, "build-180d": 180, "build-364d": 364}
	digests := map[string]string{}
	for tag, days := range ages {
		digests[tag] = pushImage(t, p, tag, seed.Image(tag, now.AddDate(0, 0, -days)))
	}
	digests["build-unknown"] = pushImage(t, p, "build-unknown", seed.Image("unknown", time.Time{}))
	oldAmd := seed.ImagePlatform("mixed", now.AddDate(0, 0, -400), "linux", "amd64")
	newArm := seed.ImagePlatform("mixed", now.AddDate(0, 0, -5), "linux", "arm64")
	digests["build-mixed"] = pushIndex(t, p, "build-mixed", seed.Index(oldAmd, newArm))
	a := seed.ImagePlatform("old", now.AddDate(0, 0, -300), "linux", "amd64")
	b := seed.ImagePlatform("old", now.AddDate(0, 0, -200), "linux", "arm64")
	digests["build-old-multi"] = pushIndex(t, p, "build-old-multi", seed.Index(a, b))

	res := run(t, map[string]string{"repository": repo, "tags": "build-*", "older-than": "30d"})

	goneTags := []string{"build-31d", "build-60d", "build-180d", "build-364d", "build-old-multi"}
	want := map[string]string{}
	var gone, stay []string
	for tag, d := range digests {
		if slices.Contains(goneTags, tag) {
			gone = append(gone, d)
		} else {
			want[tag] = d
			stay = append(stay, d)
		}
	}
	gone = append(gone, digest(t, a), digest(t, b))
	stay = append(stay, digest(t, oldAmd), digest(t, newArm))
	checkState(t, repo, want, gone, stay)
	if got := res.Tags(t, "deleted-tags"); !reflect.DeepEqual(got, sorted(goneTags...)) {
		t.Errorf("deleted-tags = %v, want %v", got, sorted(goneTags...))
	}
	var kept []struct{ Tag, Rule string }
	res.JSON(t, "kept-tags", &kept)
	rules := map[string]string{}
	for _, k := range kept {
		rules[k.Tag] = k.Rule
	}
	wantRules := map[string]string{"build-1d": "older-than", "build-10d": "older-than", "build-29d": "older-than", "build-mixed": "older-than", "build-unknown": "age-unknown"}
	if !reflect.DeepEqual(rules, wantRules) {
		t.Errorf("kept-tags rules = %v, want %v", rules, wantRules)
	}
	pullIndex(t, repo, "build-mixed")
}
