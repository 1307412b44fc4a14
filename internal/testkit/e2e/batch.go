package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// batchRepo pushes to repo seven manifests a `pr-*` sweep deletes, oldest
// first: pr-1 (90 days before day0), pr-2 a two-platform index (60 days),
// pr-3 signed with cosign (30 days), pr-4 (10 days). v1 is kept, and pr-5
// names the same image, so pr-5 is only untagged. It returns the digests
// of the seven, in that order.
func batchRepo(t *testing.T, repo string) []string {
	t.Helper()
	ctx := context.Background()
	p := pusher(t, repo)
	digest := func(img interface{ Digest() (v1.Hash, error) }) string {
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	image := func(tag, id string, daysBefore int) v1.Image {
		img := seed.Image(id, day0.AddDate(0, 0, -daysBefore))
		if _, err := p.Image(ctx, tag, img); err != nil {
			t.Fatal(err)
		}
		return img
	}
	var out []string
	out = append(out, digest(image("pr-1", "batch-1", 90)))
	amd := seed.ImagePlatform("batch-2", day0.AddDate(0, 0, -60), "linux", "amd64")
	arm := seed.ImagePlatform("batch-2", day0.AddDate(0, 0, -60), "linux", "arm64")
	idx := seed.Index(amd, arm)
	if _, err := p.Index(ctx, "pr-2", idx); err != nil {
		t.Fatal(err)
	}
	out = append(out, digest(idx), digest(amd), digest(arm))
	signed := image("pr-3", "batch-3", 30)
	sig, err := p.Sign(ctx, mustDigest(t, signed))
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, digest(signed), sig.String())
	out = append(out, digest(image("pr-4", "batch-4", 10)))
	release := image("v1", "batch-release", 0)
	if err := p.Tag(ctx, "pr-5", release); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// present returns the digests of ds that still resolve in repo.
func present(t *testing.T, repo string, ds []string) []string {
	t.Helper()
	var out []string
	for _, d := range ds {
		if Exists(t, repo, d) {
			out = append(out, d)
		}
	}
	return out
}

// maxDeletionsLimit: max-deletions-mode limit at 4 deletes the oldest
// images, whole (pr-1, then the index pr-2 with its two platform
// manifests), exits 0 and says 3 are left; a dry run says the same first;
// a second run deletes the rest (pr-3 with its signature, pr-4) and
// removes pr-5 alone. The repository then equals a twin swept by one
// unlimited run.
func maxDeletionsLimit(t *testing.T, reg *Registry, _ *snaps.Config) {
	batched, once := reg.Host+"/batch-limited", reg.Host+"/batch-once"
	doomed := batchRepo(t, batched)
	if twin := batchRepo(t, once); !reflect.DeepEqual(twin, doomed) {
		t.Fatalf("the twins differ: %v, %v", doomed, twin)
	}
	in := map[string]string{"repository": batched, "tags": "pr-*", "max-deletions": "4", "max-deletions-mode": "limit", "dry-run": "true"}
	before := State(t, batched)
	dry := RunAction(t, in)
	if dry.Code != 0 || dry.Outputs["deleted-count"] != "4" || dry.Outputs["deferred-count"] != "3" {
		t.Fatalf("dry run: exit %d, deleted-count %s, deferred-count %s\n%s", dry.Code, dry.Outputs["deleted-count"], dry.Outputs["deferred-count"], dry.Log)
	}
	if after := State(t, batched); !reflect.DeepEqual(before, after) {
		t.Fatalf("the dry run changed the registry: %v -> %v", before, after)
	}

	in["dry-run"] = "false"
	first := RunAction(t, in)
	if first.Code != 0 || first.Outputs["deleted-count"] != "4" || first.Outputs["deferred-count"] != "3" {
		t.Fatalf("first run: exit %d, deleted-count %s, deferred-count %s\n%s", first.Code, first.Outputs["deleted-count"], first.Outputs["deferred-count"], first.Log)
	}
	oldest := slices.Sorted(slices.Values(doomed[:4]))
	if got := first.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, oldest) {
		t.Fatalf("first run deleted %v, want the oldest images %v", got, oldest)
	}
	if got := dry.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, oldest) {
		t.Fatalf("the dry run would delete %v, the run deleted %v", got, oldest)
	}
	if got := present(t, batched, doomed); !reflect.DeepEqual(got, doomed[4:]) {
		t.Fatalf("after the first run %v remain, want %v", got, doomed[4:])
	}
	if st := State(t, batched); st["pr-5"] == "" || st["pr-3"] == "" {
		t.Fatalf("the first run removed a tag of what it left for the next: %v", st)
	}
	for _, s := range []string{first.Summary, first.Log} {
		if !strings.Contains(s, "left for the next run") {
			t.Fatalf("the run does not say what it left:\n%s", s)
		}
	}

	second := RunAction(t, in)
	if second.Code != 0 || second.Outputs["deleted-count"] != "3" || second.Outputs["deferred-count"] != "0" {
		t.Fatalf("second run: exit %d, deleted-count %s, deferred-count %s\n%s", second.Code, second.Outputs["deleted-count"], second.Outputs["deferred-count"], second.Log)
	}

	unlimited := RunAction(t, map[string]string{"repository": once, "tags": "pr-*"})
	if unlimited.Code != 0 || unlimited.Outputs["deleted-count"] != "7" {
		t.Fatalf("unlimited run: exit %d, deleted-count %s\n%s", unlimited.Code, unlimited.Outputs["deleted-count"], unlimited.Log)
	}
	if a, b := State(t, batched), State(t, once); !reflect.DeepEqual(a, b) {
		t.Fatalf("two limited runs leave %v, one unlimited run %v", a, b)
	}
	if a, b := present(t, batched, doomed), present(t, once, doomed); len(a) != 0 || len(b) != 0 {
		t.Fatalf("manifests left: limited %v, unlimited %v", a, b)
	}
}

