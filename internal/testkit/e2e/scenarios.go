package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// day0 anchors every seeded creation time, so digests are stable.
var day0 = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// Run runs every scenario against registries from reg.Start.
func Run(t *testing.T, reg *Registry) {
	snap := snaps.WithConfig(snaps.Dir("__snapshots__"), snaps.Filename(fmt.Sprintf("dist%d", reg.Generation)))
	cases := []struct {
		name string
		fn   func(*testing.T, *Registry, *snaps.Config)
	}{
		{"seed-question", seedQuestion},
		{"shared-digest-with-latest", sharedWithLatest},
		{"deletion-disabled", deletionDisabled},
		{"dry-run-equals-real-run", dryRunEqualsReal},
		{"bad-inputs", badInputs},
		{"pagination", pagination},
		{"recheck-modes", recheckModes},
		{"max-deletions-guard", maxDeletions},
		{"max-deletions-limit", maxDeletionsLimit},
		{"max-deletions-limit-run-wide", maxDeletionsLimitRunWide},
		{"plan-file", planFile},
		{"untagged-not-listable", untaggedNotListable},
		{"orphans-proven", orphansProven},
		{"cosign-repository", cosignRepository},
		{"subjects-one-way", subjectsOneWay},
		{"missing-repository", missingRepository},
		{"absent-child", absentChild},
		{"keep-latest-tag-on-platform", keepLatestTagOnPlatform},
		{"pulled-within-unreported", pulledWithinUnreported},
		{"policy-rule-set", policyRuleSet},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, reg, snap) })
	}
}

