package settings

import (
	"fmt"
	"strings"

	"github.com/regsweep/regsweep/internal/backend/family"
	"github.com/regsweep/regsweep/internal/plan"
)

// Kind is how a setting's text is read.
type Kind string

const (
	KindString   Kind = "string"   // taken as is (trimmed)
	KindList     Kind = "list"     // one per line or comma-separated
	KindBool     Kind = "bool"     // true/false, yes/no, on/off, 1/0
	KindInt      Kind = "int"      // a whole number in [Min, Max]
	KindDuration Kind = "duration" // Go duration plus d and w: 90m, 36h, 30d, 2w
	KindEnum     Kind = "enum"     // one of Values
)

// The max-deletions-mode values.
const (
	MaxDeletionsStop  = "stop"
	MaxDeletionsLimit = "limit"
)

// maxNumber bounds every number setting: a larger one is a typo.
const maxNumber = 1_000_000

// Definition is one setting. The table in Definitions drives parsing, the
// command-line flags and --help, action.yml (checked by a test) and the
// README's input table.
type Definition struct {
	Name  string // kebab-case, the name users write: "dry-run"
	Field string // the Settings field it fills: "DryRun"
	Kind  Kind
	// Default is the value when nothing sets it ("" = none).
	Default string
	// ActionDefault is action.yml's default when it differs from Default
	// (github-token: ${{ github.token }}).
	ActionDefault string
	Help          string
	Required      bool
	Secret        bool     // masked as soon as it is read
	CLIOnly       bool     // not an action input (json)
	Min, Max      int      // KindInt bounds
	Values        []string // KindEnum choices
}

// Env is the setting's environment-variable stem: "dry-run" -> "DRY_RUN",
// read as REGSWEEP_DRY_RUN, PLUGIN_DRY_RUN or INPUT_DRY-RUN by the providers.
func (d Definition) Env() string {
	return strings.ToUpper(strings.ReplaceAll(d.Name, "-", "_"))
}

// actionDefault is the default action.yml declares.
func (d Definition) actionDefault() string {
	if d.ActionDefault != "" {
		return d.ActionDefault
	}
	return d.Default
}

