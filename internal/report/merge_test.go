package report

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/shard"
)

// manyRepositories is one run over repositories of every kind the record
// knows: swept, dry-run-free deletions shared across repositories, a
// stopped sweep, kept shared-digest tags and a failed discovery, each
// under its own name, sorted by name as a merge sorts them.
func manyRepositories() []Repository {
	named := func(rp Repository, name string) Repository {
		rp.Name = name
		if rp.Plan != nil {
			rp.Plan.Repository = name
		}
		return rp
	}
	return []Repository{
		named(normalRun(false), "registry.test:5000/team/a"),
		named(sharedRun(), "registry.test:5000/team/b"),
		named(normalRun(false), "registry.test:5000/team/c"), // the same digests as team/a
		named(stoppedRun(), "registry.test:5000/team/d"),
		{Name: "registry.test:5000/team/e", Backend: "oci", Capabilities: ociCaps, Err: fmt.Errorf("list tags: %w", backend.ErrForbidden)},
		named(untagFirstStopped(), "registry.test:5000/team/f"),
	}
}

// roundTrip is a record as merge reads it: written as JSON and read back.
func roundTrip(t *testing.T, rec *Record) *Record {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var out Record
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// Shards' records, merged, are the record of one run over them all: the
// same lists, counts, errors, warnings and result line, however the
// repositories are split.
func TestMergeEqualsOneRun(t *testing.T) {
	repos := manyRepositories()
	names := make([]string, len(repos))
	for i, rp := range repos {
		names[i] = rp.Name
	}
	want := roundTrip(t, Build(baseReport(false, repos...)))
	for n := 1; n <= len(repos); n++ {
		t.Run(fmt.Sprintf("%d shards", n), func(t *testing.T) {
			exp := &shard.Expansion{Repositories: names, Shards: shard.Balance(names, n, nil)}
			var recs []ShardRecord
			for i, s := range exp.Shards {
				var part []Repository
				for _, rp := range manyRepositories() {
					if slices.Contains(s, rp.Name) {
						part = append(part, rp)
					}
				}
				recs = append(recs, ShardRecord{Path: fmt.Sprintf("shard-%d.json", i+1), Record: roundTrip(t, Build(baseReport(false, part...)))})
			}
			got, problems := Merge(exp, recs, "v0.0.0-test")
			// team/d and team/e failed: their shards are named.
			for _, p := range problems {
				if !strings.Contains(p, " failed: ") {
					t.Errorf("unexpected problem: %s", p)
				}
			}
			if len(got.Shards) != n {
				t.Fatalf("%d merged shards, want %d", len(got.Shards), n)
			}
			got.Shards = nil
			got.Errors = slices.DeleteFunc(got.Errors, func(e string) bool { return slices.Contains(problems, e) })
			if !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(want, "", " ")
				t.Fatalf("merged:\n%s\none run:\n%s", g, w)
			}
		})
	}
}

