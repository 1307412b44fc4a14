package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/regsweep/regsweep/internal/shard"
)

// MergedMarkdown renders the job summary of a merge: the result, each
// shard's state, the problems, the kept-by-rule counts and a table of the
// repositories, capped so that it stays under GitHub's limit; the merged
// record holds everything.
func MergedMarkdown(rec *Record, problems []string) string {
	for _, l := range levels() {
		if out := mergedMarkdown(rec, problems, l); len(out) <= MaxSummary {
			return out
		}
	}
	return mergedMarkdown(rec, problems, limits{Rows: 1, Text: 40})
}

func mergedMarkdown(rec *Record, problems []string, l limits) string {
	var b strings.Builder
	title := "## regsweep: merged " + plural(len(rec.Shards), "shard", "shards")
	if rec.DryRun {
		title += " (dry run)"
	}
	b.WriteString(title + "\n\n" + esc(rec.Result) + "\n\n")

	b.WriteString("| Shard | Repositories | State | Records |\n| --- | --- | --- | --- |\n")
	for _, s := range rec.Shards {
		var files []string
		for _, f := range s.Records {
			files = append(files, code(f))
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", s.Shard, s.Repositories, s.State, strings.Join(files, ", "))
	}
	bulletSection(&b, "Problems", problems, l)

	if len(rec.KeptTags) > 0 {
		byRule := map[string]int{}
		for _, k := range rec.KeptTags {
			byRule[k.Rule]++
		}
		b.WriteString("\n### Kept, by rule\n\n| Rule | Matching tags kept |\n| --- | --- |\n")
		for _, rule := range slices.Sorted(maps.Keys(byRule)) {
			fmt.Fprintf(&b, "| %s | %d |\n", code(rule), byRule[rule])
		}
	}

	b.WriteString("\n### Repositories\n\n| Repository | Status | Deleted | Tags removed | Kept | Failed | Not attempted |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	shown, more := capList(rec.Repositories, l.Rows)
	for _, rr := range shown {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d |\n", code(rr.Repository), rr.Status, rr.DeletedCount, rr.RemovedTagCount, rr.KeptCount, rr.FailedCount, rr.NotAttemptedCount)
	}
	if more > 0 {
		fmt.Fprintf(&b, "\nand %d more: see the record file\n", more)
	}

	// The problems have their own section above.
	bulletSection(&b, "Errors", slices.DeleteFunc(slices.Clone(rec.Errors), func(e string) bool { return slices.Contains(problems, e) }), l)
	if rec.RecordFile != "" {
		b.WriteString("\nThe merged record: " + code(rec.RecordFile) + ".\n")
	}
	return b.String()
}

// bulletSection writes a "### title" section listing items, capped by l;
// nothing when there are none.
func bulletSection(b *strings.Builder, title string, items []string, l limits) {
	if len(items) == 0 {
		return
	}
	b.WriteString("\n### " + title + "\n\n")
	shown, more := capList(items, l.Rows)
	for _, it := range shown {
		b.WriteString("- " + esc(clip(it, l.Text)) + "\n")
	}
	if more > 0 {
		fmt.Fprintf(b, "- and %d more: see the record file\n", more)
	}
}

// MergedLines renders a merge's log lines: the repositories' errors and
// the warnings (each capped), every problem, and the result line as a
// notice.
func MergedLines(rec *Record, problems []string) []Line {
	var out []Line
	errs := slices.DeleteFunc(slices.Clone(rec.Errors), func(e string) bool { return slices.Contains(problems, e) })
	shownErrs, moreErrs := capList(errs, maxTextErrors)
	for _, e := range shownErrs {
		out = append(out, Line{Error, plain(e)})
	}
	if moreErrs > 0 {
		out = append(out, Line{Info, fmt.Sprintf("… and %d more errors (see the record)", moreErrs)})
	}
	for _, p := range problems {
		out = append(out, Line{Error, plain(p)})
	}
	shown, more := capList(rec.Warnings, maxTextErrors)
	for _, w := range shown {
		out = append(out, Line{Warning, plain(w)})
	}
	if more > 0 {
		out = append(out, Line{Info, fmt.Sprintf("… and %d more warnings (see the record)", more)})
	}
	return append(out, Line{Notice, rec.Result})
}

// ExpansionLine is an expand-only run's result in one line.
func ExpansionLine(e *shard.Expansion) string {
	s := "regsweep: expanded to " + plural(len(e.Repositories), "repository", "repositories")
	if e.Shards != nil {
		s += " in " + plural(len(e.Shards), "shard", "shards")
	}
	return s + "; nothing swept"
}

// ExpansionMarkdown is an expand-only run's job summary: each shard's
// size and repositories, capped.
func ExpansionMarkdown(e *shard.Expansion) string {
	var b strings.Builder
	b.WriteString("## " + esc(ExpansionLine(e)) + "\n\n")
	shards := e.Shards
	if shards == nil {
		shards = [][]string{e.Repositories}
	}
	b.WriteString("| Shard | Repositories | Names |\n| --- | --- | --- |\n")
	for i, s := range shards {
		shown, more := capList(s, 20)
		names := make([]string, len(shown))
		for j, n := range shown {
			names[j] = code(n)
		}
		line := strings.Join(names, ", ")
		if more > 0 {
			line += fmt.Sprintf(" and %d more", more)
		}
		fmt.Fprintf(&b, "| %d | %d | %s |\n", i+1, len(s), line)
		if b.Len() > MaxSummary/2 {
			fmt.Fprintf(&b, "\nand %d more shards: see the record file\n", len(shards)-i-1)
			break
		}
	}
	return b.String()
}
