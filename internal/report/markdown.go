package report

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/regsweep/regsweep/internal/apply"
	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/plan"
)

// MaxSummary is the size the markdown must stay under (GitHub's step summary
// limit is 1 MiB); a margin is kept for what the provider adds around it.
const MaxSummary = 1<<20 - 16<<10

// limits cap what one repository section shows; Markdown tries them in
// order until the summary fits.
type limits struct {
	Rows    int // rows per table or list
	RowTags int // tags per row of the deleted table
	Text    int // characters per reason or error
}

// levels are the caps Markdown tries, most generous first.
func levels() []limits {
	return []limits{
		{Rows: 500, RowTags: 10, Text: 300},
		{Rows: 100, RowTags: 5, Text: 200},
		{Rows: 20, RowTags: 3, Text: 120},
		{Rows: 3, RowTags: 1, Text: 80},
	}
}

// Markdown renders the job summary.
func Markdown(r *Report) string {
	foot := footer(r)
	budget := MaxSummary - len(foot)
	var out string
	for _, l := range levels() {
		out = render(r, l)
		if len(out) <= budget {
			return out + foot
		}
	}
	// Hundreds of repositories can still exceed the budget: cut at a line
	// boundary and say so.
	const note = "\n\n… summary truncated to stay under GitHub's 1 MiB limit; the record file holds everything.\n"
	cut := strings.LastIndexByte(out[:budget-len(note)], '\n')
	if cut < 0 {
		cut = budget - len(note)
	}
	return out[:cut] + note + foot
}

// footer is the garbage collection reminder, kept even when the body is cut.
func footer(r *Report) string {
	s := "---\n<sub>Deleting manifests frees no storage by itself: the registry reclaims it at garbage collection " +
		"(self-hosted distribution: <code>registry garbage-collect --delete-untagged &lt;config&gt;</code>; " +
		"hosted registries collect on their own)."
	if r.Version != "" {
		s += " regsweep " + esc(r.Version) + "."
	}
	return s + "</sub>\n"
}

type mdView struct {
	DryRun   bool
	Multi    bool
	Version  string
	Duration time.Duration
	Requests int
	Retries  int
	Waited   time.Duration
	Total    counts
	Repos    []repoView
	// KeptByRule counts the kept matching tags of every repository by the
	// rule that kept them, most first.
	KeptByRule []ruleCount
	// More ends a capped table: where the rest is.
	More string
}

type ruleCount struct {
	Rule  string
	Count int
}

type counts struct {
	Dry                                                                bool
	Deleted, AlreadyGone, Removed, Kept, Failed, Refused, NotAttempted int
	Deferred                                                           int
}

type repoView struct {
	Dry      bool
	Name     string
	Backend  string
	Cannot   []string
	Counts   counts
	Err      string
	ErrHint  string
	Stopped  string
	StopHint string
	NotRun   string
	// NotStarted: the run ended before this repository was reached.
	NotStarted bool
	// More ends a capped table: where the rest is.
	More string
	// Probed: discovery ran, so the backend's capabilities are known.
	Probed bool

	Deleted          []deletedView
	DeletedMore      int
	Untagged         []string
	UntaggedMore     int
	LeftUntagged     []string
	LeftUntaggedMore int
	LeftUntaggedN    int
	Kept             []KeptTag
	KeptMore         int
	Failed           []opView
	FailedMore       int
	Skipped          []opView
	SkippedMore      int
	NotAttempted     []opView
	NotAttemptedMore int
	Warnings         []string
	WarningsMore     int
	Ranking          string   // how keep-latest ranked ("" when off)
	Ignored          []string // tags the version ranking could not read
	IgnoredMore      int
}

type deletedView struct {
	Digest      string
	Kind        string
	Tags        []string
	TagsMore    int
	AlreadyGone bool
}

type opView struct {
	Kind    string
	Target  string // a tag or a digest
	Digest  string
	IsTag   bool
	Outcome string
	Reason  string
}