func pusher(t *testing.T, repo string) *seed.Pusher {
	t.Helper()
	p, err := seed.NewPusher(context.Background(), repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func push(t *testing.T, p *seed.Pusher, tag, id string) string {
	t.Helper()
	d, err := p.Image(context.Background(), tag, seed.Image(id, day0))
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// seedQuestion is the seed document's case: push an image, delete its tag
// by pattern; the tag is gone and tags/list no longer lists it.
func seedQuestion(t *testing.T, reg *Registry, snap *snaps.Config) {
	repo := reg.Host + "/busybox"
	p := pusher(t, repo)
	d := push(t, p, "latest", "busybox")
	keep := push(t, p, "stable", "busybox-stable")

	res := RunAction(t, map[string]string{"repository": repo, "tags": "latest"})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got := State(t, repo); !reflect.DeepEqual(got, map[string]string{"stable": keep}) {
		t.Fatalf("registry after run = %v, want only stable", got)
	}
	if Exists(t, repo, d) {
		t.Fatalf("%s still resolves", d)
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, []string{d}) {
		t.Fatalf("deleted-digests = %v", got)
	}
	if got := res.Tags(t, "deleted-tags"); !reflect.DeepEqual(got, []string{"latest"}) {
		t.Fatalf("deleted-tags = %v", got)
	}
	if res.Outputs["deleted-count"] != "1" {
		t.Fatalf("deleted-count = %q", res.Outputs["deleted-count"])
	}
	snap.MatchSnapshot(t, Normalize(res.Summary), outputsText(res))
}

// sharedWithLatest: `latest` shares its digest with pr-7; sweeping pr-*
// keeps latest. Distribution 3 untags pr-7; 2.8 cannot, so pr-7 is kept
// and reported.
func sharedWithLatest(t *testing.T, reg *Registry, snap *snaps.Config) {
	repo := reg.Host + "/web"
	p := pusher(t, repo)
	shared := push(t, p, "pr-7", "main-build")
	if err := p.Tag(context.Background(), "latest", seed.Image("main-build", day0)); err != nil {
		t.Fatal(err)
	}
	pr8 := push(t, p, "pr-8", "pr-8")

	res := RunAction(t, map[string]string{"repository": repo, "tags": "pr-*"})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	got := State(t, repo)
	if got["latest"] != shared {
		t.Fatalf("latest lost: registry = %v", got)
	}
	if _, ok := got["pr-8"]; ok || Exists(t, repo, pr8) {
		t.Fatalf("pr-8 not deleted: %v", got)
	}
	var kept []struct{ Tag, Rule, Reason string }
	res.JSON(t, "kept-tags", &kept)
	switch reg.Generation {
	case 3:
		if _, ok := got["pr-7"]; ok {
			t.Fatalf("pr-7 should have been untagged on distribution 3: %v", got)
		}
		if want := []string{"pr-7", "pr-8"}; !reflect.DeepEqual(res.Tags(t, "deleted-tags"), want) {
			t.Fatalf("deleted-tags = %v, want %v", res.Tags(t, "deleted-tags"), want)
		}
		if len(kept) != 0 {
			t.Fatalf("kept-tags = %+v, want none", kept)
		}
	case 2:
		if got["pr-7"] != shared {
			t.Fatalf("pr-7 should be kept on 2.8 (cannot untag): %v", got)
		}
		if len(kept) != 1 || kept[0].Tag != "pr-7" || !strings.Contains(kept[0].Reason, "latest") {
			t.Fatalf("kept-tags = %+v, want pr-7 with a reason naming latest", kept)
		}
	}
	if want := []string{pr8}; !reflect.DeepEqual(res.Strings(t, "deleted-digests"), want) {
		t.Fatalf("deleted-digests = %v, want %v", res.Strings(t, "deleted-digests"), want)
	}
	snap.MatchSnapshot(t, Normalize(res.Summary), outputsText(res))
}

// deletionDisabled: exit 1, a sentence that says how to turn deletion on,
// nothing deleted.
func deletionDisabled(t *testing.T, reg *Registry, snap *snaps.Config) {
	off := reg.Start(t, true)
	repo := off.Host + "/app"
	p := pusher(t, repo)
	for i := range 3 {
		push(t, p, fmt.Sprintf("pr-%d", i), fmt.Sprintf("pr-%d", i))
	}
	before := State(t, repo)
	// One request at a time: the run stops at the first refusal, and the
	// snapshot does not depend on which DELETE was answered first.
	res := RunAction(t, map[string]string{"repository": repo, "tags": "pr-*", "concurrency": "1"})
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Log)
	}
	if !strings.Contains(res.Log, "REGISTRY_STORAGE_DELETE_ENABLED=true") {
		t.Fatalf("log does not say how to enable deletion:\n%s", res.Log)
	}
	if after := State(t, repo); !reflect.DeepEqual(before, after) {
		t.Fatalf("registry changed: %v -> %v", before, after)
	}
	if res.Outputs["deleted-count"] != "0" {
		t.Fatalf("deleted-count = %q", res.Outputs["deleted-count"])
	}
	snap.MatchSnapshot(t, Normalize(res.Summary), outputsText(res))
}

// dryRunEqualsReal: a dry run leaves the registry unchanged and its outputs
// equal what the real run then deletes.
func dryRunEqualsReal(t *testing.T, reg *Registry, snap *snaps.Config) {
	repo := reg.Host + "/dry"
	p := pusher(t, repo)
	for i := range 6 {
		push(t, p, fmt.Sprintf("pr-%d", i), fmt.Sprintf("dry-pr-%d", i%4))
	}
	push(t, p, "latest", "dry-pr-0")
	push(t, p, "v1.0.0", "release")
	before := State(t, repo)
	in := map[string]string{"repository": repo, "tags": "pr-*", "dry-run": "true"}
	dry := RunAction(t, in)
	if dry.Code != 0 {
		t.Fatalf("dry run exit %d\n%s", dry.Code, dry.Log)
	}
	if after := State(t, repo); !reflect.DeepEqual(before, after) {
		t.Fatalf("dry run changed the registry: %v -> %v", before, after)
	}
	if dry.Outputs["dry-run"] != "true" {
		t.Fatalf("dry-run output = %q", dry.Outputs["dry-run"])
	}
	in["dry-run"] = "false"
	real := RunAction(t, in)
	if real.Code != 0 {
		t.Fatalf("real run exit %d\n%s", real.Code, real.Log)
	}
	for _, o := range []string{"deleted-digests", "deleted-tags", "deleted-count", "kept-tags"} {
		if o == "deleted-count" {
			if dry.Outputs[o] != real.Outputs[o] {
				t.Fatalf("%s: dry %q, real %q", o, dry.Outputs[o], real.Outputs[o])
			}
			continue
		}
		var a, b any
		dry.JSON(t, o, &a)
		real.JSON(t, o, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: dry %v, real %v", o, a, b)
		}
	}
	// The real change equals the outputs.
	after := State(t, repo)
	var gone []string
	for tag := range before {
		if _, ok := after[tag]; !ok {
			gone = append(gone, tag)
		}
	}
	sort.Strings(gone)
	if !reflect.DeepEqual(gone, real.Tags(t, "deleted-tags")) {
		t.Fatalf("tags really gone %v, deleted-tags %v", gone, real.Tags(t, "deleted-tags"))
	}
	if after["latest"] != before["latest"] || after["v1.0.0"] != before["v1.0.0"] {
		t.Fatalf("kept tags changed: %v -> %v", before, after)
	}
	snap.MatchSnapshot(t, Normalize(dry.Summary), outputsText(dry))
}

// badInputs: exit 2 before any request, one sentence naming the input.
func badInputs(t *testing.T, reg *Registry, _ *snaps.Config) {
	cases := []struct {
		name   string
		inputs map[string]string
		want   string
	}{
		{"no repository", map[string]string{"tags": "pr-*"}, "repository"},
		{"bad repository", map[string]string{"repository": "UPPER CASE/x y", "tags": "pr-*"}, "repository"},
		{"bad glob", map[string]string{"repository": reg.Host + "/x", "tags": "pr-["}, "pr-["},
		{"bad regex", map[string]string{"repository": reg.Host + "/x", "tags": "pr-(", "use-regex": "true"}, "pr-("},
		{"negative max-deletions", map[string]string{"repository": reg.Host + "/x", "tags": "pr-*", "max-deletions": "-1"}, "max-deletions"},
		{"bad boolean", map[string]string{"repository": reg.Host + "/x", "tags": "pr-*", "dry-run": "maybe"}, "dry-run"},
		{"nothing to do", map[string]string{"repository": reg.Host + "/x"}, "tags"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := reg.Requests.Load()
			res := RunAction(t, c.inputs)
			if res.Code != 2 {
				t.Fatalf("exit %d, want 2\n%s", res.Code, res.Log)
			}
			if n := reg.Requests.Load() - before; n != 0 {
				t.Fatalf("%d requests reached the registry", n)
			}
			if !strings.Contains(res.Log, c.want) {
				t.Fatalf("error does not name %q:\n%s", c.want, res.Log)
			}
			if lines := strings.Count(strings.TrimSpace(res.Log), "\n"); lines > 1 {
				t.Fatalf("want one clear sentence, got:\n%s", res.Log)
			}
		})
	}
}

