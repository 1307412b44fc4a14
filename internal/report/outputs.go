package report

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/regsweep/regsweep/internal/shard"
)

// MaxListOutput caps each list output, in bytes. It keeps one value usable
// through `env:` (Linux caps one variable at 128 KiB) and all outputs
// together under GitHub's 1 MB, counted in UTF-16 (at most two bytes per
// byte here): 4 lists × 100 KiB × 2 = 800 KiB, plus a few short scalars.
const MaxListOutput = 100 << 10

// OutputDef is one step output. This table is the only definition:
// action.yml's outputs block and the README's table are generated from it
// and a test checks both.
type OutputDef struct {
	Name        string
	Description string
	// List: a JSON array capped at MaxListOutput (outputs-truncated says
	// when it was cut). Otherwise one short line: a count, a boolean or a
	// path, which every CI system can carry (GitLab's dotenv takes only
	// these).
	List  bool
	value func(*Record) any
	// expansion, set instead of value, is an output of an expand-only
	// run (see ExpansionOutputs); a sweep or a merge does not set it.
	expansion func(*shard.Expansion) any
}

// OutputDefinitions returns every step output, in the order they are set.
func OutputDefinitions() []OutputDef {
	return []OutputDef{
		{Name: "deleted-digests", List: true, value: func(r *Record) any { return r.DeletedDigests },
			Description: "JSON array of the manifest digests deleted (in a dry run: that would be), each digest once even when deleted from several repositories. A digest already absent when deleted (missing before the run, such as an index child the registry no longer has, or removed by another run first) is not listed: it is counted in the record's `already-gone-count`."},
		{Name: "deleted-tags", List: true, value: func(r *Record) any { return r.DeletedTags },
			Description: "JSON array of the tags that no longer exist because of this run (tags of deleted manifests, and tags removed alone), always written `host/repo:tag`, sorted within each repository."},
		{Name: "deleted-count", value: func(r *Record) any { return r.DeletedCount },
			Description: "Number of manifests deleted (in a dry run: that would be), counted per repository; always exact, even when the lists are cut."},
		{Name: "kept-tags", List: true, value: func(r *Record) any { return r.KeptTags },
			Description: "JSON array of the matching tags that were kept, each `{\"repository\",\"tag\",\"digest\",\"rule\",\"reason\"}`."},
		{Name: "deleted-images", List: true, value: func(r *Record) any { return r.DeletedImages },
			Description: "JSON array of full references, `host/repo@sha256:...`, one per manifest deleted from each repository."},
		{Name: "dry-run", value: func(r *Record) any { return r.DryRun },
			Description: "`true` when nothing was deleted because dry-run was set."},
		{Name: "failed-count", value: func(r *Record) any { return r.FailedCount },
			Description: "Operations that failed, plus repositories that failed before deleting (discovery, planning, max-deletions)."},
		{Name: "refused-count", value: func(r *Record) any { return r.RefusedCount },
			Description: "Deletions the registry refused by its own rules (protected or immutable tags, GitHub's 5000-download and last-tagged-version rules): those manifests and tags are kept, named in `kept-tags` with the registry's reason and in a warning; not failures, so the exit code stays 0."},
		{Name: "not-attempted-count", value: func(r *Record) any { return r.NotAttemptedCount },
			Description: "Operations the plan meant to do that were never attempted (the run stopped, or max-deletions refused the run), plus repositories the run never reached; not counted in failed-count."},
		{Name: "deferred-count", value: func(r *Record) any { return r.DeferredCount },
			Description: "Manifests the plan deletes that `max-deletions-mode: limit` left for the next run (in a dry run: would leave); 0 in stop mode. The next run deletes the oldest of them first."},
		{Name: "outputs-truncated", value: func(r *Record) any { return r.OutputsTruncated },
			Description: "`true` when a list output was cut to stay within its cap (100 KiB each); the record file holds everything."},
		{Name: "record-file", value: func(r *Record) any { return r.RecordFile },
			Description: "Path of the JSON record of the whole run (every deletion, kept tag, failure and warning; schema in the README); relative to the workspace when it is inside it. Empty when none was written."},
		{Name: "repositories", expansion: func(e *shard.Expansion) any { return e.Repositories },
			Description: "expand-only: JSON array of the repositories `repository` names, wildcards expanded, sorted. Never cut: a run whose expansion would not fit GitHub's output limit fails instead (split the wildcard)."},
		{Name: "shards", expansion: func(e *shard.Expansion) any { return e.Shards },
			Description: "expand-only with `shards`: JSON array of that many lists of repositories (fewer when there are fewer repositories), balanced and the same for the same registry state; `fromJSON` it into a matrix. Never cut, like `repositories`."},
		{Name: "plan-file", value: func(r *Record) any { return r.PlanFile },
			Description: "Path of the JSON plan `plan-out` wrote (every tag and manifest with its decision and rule; schema in the README), shown like `record-file`. Empty without `plan-out`, or when it could not be written."},
	}
}