func capList[T any](in []T, n int) ([]T, int) {
	if len(in) <= n {
		return in, 0
	}
	return in[:n], len(in) - n
}

func opViews(recs []apply.Record, l limits) ([]opView, int) {
	recs, more := capList(recs, l.Rows)
	out := make([]opView, 0, len(recs))
	for _, rec := range recs {
		v := opView{Kind: string(rec.Op.Kind), Digest: rec.Op.Digest, Outcome: string(rec.Outcome), Reason: clip(rec.Reason, l.Text)}
		if rec.Op.Kind == plan.OpUntag {
			v.Target, v.IsTag = rec.Op.Tag, true
		} else {
			v.Target = rec.Op.Digest
		}
		out = append(out, v)
	}
	return out, more
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func view(r *Report, l limits) mdView {
	v := mdView{
		DryRun: r.DryRun, Multi: len(r.Repositories) > 1, Version: r.Version,
		Duration: r.Duration, Retries: r.Stats.Retries, Waited: r.Stats.Waited,
	}
	v.Total.Dry = r.DryRun
	v.More = "see the record file"
	if r.RecordFile != "" {
		v.More = "see the record file " + code(r.RecordFile)
	}
	byRule := map[string]int{}
	for _, n := range r.Stats.Requests {
		v.Requests += n
	}
	for i := range r.Repositories {
		rp := &r.Repositories[i]
		s := summarize(rp)
		rv := repoView{More: v.More, Dry: r.DryRun, Name: s.Name, Backend: s.Backend, NotRun: clip(s.NotRunReason, l.Text)}
		rv.Counts = counts{
			Dry: r.DryRun, Deleted: s.DeletedCount, AlreadyGone: s.AlreadyGone, Removed: len(s.RemovedTags),
			Kept: len(s.Kept), Failed: s.FailedCount, Refused: s.RefusedCount, NotAttempted: len(s.NotAttempted),
			Deferred: s.Deferred,
		}
		if rp.Plan != nil {
			// What the backend could not do is known once it was asked.
			rv.Probed, rv.Cannot = true, cannot(s)
		}
		switch {
		case rp.NotStarted:
			rv.NotStarted = true
			rv.Counts.NotAttempted++
		case rp.Err != nil:
			rv.Err = clip(rp.Err.Error(), l.Text)
			rv.ErrHint = hint(rp.Err, rp.Hints)
			rv.Counts.Failed++
		}
		if s.Stopped != nil {
			rv.Stopped = clip(s.Stopped.Error(), l.Text)
			rv.StopHint = hint(s.Stopped, rp.Hints)
		}
		deleted, more := capList(s.Deleted, l.Rows)
		rv.DeletedMore = more
		for _, d := range deleted {
			tags, tm := capList(d.Tags, l.RowTags)
			kind := string(d.Kind)
			if kind == "" {
				kind = "manifest"
			}
			rv.Deleted = append(rv.Deleted, deletedView{Digest: d.Digest, Kind: kind, Tags: tags, TagsMore: tm, AlreadyGone: d.AlreadyGone})
		}
		rv.Untagged, rv.UntaggedMore = capList(s.Untagged, l.Rows)
		rv.LeftUntagged, rv.LeftUntaggedMore = capList(s.LeftUntagged, l.Rows)
		rv.LeftUntaggedN = len(s.LeftUntagged)
		kept, km := capList(s.Kept, l.Rows)
		rv.KeptMore = km
		for _, k := range s.Kept {
			byRule[k.Rule]++
		}
		for _, k := range kept {
			k.Reason = clip(k.Reason, l.Text)
			if k.Rule == string(apply.NotAttempted) && s.Stopped != nil {
				// The cause is the stop, said once at the top; repeating it
				// on every row only buries the table.
				k.Reason = "the run stopped before this operation (why: above)"
			}
			rv.Kept = append(rv.Kept, k)
		}
		rv.Failed, rv.FailedMore = opViews(s.Failed, l)
		rv.Skipped, rv.SkippedMore = opViews(s.Skipped, l)
		rv.NotAttempted, rv.NotAttemptedMore = opViews(s.NotAttempted, l)
		if rp.Plan != nil {
			rv.Ranking = rp.Plan.Ranking
			rv.Ignored, rv.IgnoredMore = capList(rp.Plan.IgnoredTags, l.RowTags)
		}
		warn, wm := capList(s.Warnings, l.Rows)
		rv.WarningsMore = wm
		for _, w := range warn {
			rv.Warnings = append(rv.Warnings, clip(w, l.Text))
		}

		v.Total.Deleted += rv.Counts.Deleted
		v.Total.AlreadyGone += rv.Counts.AlreadyGone
		v.Total.Removed += rv.Counts.Removed
		v.Total.Kept += rv.Counts.Kept
		v.Total.Failed += rv.Counts.Failed
		v.Total.Refused += rv.Counts.Refused
		v.Total.NotAttempted += rv.Counts.NotAttempted
		v.Total.Deferred += rv.Counts.Deferred
		v.Repos = append(v.Repos, rv)
	}
	// The run's totals are the record's (a refusal of the whole run counts
	// once, repositories never started count as not attempted).
	rec := Build(r)
	v.Total.Failed, v.Total.NotAttempted = rec.FailedCount, rec.NotAttemptedCount
	for rule, n := range byRule {
		v.KeptByRule = append(v.KeptByRule, ruleCount{rule, n})
	}
	slices.SortFunc(v.KeptByRule, func(a, b ruleCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Rule, b.Rule)
	})
	return v
}