// planFile: a dry run's plan file (plan-out) names every tag and manifest
// with its decision and rule, and its deletions are the ones the real run
// that follows records; the plan-file output names it.
func planFile(t *testing.T, reg *Registry, _ *snaps.Config) {
	repo := reg.Host + "/planned"
	doomed := batchRepo(t, repo)
	dir := t.TempDir()
	planPath, recPath := filepath.Join(dir, "plan.json"), filepath.Join(dir, "record.json")
	in := map[string]string{"repository": repo, "tags": "pr-*", "dry-run": "true", "plan-out": planPath}
	dry := RunAction(t, in)
	if dry.Code != 0 || dry.Outputs["plan-file"] != planPath {
		t.Fatalf("dry run: exit %d, plan-file %q\n%s", dry.Code, dry.Outputs["plan-file"], dry.Log)
	}
	b, err := os.ReadFile(planPath)
	if err != nil {
		t.Fatal(err)
	}
	var pf report.PlanFile
	if err := json.Unmarshal(b, &pf); err != nil {
		t.Fatalf("plan file does not parse: %v", err)
	}
	if pf.SchemaVersion != report.PlanSchemaVersion || !pf.DryRun || len(pf.Repositories) != 1 || pf.Repositories[0].Status != report.PlanPlanned {
		t.Fatalf("plan file: schema %d, dry-run %v, repositories %+v", pf.SchemaVersion, pf.DryRun, pf.Repositories)
	}
	pr := pf.Repositories[0]
	st := State(t, repo)
	if len(pr.Tags) != len(st) {
		t.Fatalf("plan file has %d tags, the registry %d", len(pr.Tags), len(st))
	}
	var planned, removed []string
	decided := map[string]string{}
	for _, m := range pr.Manifests {
		decided[m.Digest] = m.Action
		if m.Rule == "" || m.Reason == "" {
			t.Errorf("manifest %s has no rule or reason", m.Digest)
		}
		if m.Action == "delete" {
			planned = append(planned, m.Digest)
		}
	}
	for _, td := range pr.Tags {
		if st[td.Tag] != td.Digest || td.Rule == "" || td.Reason == "" {
			t.Errorf("tag %+v: the registry has %s", td, st[td.Tag])
		}
		if td.Action != "keep" {
			removed = append(removed, repo+":"+td.Tag)
		}
	}
	for _, d := range doomed {
		if decided[d] != "delete" {
			t.Errorf("manifest %s: %q in the plan file, want delete", d, decided[d])
		}
	}

	in["dry-run"], in["record"] = "false", recPath
	delete(in, "plan-out")
	real := RunAction(t, in)
	if real.Code != 0 || real.Outputs["plan-file"] != "" {
		t.Fatalf("real run: exit %d, plan-file %q\n%s", real.Code, real.Outputs["plan-file"], real.Log)
	}
	rec := ReadRecord(t, recPath)
	slices.Sort(planned)
	slices.Sort(removed)
	if got := slices.Sorted(slices.Values(rec.DeletedDigests)); !reflect.DeepEqual(got, planned) {
		t.Errorf("record deleted %v, the plan file %v", got, planned)
	}
	if got := slices.Sorted(slices.Values(rec.DeletedTags)); !reflect.DeepEqual(got, removed) {
		t.Errorf("record removed tags %v, the plan file %v", got, removed)
	}
	if pf.DeleteCount != rec.DeletedCount {
		t.Errorf("plan file delete-count %d, record deleted-count %d", pf.DeleteCount, rec.DeletedCount)
	}
}

// maxDeletionsLimitRunWide: the cap is one budget for the whole run, spent
// on the oldest images whichever repository holds them: both of a's go,
// none of b's, which are younger.
func maxDeletionsLimitRunWide(t *testing.T, reg *Registry, _ *snaps.Config) {
	ctx := context.Background()
	a, b := reg.Host+"/wide-a", reg.Host+"/wide-b"
	ages := map[string][]int{a: {90, 60}, b: {30, 10}}
	digests := map[string][]string{}
	for _, repo := range []string{a, b} {
		p := pusher(t, repo)
		for i, age := range ages[repo] {
			d, err := p.Image(ctx, fmt.Sprintf("pr-%d", i+1), seed.Image(fmt.Sprintf("%s-%d", repo, i), day0.AddDate(0, 0, -age)))
			if err != nil {
				t.Fatal(err)
			}
			digests[repo] = append(digests[repo], d.String())
		}
	}
	res := RunAction(t, map[string]string{"repository": a + "\n" + b, "tags": "pr-*", "max-deletions": "2", "max-deletions-mode": "limit"})
	if res.Code != 0 || res.Outputs["deleted-count"] != "2" || res.Outputs["deferred-count"] != "2" {
		t.Fatalf("exit %d, deleted-count %s, deferred-count %s\n%s", res.Code, res.Outputs["deleted-count"], res.Outputs["deferred-count"], res.Log)
	}
	if got, want := res.Strings(t, "deleted-tags"), []string{a + ":pr-1", a + ":pr-2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("deleted %v, want the two oldest images, both in %s: %v", got, a, want)
	}
	if got := present(t, a, digests[a]); len(got) != 0 {
		t.Fatalf("%s keeps %v", a, got)
	}
	if got := present(t, b, digests[b]); !reflect.DeepEqual(got, digests[b]) {
		t.Fatalf("%s keeps %v, want both its younger images %v", b, got, digests[b])
	}
}