// Output is one step output as a CI provider writes it.
type Output struct {
	Name  string
	Value string
	List  bool
}

// Outputs returns the step outputs of rec, in a fixed order. Every value is
// one line: a JSON array (strings escaped by encoding/json), a number, a
// boolean or a path. Lists longer than MaxListOutput are cut at a whole
// element, and rec.OutputsTruncated is set so that the record says so too.
func Outputs(rec *Record) []Output {
	defs := OutputDefinitions()
	lists := map[string]string{}
	defs = slices.DeleteFunc(defs, func(d OutputDef) bool { return d.value == nil })
	for _, d := range defs {
		if d.List {
			v, cut := boundedArray(d.value(rec), MaxListOutput)
			lists[d.Name] = v
			rec.OutputsTruncated = rec.OutputsTruncated || cut
		}
	}
	out := make([]Output, 0, len(defs))
	for _, d := range defs {
		if d.List {
			out = append(out, Output{Name: d.Name, Value: lists[d.Name], List: true})
			continue
		}
		out = append(out, Output{Name: d.Name, Value: scalar(d.value(rec))})
	}
	return out
}

// ExpandOnly says whether the output belongs to an expand-only run (the
// repositories and shards of a wildcard) rather than to a sweep.
func (d OutputDef) ExpandOnly() bool { return d.expansion != nil }

// MaxExpansionOutput bounds the expand-only outputs together, in bytes: a
// cut list would drop repositories from every shard, so an expansion that
// does not fit fails instead. GitHub takes 1 MB of outputs, counted in
// UTF-16 (at most two bytes per byte here).
const MaxExpansionOutput = 480 << 10

// ExpansionOutputs returns an expand-only run's outputs: repositories and,
// when it was sharded, shards. It fails rather than cut either.
func ExpansionOutputs(e *shard.Expansion) ([]Output, error) {
	var out []Output
	size := 0
	for _, d := range OutputDefinitions() {
		if d.expansion == nil || d.Name == "shards" && e.Shards == nil {
			continue
		}
		v := jsonLine(d.expansion(e))
		size += len(v)
		out = append(out, Output{Name: d.Name, Value: v, List: true})
	}
	if size > MaxExpansionOutput {
		return nil, fmt.Errorf("the expansion (%d repositories) takes %d KiB, more than a step output carries (%d KiB): split the wildcard into several expansions, or pass the record file between jobs", len(e.Repositories), size>>10, MaxExpansionOutput>>10)
	}
	return out, nil
}

func scalar(v any) string {
	switch v := v.(type) {
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case string:
		return v
	}
	return jsonLine(v)
}

// boundedArray encodes a slice as a one-line JSON array of at most limit
// bytes, keeping whole elements; cut says whether any were left out.
func boundedArray(v any, limit int) (string, bool) {
	b, err := json.Marshal(v)
	if err != nil || len(b) <= limit {
		return jsonLine(v), false
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(b, &elems); err != nil {
		return "[]", true
	}
	var sb strings.Builder
	sb.WriteByte('[')
	for i, e := range elems {
		if sb.Len()+len(e)+2 > limit {
			break
		}
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.Write(e)
	}
	sb.WriteByte(']')
	return sb.String(), true
}

// jsonLine encodes v on one line. encoding/json escapes control characters
// (so no raw newline can end the value early) and <, >, &.
func jsonLine(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain strings and structs of strings are encoded here.
		return "[]"
	}
	return strings.TrimSpace(string(b))
}

// ActionOutputsYAML is action.yml's outputs block.
func ActionOutputsYAML() string {
	var b strings.Builder
	b.WriteString("outputs:\n")
	for _, d := range OutputDefinitions() {
		b.WriteString("  " + d.Name + ":\n")
		b.WriteString("    description: '" + strings.ReplaceAll(d.Description, "'", "''") + "'\n")
	}
	return b.String()
}

// OutputsMarkdownTable is the README's outputs table.
func OutputsMarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Output | Value |\n| --- | --- |\n")
	for _, d := range OutputDefinitions() {
		b.WriteString("| `" + d.Name + "` | " + strings.ReplaceAll(d.Description, "|", "\\|") + " |\n")
	}
	return b.String()
}