// cannot lists, in fixed words, what the backend could not do.
func cannot(s summary) []string {
	if s.Backend == "" {
		return nil
	}
	var out []string
	c := s.Caps
	if !c.DeleteManifest && !c.TagsOnly {
		out = append(out, "delete manifests by digest")
	}
	if c.Untag == "no" {
		out = append(out, "remove a tag alone (a matching tag sharing its manifest with a kept tag is kept)")
	}
	if !c.ListUntagged {
		out = append(out, "list untagged manifests (only manifests reachable from tags were considered)")
	}
	if !c.Referrers {
		out = append(out, "answer the OCI referrers API (referrers found through fallback tags only)")
	}
	return out
}

// hint is one sentence naming the fix for a known error; credential errors
// take the repository's hints, which name the credentials used.
func hint(err error, h Hints) string {
	switch {
	case errors.Is(err, backend.ErrDeleteDisabled):
		return "Turn deletion on in the registry: `storage.delete.enabled: true` in its configuration, or `REGISTRY_STORAGE_DELETE_ENABLED=true`."
	case errors.Is(err, backend.ErrUnauthorized):
		if h.Unauthorized != "" {
			return h.Unauthorized
		}
		return "The registry rejected the credentials: check them."
	case errors.Is(err, backend.ErrForbidden):
		if h.Forbidden != "" {
			return h.Forbidden
		}
		return "The credentials were accepted but lack a permission this repository needs (listing needs pull, deleting needs delete rights)."
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "The run was cancelled (job timeout, `timeout` input or a signal); what was deleted until then is listed above."
	}
	return ""
}

// safeCode reports whether s has only characters of tags, digests and
// repository references, none of which can form markup in a code span.
func safeCode(s string) bool {
	if s == "" || len(s) > 300 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("._:@/+-", r):
		default:
			return false
		}
	}
	return true
}

// code renders a tag, digest or repository as a code span when it is made
// only of characters that cannot form markup; anything else is escaped text.
func code(s string) string {
	if safeCode(s) {
		return "`" + s + "`"
	}
	return esc(s)
}

// short renders a digest shortened: `sha256:0123456789ab`….
func short(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return code(d)
	}
	return code(algo+":"+hex[:12]) + "…"
}

