package dist3test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/shard"
)

// seedTeam pushes 40 repositories team/r00..team/r39 and one outside the
// wildcard, other/x. Each has latest, pr-0 on latest's digest (removed by
// tag: latest keeps the image) and 1 to 3 pull-request images of its own,
// so keep-latest keeps one and deletes the others, and shards differ in
// tag counts.
func seedTeam(t *testing.T, r *registry) []string {
	t.Helper()
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	names := []string{"other/x"}
	for i := range 40 {
		names = append(names, fmt.Sprintf("team/r%02d", i))
	}
	var g errgroup.Group
	g.SetLimit(8)
	for i, n := range names {
		g.Go(func() error {
			repo := r.Host + "/" + n
			images := []image{{Tag: "latest", ID: n + "/latest", Created: day}, {Tag: "pr-0", ID: n + "/latest", Created: day}}
			for k := 1; k <= 1+i%3; k++ {
				images = append(images, image{Tag: fmt.Sprintf("pr-%d", k), ID: fmt.Sprintf("%s/pr-%d", n, k), Created: day.Add(time.Duration(k) * time.Hour)})
			}
			r.push(t, repo, images)
			return nil
		})
	}
	_ = g.Wait()
	return names
}

// states reads every repository's tags, keyed by name without the host.
func states(t *testing.T, r *registry, names []string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, n := range names {
		out[n] = r.state(t, r.Host+"/"+n)
	}
	return out
}

// readRecordFile decodes a record file.
func readRecordFile(t *testing.T, path string) report.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	var rec report.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("record %s: %v", path, err)
	}
	return rec
}

// comparable is the part of a record a sharded run must reproduce: every
// list sorted (shards run in their own order), the record's own path and
// the merge's shard table left out.
func comparable(rec report.Record) report.Record {
	rec.RecordFile, rec.Shards, rec.Regsweep = "", nil, ""
	for _, l := range [][]string{rec.DeletedDigests, rec.DeletedTags, rec.DeletedImages, rec.Errors, rec.Warnings} {
		slices.Sort(l)
	}
	slices.SortFunc(rec.KeptTags, func(a, b report.KeptTag) int {
		return strings.Compare(a.Repository+":"+a.Tag, b.Repository+":"+b.Tag)
	})
	slices.SortFunc(rec.Repositories, func(a, b report.RepoRecord) int { return strings.Compare(a.Repository, b.Repository) })
	return rec
}