// pagination: 150 tags, answered in pages of 100 (the registries start
// with PagedBy(100)): distribution 3 pages twice with a Link header,
// 2.8 answers everything at once. Every tag on every page is resolved and
// kept or removed by its own rule.
func pagination(t *testing.T, reg *Registry, _ *snaps.Config) {
	repo := reg.Host + "/many"
	p := pusher(t, repo)
	img := seed.Image("many", day0)
	kept := seed.Image("many-kept", day0)
	tags := make([]string, 0, 150)
	for i := range 150 {
		tags = append(tags, fmt.Sprintf("t-%03d", i))
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(tags), func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
	ctx := context.Background()
	for i, tag := range tags {
		im := img
		if i%50 == 0 {
			im = kept // every 50th tag is a release-ish tag on its own image
		}
		if err := p.Tag(ctx, tag, im); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Tag(ctx, "keep-me", kept); err != nil {
		t.Fatal(err)
	}
	gone := push(t, p, "x-0", "many-gone")
	before := State(t, repo)
	res := RunAction(t, map[string]string{"repository": repo, "tags": "t-*\nx-*", "exclude-tags": "t-0*"})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	after := State(t, repo)
	// Every excluded tag and keep-me survive on their digest.
	for tag, d := range before {
		if strings.HasPrefix(tag, "t-0") || tag == "keep-me" {
			if after[tag] != d {
				t.Fatalf("kept tag %s lost or moved", tag)
			}
		}
	}
	// x-0 is alone on its image: deleted on both generations. The t-1xx
	// tags share images with excluded tags: untagged on 3, kept on 2.8.
	if _, ok := after["x-0"]; ok || Exists(t, repo, gone) {
		t.Fatal("x-0 not deleted")
	}
	if res.Outputs["deleted-count"] != "1" {
		t.Fatalf("deleted-count = %s, want 1", res.Outputs["deleted-count"])
	}
	want := 151 // t-000..t-149 and keep-me on 2.8
	if reg.Generation == 3 {
		want = 101 // t-000..t-099 and keep-me
	}
	if len(after) != want {
		t.Fatalf("%d tags left, want %d", len(after), want)
	}
}

// recheckModes: with `recheck` on, the tags are listed again before the
// kept tags are resolved, and once more after deleting; each tag is still
// resolved once. Off lists once. Same repository, same deletions, two more
// requests, and the same resolves.
func recheckModes(t *testing.T, reg *Registry, _ *snaps.Config) {
	requests := map[string]int64{}
	for _, mode := range []string{"true", "false"} {
		repo := reg.Host + "/recheck-" + mode
		p := pusher(t, repo)
		for i := range 4 {
			push(t, p, fmt.Sprintf("pr-%d", i), fmt.Sprintf("recheck-pr-%d", i))
		}
		for _, v := range []string{"v1", "v2", "v3"} {
			push(t, p, v, "recheck-"+v)
		}
		before := reg.Requests.Load()
		res := RunAction(t, map[string]string{"repository": repo, "tags": "pr-*", "recheck": mode})
		requests[mode] = reg.Requests.Load() - before
		if res.Code != 0 || res.Outputs["deleted-count"] != "4" {
			t.Fatalf("recheck %s: exit %d, deleted-count %s\n%s", mode, res.Code, res.Outputs["deleted-count"], res.Log)
		}
		if got := State(t, repo); len(got) != 3 {
			t.Fatalf("recheck %s: registry after run %v, want the three releases", mode, got)
		}
	}
	// One one-page listing more (the last look), not a request per tag; the
	// confirmation after deleting runs in both modes.
	if d := requests["true"] - requests["false"]; d != 1 {
		t.Fatalf("recheck made %d more requests than without, want 1 (the last look's listing): %v", d, requests)
	}
}

// maxDeletions: a plan over the cap deletes nothing, says so in one
// sentence, exits 1, and still writes its outputs.
func maxDeletions(t *testing.T, reg *Registry, _ *snaps.Config) {
	repo := reg.Host + "/capped"
	p := pusher(t, repo)
	for i := range 3 {
		push(t, p, fmt.Sprintf("pr-%d", i), fmt.Sprintf("capped-%d", i))
	}
	before := State(t, repo)
	res := RunAction(t, map[string]string{"repository": repo, "tags": "pr-*", "max-deletions": "2"})
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Log)
	}
	if !strings.Contains(res.Log, "max-deletions (2)") || !strings.Contains(res.Log, "nothing was deleted") {
		t.Fatalf("the log does not explain the cap:\n%s", res.Log)
	}
	if after := State(t, repo); !reflect.DeepEqual(before, after) {
		t.Fatalf("registry changed: %v -> %v", before, after)
	}
	if res.Outputs["deleted-count"] != "0" || res.Outputs["deleted-tags"] != "[]" {
		t.Fatalf("outputs claim deletions: %v", res.Outputs)
	}
	// The same run with the cap at the plan's size goes through.
	if res := RunAction(t, map[string]string{"repository": repo, "tags": "pr-*", "max-deletions": "3"}); res.Code != 0 || res.Outputs["deleted-count"] != "3" {
		t.Fatalf("cap 3: exit %d, deleted-count %s\n%s", res.Code, res.Outputs["deleted-count"], res.Log)
	}
}

// untaggedNotListable: plain OCI registries cannot list untagged
// manifests; `untagged: true` says so instead of silently doing nothing.
func untaggedNotListable(t *testing.T, reg *Registry, _ *snaps.Config) {
	repo := reg.Host + "/untagged"
	p := pusher(t, repo)
	push(t, p, "pr-1", "untagged-pr")
	push(t, p, "v1", "untagged-v1")
	res := RunAction(t, map[string]string{"repository": repo, "tags": "pr-*", "untagged": "true"})
	if res.Code != 0 || res.Outputs["deleted-count"] != "1" {
		t.Fatalf("exit %d, deleted-count %s\n%s", res.Code, res.Outputs["deleted-count"], res.Log)
	}
	if !strings.Contains(res.Summary, "cannot list untagged manifests") {
		t.Fatalf("the summary does not say untagged manifests cannot be listed here:\n%s", res.Summary)
	}
}

// outputsText renders outputs for a snapshot, sorted, normalized.
func outputsText(r Result) string {
	keys := make([]string, 0, len(r.Outputs))
	for k := range r.Outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, Normalize(r.Outputs[k]))
	}
	return b.String()
}