// esc makes any string inert in a markdown table cell or paragraph: HTML
// and markdown punctuation become entities, line breaks become spaces,
// other control characters are dropped.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '|', '`', '*', '_', '[', ']', '\\', '~', '@', '#', '!', '$':
			fmt.Fprintf(&b, "&#%d;", r)
		case '\n', '\r', '\t', '\u2028', '\u2029':
			b.WriteByte(' ')
		default:
			if r < 0x20 || r == 0x7f {
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

type moreView struct {
	N     int
	Where string
}

func render(r *Report, l limits) string {
	t := template.Must(template.New("summary").Funcs(template.FuncMap{
		"code":   code,
		"short":  short,
		"esc":    esc,
		"dur":    dur,
		"plural": plural,
		"more":   func(n int, where string) moreView { return moreView{n, where} },
	}).Parse(mdTemplate))
	var b strings.Builder
	if err := t.Execute(&b, view(r, l)); err != nil {
		// The template is fixed and its data plain: an error here is a bug.
		return "regsweep: the summary could not be rendered: " + esc(err.Error()) + "\n"
	}
	return b.String()
}

const mdTemplate = `{{define "counts" -}}
**{{.Deleted}}** {{if .Dry}}manifests would be deleted{{else}}manifests deleted{{end}}
{{- if .AlreadyGone}} · **{{.AlreadyGone}}** already absent{{end}} · **{{.Removed}}** {{if .Dry}}tags would be removed{{else}}tags removed{{end}} · **{{.Kept}}** matching tags kept · **{{.Failed}}** failed
{{- if .Refused}} · **{{.Refused}}** refused{{end}}
{{- if .NotAttempted}} · **{{.NotAttempted}}** not attempted{{end}}
{{- if .Deferred}} · **{{.Deferred}}** left for the next run{{end}}
{{- end}}

{{- define "more"}}{{if .N}}
| … and {{.N}} more: {{.Where}} | | | |
{{- end}}{{end}}

{{- define "repo" -}}
{{if .NotStarted}}
> [!WARNING]
> **Not started:** the run ended before this repository was reached; nothing was deleted here.
{{end}}
{{- if .Err}}
> [!WARNING]
> **This repository could not be swept:** {{esc .Err}}{{if .ErrHint}}
> {{.ErrHint}}{{end}}
{{end}}
{{- if .Stopped}}
> [!CAUTION]
> **The run stopped:** {{esc .Stopped}}{{if .StopHint}}
> {{.StopHint}}{{end}}
{{end}}
{{- if .NotRun}}
> [!WARNING]
> **Nothing was deleted here:** {{esc .NotRun}}
{{end}}
{{- if .Probed}}
Backend {{code .Backend}}{{if .Cannot}}; it could not: {{range $i, $c := .Cannot}}{{if $i}}; {{end}}{{$c}}{{end}}.{{else}}; every capability available.{{end}}
{{end}}
{{- if .Deleted}}
#### {{if $.Dry}}Manifests a real run would delete{{else}}Deleted manifests{{end}}
| Digest | Kind | Tags |
| --- | --- | --- |
{{- range .Deleted}}
| {{short .Digest}} | {{esc .Kind}}{{if .AlreadyGone}} (already absent){{end}} | {{if not .Tags}}(untagged){{end}}{{range $i, $t := .Tags}}{{if $i}} {{end}}{{code $t}}{{end}}{{if .TagsMore}} … and {{.TagsMore}} more{{end}} |
{{- end}}
{{- if .DeletedMore}}
| … and {{.DeletedMore}} more: {{$.More}} | | |
{{- end}}
{{end}}
{{- if .LeftUntagged}}
> [!WARNING]
> **Left untagged: {{plural .LeftUntaggedN "manifest" "manifests"}}.** The tags were removed first, to make the deletions cheap, and they were not deleted after (the run stopped, or their deletion failed). No tag names them now, so a rerun cannot find them: delete each by digest (<code>crane delete REPOSITORY@DIGEST</code>), or on self-hosted distribution let <code>registry garbage-collect --delete-untagged</code> remove them.
> {{range $i, $d := .LeftUntagged}}{{if $i}} {{end}}{{code $d}}{{end}}{{if .LeftUntaggedMore}} … and {{.LeftUntaggedMore}} more{{end}}
{{end}}
{{- if .Untagged}}
#### {{if $.Dry}}Tags a real run would remove{{else}}Tags removed{{end}} (their manifest stays: a kept tag, index or signature still needs it)
{{range $i, $t := .Untagged}}{{if $i}} {{end}}{{code $t}}{{end}}{{if .UntaggedMore}} … and {{.UntaggedMore}} more: {{$.More}}{{end}}
{{end}}
{{- if .Ranking}}
keep-latest ranked images by {{.Ranking}}{{if .Ignored}}; not versions, so not ranked: {{range $i, $t := .Ignored}}{{if $i}} {{end}}{{code $t}}{{end}}{{if .IgnoredMore}} … and {{.IgnoredMore}} more{{end}}{{end}}.
{{end}}
{{- if .Kept}}
#### Matching tags kept
| Tag | Digest | Rule | Why |
| --- | --- | --- | --- |
{{- range .Kept}}
| {{code .Tag}} | {{short .Digest}} | {{code .Rule}}{{if .By}} · {{esc .By}}{{end}} | {{esc .Reason}} |
{{- end}}
{{- template "more" (more .KeptMore $.More)}}
{{end}}
{{- if .Failed}}
#### Errors
| Operation | Target | Outcome | Error |
| --- | --- | --- | --- |
{{- range .Failed}}
| {{.Kind}} | {{if .IsTag}}{{code .Target}}{{else}}{{short .Target}}{{end}} | {{.Outcome}} | {{esc .Reason}} |
{{- end}}
{{- template "more" (more .FailedMore $.More)}}
{{end}}
{{- if .Skipped}}
#### Skipped
| Operation | Target | | Why |
| --- | --- | --- | --- |
{{- range .Skipped}}
| {{.Kind}} | {{if .IsTag}}{{code .Target}}{{else}}{{short .Target}}{{end}} | | {{esc .Reason}} |
{{- end}}
{{- template "more" (more .SkippedMore $.More)}}
{{end}}
{{- if .NotAttempted}}
#### Not attempted
{{range $i, $o := .NotAttempted}}{{if $i}}, {{end}}{{$o.Kind}} {{if $o.IsTag}}{{code $o.Target}}{{else}}{{short $o.Target}}{{end}}{{end}}{{if .NotAttemptedMore}} … and {{.NotAttemptedMore}} more: {{$.More}}{{end}}
{{end}}
{{- if .Warnings}}
#### Warnings
{{range .Warnings}}
- {{esc .}}
{{- end}}
{{- if .WarningsMore}}
- … and {{.WarningsMore}} more
{{- end}}
{{end}}
{{- end}}

{{- /* the document */ -}}
## 🧹 regsweep{{if .Multi}}: {{len .Repos}} repositories{{else if .Repos}}: {{code (index .Repos 0).Name}}{{end}}
{{if .DryRun}}
> [!NOTE]
> **DRY RUN**: nothing was deleted. Everything below is what a real run would do.
{{end}}
{{- if .Total.Deferred}}
> [!NOTE]
> **max-deletions reached:** the run {{if .DryRun}}would leave{{else}}leaves{{end}} {{plural .Total.Deferred "manifest" "manifests"}} of the plan for the next run (` + "`max-deletions-mode: limit`" + ` deletes the oldest images first); they are kept with the rule ` + "`deferred`" + `.
{{end}}
{{template "counts" .Total}} · {{dur .Duration}} · {{plural .Requests "request" "requests"}}, {{plural .Retries "retry" "retries"}}, {{dur .Waited}} waiting on rate limits
{{- if .KeptByRule}}

| Kept by rule | Tags |
| --- | --- |
{{- range .KeptByRule}}
| {{code .Rule}} | {{.Count}} |
{{- end}}
{{- end}}
{{- if .Multi}}
{{- range .Repos}}

### {{code .Name}}
{{template "counts" .Counts}}
{{template "repo" .}}
{{- end}}
{{- else}}
{{- range .Repos}}
{{template "repo" .}}
{{- end}}
{{- end}}
`
