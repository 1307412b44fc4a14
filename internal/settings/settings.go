// Package settings holds the one definition of every setting regsweep takes:
// its kebab-case name, default, help text and validation. Every source (GitHub
// INPUT_*, Woodpecker/Drone PLUGIN_*, REGSWEEP_*, command-line flags) feeds the
// same definition; action.yml and the README's input table are checked
// against it.
package settings

import (
	"time"

	"github.com/regsweep/regsweep/internal/plan"
	"github.com/regsweep/regsweep/internal/shard"
)

// Settings are the validated settings of one run.
type Settings struct {
	Repositories []string // `repository`: one or more host[:port]/path (a trailing /* expands)
	Tags         []string // `tags`
	ExcludeTags  []string // `exclude-tags`
	UseRegex     bool     // `use-regex`
	DryRun       bool     // `dry-run`
	Username     string   // `username`
	Password     string   // `password` (masked)
	GitHubToken  string   // `github-token` (masked)
	MaxDeletions int      // `max-deletions` (0: no cap)
	// MaxDeletionsMode: `max-deletions-mode`, MaxDeletionsStop or
	// MaxDeletionsLimit.
	MaxDeletionsMode string
	Concurrency      int  // `concurrency`
	Insecure         bool // `insecure`
	KeepLatest       int  // `keep-latest`
	// ProtectLatest: `protect-latest` (default true).
	ProtectLatest bool
	OlderThan     time.Duration
	AgeFrom       string        // `age-from`: "", pushed, created
	PulledWithin  time.Duration // `pulled-within` (0: off)
	// DeleteReferrers: `delete-referrers` (default true).
	DeleteReferrers bool
	Untagged        bool   // `untagged`
	PolicyText      string // `policy`: YAML rules, inline or a file's path
	Backend         string // `backend`: auto, oci, github, dockerhub
	Recheck         bool   // `recheck`
	// UntagWithPlaceholder: `ghcr-untag-workaround` (GitHub only).
	UntagWithPlaceholder bool
	// GitHubDeleteRate: `github-delete-rate`, GitHub Packages deletions a second.
	GitHubDeleteRate int
	JSON             bool          // `json` (CLI: print outputs as JSON)
	Record           string        // `record`: where to write the run's record ("" = the CI's default)
	PlanOut          string        // `plan-out`: where to write the plan ("" = nowhere)
	Timeout          time.Duration // `timeout` (0: none)

	// Sharding: expand-only (or --list-repositories) lists and splits the
	// repositories; shard picks one list of ShardsFile to sweep; merge
	// combines the shards' records, checked against ShardsFile.
	ExpandOnly       bool     // `expand-only`
	ListRepositories bool     // `list-repositories` (CLI: expand-only printed)
	Shards           int      // `shards` (0: none)
	Shard            int      // `shard` (from 1; 0: off)
	ShardsFile       string   // `shards-file`
	Merge            []string // `merge`: globs of record files
	// Expansion is shards-file, read (shard and merge).
	Expansion *shard.Expansion

	// Policy is built from the pattern and rule settings.
	Policy plan.Policy

	// Sources says where each setting's value came from (by kebab name),
	// for log lines such as "repository from CI_REGISTRY_IMAGE".
	Sources map[string]Source
}