// Definitions returns every setting, in the order of --help and the README.
func Definitions() []Definition {
	return []Definition{
		{Name: "repository", Field: "Repositories", Kind: KindList, Required: true,
			Help: "Repositories to sweep, one per line, comma-separated or as a JSON array: `host[:port]/path` (no host means Docker Hub); a trailing `/*` takes every repository below that path. Not needed with `shard` or `merge`."},
		{Name: "tags", Field: "Tags", Kind: KindList,
			Help: "Tag patterns to delete, one per line or comma-separated; globs (`*`, `?`, `[...]`) matched against the whole tag. Left empty while keep-latest, older-than or pulled-within is set, every tag is a candidate."},
		{Name: "exclude-tags", Field: "ExcludeTags", Kind: KindList,
			Help: "Tag patterns never deleted, even when they match tags."},
		{Name: "use-regex", Field: "UseRegex", Kind: KindBool, Default: "false",
			Help: "Read tags and exclude-tags as RE2 regular expressions matched against the whole tag, one per line or separated by commas outside `()`, `[]` and `{}` (a comma inside them belongs to the expression)."},
		{Name: "dry-run", Field: "DryRun", Kind: KindBool, Default: "false",
			Help: "Plan and report exactly what a real run would do; delete nothing."},
		{Name: "username", Field: "Username", Kind: KindString,
			Help: "Registry username. Without username and password, the Docker config and anonymous access are tried."},
		{Name: "password", Field: "Password", Kind: KindString, Secret: true,
			Help: "Registry password or token (masked in logs)."},
		{Name: "github-token", Field: "GitHubToken", Kind: KindString, Secret: true, ActionDefault: "${{ github.token }}",
			Help: "Token for the GitHub Packages API, used for ghcr.io; needs `packages: write` (or a classic PAT with `delete:packages`)."},
		{Name: "max-deletions", Field: "MaxDeletions", Kind: KindInt, Default: "0", Min: 0, Max: maxNumber,
			Help: "Most manifests one run deletes, over every repository (0: no cap). What happens above it is max-deletions-mode's choice."},
		{Name: "max-deletions-mode", Field: "MaxDeletionsMode", Kind: KindEnum, Default: MaxDeletionsStop, Values: []string{MaxDeletionsStop, MaxDeletionsLimit},
			Help: "`stop`: a plan over max-deletions deletes nothing and the run fails (a guard). `limit`: delete the oldest images up to max-deletions manifests (an image goes whole, with its platform manifests and signatures), exit 0, and leave the rest for the next run (`deferred-count`)."},
		{Name: "concurrency", Field: "Concurrency", Kind: KindInt, Default: "16", Min: 1, Max: 64,
			Help: "Registry requests in flight at once (1 to 64)."},
		{Name: "insecure", Field: "Insecure", Kind: KindBool, Default: "false",
			Help: "Allow plain HTTP and unverified TLS for the named registries (loopback registries work over HTTP without it)."},
		{Name: "keep-latest", Field: "KeepLatest", Kind: KindInt, Default: "0", Min: 0, Max: maxNumber,
			Help: "Keep the newest N matching images (a multi-arch image and all tags on one digest count once), by version when any matching tag is one (`v2` and `v2.0` rank as the newest release of their line; images with no version tag are kept and listed), else by age: push or creation time, see age-from (0: off)."},
		{Name: "protect-latest", Field: "ProtectLatest", Kind: KindBool, Default: "true",
			Help: "Keep the tag `latest` unless a `tags` pattern names it exactly (`false`: `latest` is an ordinary tag)."},
		{Name: "older-than", Field: "OlderThan", Kind: KindDuration,
			Help: "Delete only images older than this: `90m`, `36h`, `30d`, `2w` (empty: any age). See age-from for which time is an image's age."},
		{Name: "age-from", Field: "AgeFrom", Kind: KindEnum, Values: plan.AgeFroms(),
			Help: "Which time is an image's age, for older-than and keep-latest by time: `pushed` (when the registry says it was pushed: GitHub Packages, Docker Hub) or `created` (the image's own creation time, from its config). Empty: pushed where the registry reports it, else created. An age the registry cannot give is unknown, and kept."},
		{Name: "pulled-within", Field: "PulledWithin", Kind: KindDuration,
			Help: "Keep images pulled within this window: `30d`, `2w` (empty: off). Only Docker Hub reports pulls; elsewhere the run says so once and keeps every image it would have checked."},
		{Name: "delete-referrers", Field: "DeleteReferrers", Kind: KindBool, Default: "true",
			Help: "Delete signatures, attestations and SBOMs together with the image they refer to, and orphaned ones."},
		{Name: "untagged", Field: "Untagged", Kind: KindBool, Default: "false",
			Help: "Also delete manifests that nothing references, on registries that can list them."},
		{Name: "policy", Field: "PolicyText", Kind: KindString,
			Help: "Retention rules as YAML, inline or the path of a file in the workspace: several rules in one run, keep-latest per group (`group-by`), tags and digests always kept (`keep`). A tag goes only when every rule covering it would delete it. Replaces tags, exclude-tags, use-regex, keep-latest, older-than, age-from, pulled-within and untagged; see Retention rule sets in the README."},
		{Name: "backend", Field: "Backend", Kind: KindEnum, Default: family.Auto, Values: family.Names(),
			Help: "Registry API to use: `auto` (from the host), `oci`, `github` (GitHub Packages) or `dockerhub`."},
		{Name: "recheck", Field: "Recheck", Kind: KindBool, Default: "true",
			Help: "Look again before deleting: list the tags a second time and resolve the tags that keep images last, so one pushed or moved onto a doomed image during the run saves it (`false`: one listing, trusted). Either way, after deleting the tags are listed once more so the record names only tags really gone, and a tag the registry kept on a deleted manifest is removed by tag."},
		{Name: "ghcr-untag-workaround", Field: "UntagWithPlaceholder", Kind: KindBool, Default: "false",
			Help: "On ghcr.io, remove a tag that shares its image with a kept tag by moving it to a placeholder image (GitHub cannot untag)."},
		{Name: "github-delete-rate", Field: "GitHubDeleteRate", Kind: KindInt, Default: "1", Min: 1, Max: 3,
			Help: "GitHub Packages deletions per second (1 to 3). At 1, GitHub's advice: one second between deletions, REST calls one at a time. Above 1, paced by GitHub's secondary limit of 900 points a minute (a deletion costs 5, a read 1), reads included, so no request is refused."},
		{Name: "json", Field: "JSON", Kind: KindBool, Default: "false", CLIOnly: true,
			Help: "Print the run's record (the outputs' names with native JSON values, and every repository's details) as one JSON object on stdout (command line)."},
		{Name: "timeout", Field: "Timeout", Kind: KindDuration,
			Help: "Stop the run after this long: `30s`, `10m`, `2h` (empty: no limit)."},
		{Name: "plan-out", Field: "PlanOut", Kind: KindString,
			Help: "Write the whole plan (every tag and manifest of every swept repository, with its decision and the rule that made it; schema in the README) as JSON to this file before deleting, dry runs included."},
		{Name: "record", Field: "Record", Kind: KindString,
			Help: "Write the run's complete record (JSON) to this file. Default: `regsweep-record.json` in the workspace on GitHub Actions, GitLab, Woodpecker and Drone; no file on a command line."},
		{Name: "expand-only", Field: "ExpandOnly", Kind: KindBool, Default: "false",
			Help: "Sweep nothing: expand `repository` (wildcards listed as a sweep lists them), output `repositories` and, with `shards`, `shards`, and write both to the record file (see Sharding)."},
		{Name: "list-repositories", Field: "ListRepositories", Kind: KindBool, Default: "false", CLIOnly: true,
			Help: "Print the repositories `repository` names, wildcards expanded, as one JSON object (`repositories`, and `shards` with --shards) and sweep nothing (command line; the action's expand-only)."},
		{Name: "shards", Field: "Shards", Kind: KindInt, Default: "0", Min: 0, Max: 256,
			Help: "With expand-only: split the repositories into this many lists of about equal size (by version count on ghcr.io, which the package listing carries; by number elsewhere), each sorted, the same for the same registry state, for `fromJSON` in a matrix (0: none; at most 256, GitHub's matrix limit)."},
		{Name: "shard", Field: "Shard", Kind: KindInt, Default: "0", Min: 0, Max: 256,
			Help: "Sweep the Nth list (from 1) of `shards-file` instead of `repository` (a GitLab `parallel: matrix` job; 0: off)."},
		{Name: "shards-file", Field: "ShardsFile", Kind: KindString,
			Help: "The expansion: expand-only's record file, or its `shards` output as JSON. With `shard`, the lists to pick from; with `merge`, the shards whose records must all be there."},
		{Name: "merge", Field: "Merge", Kind: KindList,
			Help: "Sweep nothing: merge the record files these globs match (one per shard) into one record, summary and outputs, as if one job had swept every shard of `shards-file`; a shard without a record, or whose sweep failed, is named and the run exits 1. Command line: `regsweep merge --shards-file FILE RECORD...`."},
	}
}

