package report

import (
	"strings"
	"text/template"
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
> **Left untagged: {{plural .LeftUntaggedN "manifest" "manifests"}}.** The tags were removed first, to make the deletions cheap, and they were not deleted after (the run stopped, or their deletion failed or was refused and the tags could not be put back). No tag names them now, so a rerun cannot find them: delete each by digest (<code>crane delete REPOSITORY@DIGEST</code>), or on self-hosted distribution let <code>registry garbage-collect --delete-untagged</code> remove them.
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