// TestShardedSweep: a wildcard over 40 repositories expanded into 4
// shards, each swept by its own regsweep process (three as GitLab's
// `shard` jobs, one as a GitHub matrix job given its list through
// toJSON), merged: the same deletions, kept tags, counts and final
// registry state as one run over the wildcard on an identical registry.
// A merge missing one shard's record names that shard and exits 1.
func TestShardedSweep(t *testing.T) {
	one, sharded := startRegistry(t, creds{}), startRegistry(t, creds{})
	names := seedTeam(t, one)
	seedTeam(t, sharded)
	before := states(t, sharded, names)
	policy := []string{"--tags", "pr-*", "--keep-latest", "1"}
	dir := t.TempDir()

	single := runBinary(t, nil, append([]string{"--repository", one.Host + "/team/*", "--record", filepath.Join(dir, "single.json")}, policy...)...)
	if single.Code != 0 {
		t.Fatalf("one run over the wildcard: exit %d\n%s", single.Code, single.Log())
	}

	expand := runBinary(t, nil, "--list-repositories", "--repository", sharded.Host+"/team/*", "--shards", "4")
	if expand.Code != 0 {
		t.Fatalf("expansion: exit %d\n%s", expand.Code, expand.Log())
	}
	exp, err := shard.Parse([]byte(expand.Stdout))
	if err != nil {
		t.Fatalf("--list-repositories printed %q: %v", expand.Stdout, err)
	}
	if again := runBinary(t, nil, "--list-repositories", "--repository", sharded.Host+"/team/*", "--shards", "4"); again.Stdout != expand.Stdout {
		t.Fatalf("the same registry expanded twice gave different shards:\n%s\n%s", expand.Stdout, again.Stdout)
	}
	if len(exp.Repositories) != 40 || len(exp.Shards) != 4 {
		t.Fatalf("expansion: %d repositories in %d shards, want 40 in 4", len(exp.Repositories), len(exp.Shards))
	}
	for i, s := range exp.Shards {
		if len(s) != 10 {
			t.Errorf("shard %d has %d repositories, want 10", i+1, len(s))
		}
	}
	shardsFile := filepath.Join(dir, "shards.json")
	if err := os.WriteFile(shardsFile, []byte(expand.Stdout), 0o600); err != nil {
		t.Fatal(err)
	}

	records := filepath.Join(dir, "records")
	if err := os.Mkdir(records, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Run("shards", func(t *testing.T) {
		for i := range exp.Shards {
			t.Run(fmt.Sprint(i+1), func(t *testing.T) {
				t.Parallel()
				args := []string{"--record", filepath.Join(records, fmt.Sprintf("shard-%d.json", i+1))}
				if i == len(exp.Shards)-1 {
					list, err := json.MarshalIndent(exp.Shards[i], "", "  ") // as toJSON writes it
					if err != nil {
						t.Fatal(err)
					}
					args = append(args, "--repository", string(list))
				} else {
					args = append(args, "--shard", fmt.Sprint(i+1), "--shards-file", shardsFile)
				}
				r := runBinary(t, nil, append(args, policy...)...)
				if r.Code != 0 {
					t.Fatalf("shard %d: exit %d\n%s", i+1, r.Code, r.Log())
				}
			})
		}
	})
	if t.Failed() {
		return
	}

	merged := runBinary(t, nil, "merge", "--shards-file", shardsFile, "--record", filepath.Join(dir, "merged.json"), filepath.Join(records, "shard-*.json"))
	if merged.Code != 0 {
		t.Fatalf("merge: exit %d\n%s", merged.Code, merged.Log())
	}
	got := comparable(readRecordFile(t, filepath.Join(dir, "merged.json")))
	oneJSON, err := os.ReadFile(filepath.Join(dir, "single.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want report.Record
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(oneJSON), one.Host, sharded.Host)), &want); err != nil {
		t.Fatal(err)
	}
	want = comparable(want)
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("the merged record differs from one run's:\nmerged: %s\none run: %s", g, w)
	}
	if got.DeletedCount != 40 || got.KeptCount == 0 || len(got.Repositories) != 40 {
		g, _ := json.MarshalIndent(got.Repositories[:2], "", " ")
		t.Fatalf("merged: %d deleted, %d kept over %d repositories; want 40 deleted, some kept, 40 repositories\n%s", got.DeletedCount, got.KeptCount, len(got.Repositories), g)
	}

	// Against the registries: both end the same, other/x untouched, and
	// the merged record's deleted tags are exactly the tags gone.
	after, afterOne := states(t, sharded, names), states(t, one, names)
	if !reflect.DeepEqual(after, afterOne) {
		t.Fatalf("the registries differ after one run and after the shards:\none run: %v\nshards: %v", afterOne, after)
	}
	if !reflect.DeepEqual(after["other/x"], before["other/x"]) {
		t.Fatalf("other/x, outside the wildcard, changed: %v -> %v", before["other/x"], after["other/x"])
	}
	var gone []string
	for _, n := range names {
		for _, tag := range removed(before[n], after[n]) {
			gone = append(gone, sharded.Host+"/"+n+":"+tag)
		}
	}
	sameStrings(t, "deleted-tags against the registry", got.DeletedTags, gone)
	for _, k := range got.KeptTags {
		n := strings.TrimPrefix(k.Repository, sharded.Host+"/")
		if d, ok := after[n][k.Tag]; !ok || d != k.Digest {
			t.Errorf("kept %s:%s (%s) is not on the registry at %s", n, k.Tag, k.Digest, d)
		}
	}

	// Shard 3's record is missing: the merge names it and fails.
	if err := os.Remove(filepath.Join(records, "shard-3.json")); err != nil {
		t.Fatal(err)
	}
	partial := runBinary(t, nil, "merge", "--shards-file", shardsFile, "--json",
		filepath.Join(records, "shard-1.json"), filepath.Join(records, "shard-2.json"), filepath.Join(records, "shard-4.json"))
	if partial.Code != 1 {
		t.Fatalf("merge without shard 3: exit %d, want 1\n%s", partial.Code, partial.Log())
	}
	if !strings.Contains(partial.Stderr, "shard 3 of 4 never reported") {
		t.Fatalf("the merge does not name shard 3:\n%s", partial.Stderr)
	}
	var prec report.Record
	if err := json.Unmarshal([]byte(partial.Stdout), &prec); err != nil {
		t.Fatalf("--json: %v\n%s", err, partial.Stdout)
	}
	if prec.FailedCount != 10 || prec.Shards[2].State != report.ShardMissing || len(prec.Shards[2].Missing) != 10 {
		t.Fatalf("merge without shard 3: failed-count %d, shard 3 %+v; want 10 failed repositories, shard 3 missing", prec.FailedCount, prec.Shards[2])
	}
}