func TestMergeProblems(t *testing.T) {
	a, b := normalRun(false), normalRun(false)
	a.Name, b.Name = "r.test/t/a", "r.test/t/b"
	recA := roundTrip(t, Build(baseReport(false, a)))
	recB := roundTrip(t, Build(baseReport(false, b)))
	recBDry := roundTrip(t, Build(baseReport(true, b)))
	exp := &shard.Expansion{Repositories: []string{"r.test/t/a", "r.test/t/b", "r.test/t/c"}, Shards: [][]string{{"r.test/t/a"}, {"r.test/t/b", "r.test/t/c"}}}
	tests := []struct {
		name       string
		recs       []ShardRecord
		want       []string // substrings, one problem each, in order
		wantStates []string
		failed     int
	}{
		{name: "missing shard", recs: []ShardRecord{{"a.json", recA}},
			want:       []string{"shard 2 of 2 never reported: no record holds any of its 2 repositories (r.test/t/b, r.test/t/c); rerun it"},
			wantStates: []string{ShardSwept, ShardMissing}, failed: 2},
		{name: "incomplete shard", recs: []ShardRecord{{"a.json", recA}, {"b.json", recB}},
			want:       []string{"shard 2 of 2 reported only part of its repositories: no record holds r.test/t/c; rerun it"},
			wantStates: []string{ShardSwept, ShardIncomplete}, failed: 1},
		{name: "twice", recs: []ShardRecord{{"a.json", recA}, {"a2.json", recA}},
			want:       []string{"r.test/t/a is in a.json and in a2.json: counted once, from a.json", "shard 2 of 2 never reported"},
			wantStates: []string{ShardSwept, ShardMissing}, failed: 2},
		{name: "dry and real", recs: []ShardRecord{{"a.json", recA}, {"b.json", recBDry}},
			want:       []string{"some records are of a dry run (b.json) and some of a real one (a.json)", "shard 2 of 2 reported only part"},
			wantStates: []string{ShardSwept, ShardIncomplete}, failed: 1},
		{name: "unknown repository", recs: []ShardRecord{{"b.json", recB}},
			want:       []string{"shard 1 of 2 never reported", "shard 2 of 2 reported only part"},
			wantStates: []string{ShardMissing, ShardIncomplete}, failed: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := Merge(exp, tt.recs, "v")
			if len(problems) != len(tt.want) {
				t.Fatalf("problems %q, want %q", problems, tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(problems[i], w) {
					t.Errorf("problem %d = %q, want %q", i, problems[i], w)
				}
			}
			var states []string
			for _, s := range got.Shards {
				states = append(states, s.State)
			}
			if !reflect.DeepEqual(states, tt.wantStates) {
				t.Errorf("states %v, want %v", states, tt.wantStates)
			}
			if got.FailedCount != tt.failed {
				t.Errorf("failed-count %d, want %d", got.FailedCount, tt.failed)
			}
			for _, p := range problems {
				if !slices.Contains(got.Errors, p) {
					t.Errorf("the record's errors lack %q", p)
				}
			}
			md := MergedMarkdown(got, problems)
			if !strings.Contains(md, "### Problems") {
				t.Errorf("the summary has no problems section:\n%s", md)
			}
		})
	}

	// A record of a repository no shard names is merged and named.
	other := normalRun(false)
	other.Name = "r.test/elsewhere/z"
	recs := []ShardRecord{{"a.json", recA}, {"z.json", roundTrip(t, Build(baseReport(false, other)))}}
	got, problems := Merge(&shard.Expansion{Repositories: []string{"r.test/t/a"}, Shards: [][]string{{"r.test/t/a"}}}, recs, "v")
	if len(problems) != 1 || !strings.Contains(problems[0], "z.json holds r.test/elsewhere/z, which no shard of the expansion names") {
		t.Fatalf("problems %q", problems)
	}
	if len(got.Repositories) != 2 {
		t.Fatalf("the stray repository was dropped: %d repositories", len(got.Repositories))
	}
}

// The merge's summary, log lines and outputs, and an expansion's summary
// and outputs: shard 3 of 3 never reported, shard 2 failed.
func TestMergeSnapshots(t *testing.T) {
	repos := manyRepositories()
	var names []string
	for _, rp := range repos {
		names = append(names, rp.Name)
	}
	exp := &shard.Expansion{Repositories: names, Shards: shard.Balance(names, 3, nil)}
	var recs []ShardRecord
	for i, s := range exp.Shards[:2] {
		var part []Repository
		for _, rp := range manyRepositories() {
			if slices.Contains(s, rp.Name) {
				part = append(part, rp)
			}
		}
		recs = append(recs, ShardRecord{Path: fmt.Sprintf("records/shard-%d.json", i+1), Record: roundTrip(t, Build(baseReport(false, part...)))})
	}
	rec, problems := Merge(exp, recs, "v0.0.0-test")
	rec.RecordFile = "regsweep-record.json"
	var lines, outs strings.Builder
	for _, l := range MergedLines(rec, problems) {
		fmt.Fprintf(&lines, "%d %s\n", l.Level, l.Text)
	}
	for _, o := range Outputs(rec) {
		fmt.Fprintf(&outs, "%s=%s\n", o.Name, o.Value)
	}
	eouts, err := ExpansionOutputs(exp)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range eouts {
		fmt.Fprintf(&outs, "%s=%s\n", o.Name, o.Value)
	}
	snaps.MatchSnapshot(t, MergedMarkdown(rec, problems), lines.String(), outs.String(), ExpansionMarkdown(exp))
}

// An expansion too long for a step output fails rather than cut a shard.
func TestExpansionOutputsBounded(t *testing.T) {
	var names []string
	for i := range 20000 {
		names = append(names, fmt.Sprintf("registry.example.com/team/some-long-repository-name-%05d", i))
	}
	_, err := ExpansionOutputs(&shard.Expansion{Repositories: names, Shards: shard.Balance(names, 4, nil)})
	if err == nil || !strings.Contains(err.Error(), "more than a step output carries") {
		t.Fatalf("err = %v", err)
	}
}