// definition returns the named definition.
func definition(defs []Definition, name string) (Definition, bool) {
	for _, d := range defs {
		if d.Name == name {
			return d, true
		}
	}
	return Definition{}, false
}

// metavar names a flag's value in --help.
func (d Definition) metavar() string {
	switch d.Kind {
	case KindBool:
		return ""
	case KindInt:
		return "n"
	case KindDuration:
		return "duration"
	case KindList:
		return "list"
	case KindEnum:
		return "name"
	default:
		return "text"
	}
}

// MarkdownTable is the README's input table, generated from Definitions.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Input | Required | Default | Description |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, d := range Definitions() {
		if d.CLIOnly {
			continue
		}
		req := "no"
		if d.Required {
			req = "**yes**"
		}
		def := ""
		if v := d.actionDefault(); v != "" {
			def = "`" + v + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.Name, req, def, strings.ReplaceAll(d.Help, "|", `\|`))
	}
	return b.String()
}

// ActionInputsYAML renders the `inputs:` block of action.yml from the table
// (the test keeps action.yml equal to it; -update rewrites it).
func ActionInputsYAML() string {
	var b strings.Builder
	b.WriteString("inputs:\n")
	for _, d := range Definitions() {
		if d.CLIOnly {
			continue
		}
		fmt.Fprintf(&b, "  %s:\n", d.Name)
		fmt.Fprintf(&b, "    description: %s\n", yamlQuote(d.Help))
		fmt.Fprintf(&b, "    required: %t\n", d.Required)
		if v := d.actionDefault(); v != "" {
			fmt.Fprintf(&b, "    default: %s\n", yamlQuote(v))
		}
	}
	return b.String()
}

// yamlQuote writes a single-quoted YAML scalar.
func yamlQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
