package report

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"gopkg.in/yaml.v3"

	"github.com/regsweep/regsweep/internal/apply"
	"github.com/regsweep/regsweep/internal/shard"
)

// -update rewrites action.yml's outputs block and the README's outputs
// table from OutputDefinitions:
//
//	go test ./internal/report -run TestOutputDocs -update
var update = flag.Bool("update", false, "rewrite action.yml's outputs and the README's outputs table")

// between replaces (update) or returns the text between two markers.
func between(t *testing.T, path, begin, end, want string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q ... %q", path, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	if *update {
		text = text[:i+len(begin)] + want + text[j:]
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := text[i+len(begin) : j]; got != want {
		t.Errorf("%s differs from OutputDefinitions; run: go test ./internal/report -run TestOutputDocs -update\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestOutputDocs: action.yml and the README document exactly the outputs
// the code sets, with the definitions' words.
func TestOutputDocs(t *testing.T) {
	root := filepath.Join("..", "..")
	between(t, filepath.Join(root, "action.yml"), "# BEGIN generated outputs\n", "# END generated outputs\n", ActionOutputsYAML())
	between(t, filepath.Join(root, "README.md"), "<!-- outputs:start -->\n", "<!-- outputs:end -->", OutputsMarkdownTable())

	data, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Outputs map[string]struct {
			Description string `yaml:"description"`
		} `yaml:"outputs"`
	}
	if err := yaml.Unmarshal(data, &action); err != nil {
		t.Fatal(err)
	}
	var declared, set []string
	for name, o := range action.Outputs {
		declared = append(declared, name)
		if o.Description == "" {
			t.Errorf("action.yml output %s has no description", name)
		}
	}
	for _, o := range Outputs(Build(baseReport(false, normalRun(false)))) {
		set = append(set, o.Name)
	}
	// An expand-only run sets its own two.
	expansion, err := ExpansionOutputs(&shard.Expansion{Repositories: []string{"r.test/a"}, Shards: [][]string{{"r.test/a"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range expansion {
		set = append(set, o.Name)
	}
	slices.Sort(declared)
	slices.Sort(set)
	if !slices.Equal(declared, set) {
		t.Errorf("action.yml declares %v, the run sets %v", declared, set)
	}
}

// TestRecordCarriesOutputs: every output is a top-level key of the record
// (and of --json), with the same value natively typed, so a script reads
// one name from either.
func TestRecordCarriesOutputs(t *testing.T) {
	rec := Build(baseReport(false, normalRun(false), stoppedRun()))
	rec.RecordFile = "regsweep-record.json"
	rec.PlanFile = "plan.json"
	outs := Outputs(rec)
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		raw, ok := top[o.Name]
		if !ok {
			t.Errorf("the record lacks output %s", o.Name)
			continue
		}
		want := o.Value
		if !o.List && (o.Name == "record-file" || o.Name == "plan-file") {
			want = `"` + o.Value + `"`
		}
		if string(raw) != want {
			t.Errorf("%s: record %s, output %s", o.Name, raw, o.Value)
		}
	}
	if rec.SchemaVersion != SchemaVersion || len(rec.Repositories) != 2 {
		t.Errorf("record: schema %d, %d repositories", rec.SchemaVersion, len(rec.Repositories))
	}
	// Counts that a stop leaves: failed and not attempted, both exact.
	if rec.FailedCount != 1 || rec.NotAttemptedCount != 2 {
		t.Errorf("failed-count %d, not-attempted-count %d; want 1 and 2", rec.FailedCount, rec.NotAttemptedCount)
	}
}

// TestBoundedOutputs: lists past the cap are cut at a whole element, still
// parse, set outputs-truncated; counts stay exact; everything together
// stays under 1 MB in UTF-16.
func TestBoundedOutputs(t *testing.T) {
	const n = 12000
	tags := make([]string, n)
	for i := range tags {
		tags[i] = strings.Repeat("t", 100) + "-" + strings.Repeat("x", 5) + string(rune('a'+i%26))
	}
	rec := Build(baseReport(false, hostileRepo(tags)))
	total := 0
	var truncated string
	for _, o := range Outputs(rec) {
		total += 2 * len(utf16.Encode([]rune(o.Name+o.Value)))
		if o.List {
			if len(o.Value) > MaxListOutput {
				t.Errorf("%s is %d bytes, over %d", o.Name, len(o.Value), MaxListOutput)
			}
			var v []any
			if err := json.Unmarshal([]byte(o.Value), &v); err != nil {
				t.Errorf("%s does not parse after the cut: %v", o.Name, err)
			}
		}
		if o.Name == "outputs-truncated" {
			truncated = o.Value
		}
		if o.Name == "deleted-count" && o.Value != "6000" {
			t.Errorf("deleted-count = %s, want 6000", o.Value)
		}
	}
	if total >= 1_000_000 {
		t.Errorf("outputs are %d bytes in UTF-16", total)
	}
	if truncated != "true" || !rec.OutputsTruncated || len(rec.DeletedTags) != n/2 {
		t.Errorf("outputs-truncated %s, record %v with %d tags", truncated, rec.OutputsTruncated, len(rec.DeletedTags))
	}
}

// TestLinesTimeout: a run ended by its timeout over many repositories
// prints one error; repositories never started count as not attempted,
// not as failed; warnings are warnings; the result is one notice.
func TestLinesTimeout(t *testing.T) {
	repos := []Repository{normalRun(false)}
	for i := range 50 {
		rp := stoppedRun()
		rp.Name = fmt.Sprintf("registry.test:5000/team/r%d", i)
		rp.Result.Stopped = context.DeadlineExceeded
		for j := range rp.Result.Records {
			if rp.Result.Records[j].Outcome == apply.Failed {
				rp.Result.Records[j].Err = context.DeadlineExceeded
			}
		}
		repos = append(repos, rp)
	}
	for i := range 20 {
		repos = append(repos, Repository{Name: fmt.Sprintf("registry.test:5000/team/late%d", i), NotStarted: true, Err: context.DeadlineExceeded})
	}
	r := baseReport(false, repos...)
	r.Stopped = context.DeadlineExceeded
	rec := Build(r)
	var errs, notices, warnings []string
	for _, l := range Lines(r, rec) {
		switch l.Level {
		case Error:
			errs = append(errs, l.Text)
		case Notice:
			notices = append(notices, l.Text)
		case Warning:
			warnings = append(warnings, l.Text)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "timeout ran out") || !strings.Contains(errs[0], "20 of 71 repositories never started") {
		t.Errorf("errors = %q, want one naming the timeout and the 20 repositories never started", errs)
	}
	if len(notices) != 1 || notices[0] != rec.Result {
		t.Errorf("notices = %q, want the result line once", notices)
	}
	if len(warnings) != 2 {
		t.Errorf("warnings = %q, want the graph's and the plan's", warnings)
	}
	// 50 × 2 ops never tried + 20 repositories never started.
	if rec.NotAttemptedCount != 120 || rec.FailedCount != 50 {
		t.Errorf("not-attempted-count %d (want 120), failed-count %d (want 50)", rec.NotAttemptedCount, rec.FailedCount)
	}
	for _, rr := range rec.Repositories[51:] {
		if rr.Status != StatusNotStarted {
			t.Errorf("%s: status %s", rr.Repository, rr.Status)
		}
	}
}
