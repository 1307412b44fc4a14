package settings

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/regsweep/regsweep/internal/shard"
)

// MergeCommand is the subcommand that merges shards' records:
// `regsweep merge --shards-file FILE RECORD...`.
const MergeCommand = "merge"

// repositoryOptional says whether repository may be left unset: a shard
// job takes its repositories from shards-file, and merge sweeps nothing.
func (r *resolver) repositoryOptional() bool {
	return r.peek("merge") != "" || (r.peek("shard") != "" && r.peek("shard") != "0")
}

// peek returns a setting's raw value before the settings are assigned.
func (r *resolver) peek(name string) string {
	d, _ := definition(r.defs, name)
	v, _ := r.resolve(d)
	return strings.TrimSpace(v)
}

// explicit says whether the user set the setting (not a default).
func (r *resolver) explicit(name string) bool {
	src := r.sources[name]
	return src == SourceFlag || src == SourceCI
}

// sharding checks the sharding settings together and, for a shard job,
// sets Repositories to the shard's list so that everything after (the
// credential scope, the checks, the sweep) sees the real repositories.
func (r *resolver) sharding(s *Settings) error {
	s.ExpandOnly = s.ExpandOnly || s.ListRepositories
	modes := 0
	for _, on := range []bool{s.ExpandOnly, s.Shard > 0, len(s.Merge) > 0} {
		if on {
			modes++
		}
	}
	switch {
	case modes > 1:
		return &Error{Msg: "expand-only, shard and merge are three different jobs: set one of them per step"}
	case s.Shards > 0 && !s.ExpandOnly:
		return &Error{Input: "shards", Msg: "only splits an expansion: set expand-only too (a shard job takes shard and shards-file)"}
	case s.ShardsFile != "" && s.Shard == 0 && len(s.Merge) == 0:
		return &Error{Input: "shards-file", Msg: "is read by a shard job (with shard) or by merge: set one of them, or remove shards-file"}
	case s.Shard == 0 && len(s.Merge) == 0:
		return nil
	case s.ShardsFile == "" && s.Shard > 0:
		return &Error{Input: "shard", Msg: "needs shards-file, the expansion to take the shard's repositories from (expand-only's record file)"}
	case s.ShardsFile == "":
		return &Error{Input: "merge", Msg: "needs shards-file, the expansion the shards were swept from (expand-only's record file or its shards output), so that a shard that never reported is named"}
	case r.explicit("repository"):
		return &Error{Input: "repository", Msg: "is not read by a shard job or a merge, which take the repositories from shards-file: remove it"}
	}
	exp, err := readExpansion(s.ShardsFile)
	if err != nil {
		return &Error{Input: "shards-file", Msg: err.Error()}
	}
	s.Expansion = exp
	if s.Shard == 0 {
		s.Repositories = nil
		return nil
	}
	if s.Shard > len(exp.Shards) {
		return &Error{Input: "shard", Msg: fmt.Sprintf("is %d, but the expansion has %d shards: use 1 to %d", s.Shard, len(exp.Shards), len(exp.Shards))}
	}
	s.Repositories = exp.Shards[s.Shard-1]
	return nil
}

// readExpansion reads shards-file: the expansion's JSON itself, or the
// path of a file holding it.
func readExpansion(v string) (*shard.Expansion, error) {
	data := []byte(v)
	if t := strings.TrimSpace(v); !strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "{") {
		b, err := os.ReadFile(t)
		if err != nil {
			return nil, fmt.Errorf("cannot read the expansion: %w (give expand-only's record file, or its shards output as JSON)", err)
		}
		data = b
	}
	exp, err := shard.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("is not an expansion: %w", err)
	}
	return exp, nil
}

// jsonList reads a list setting given as a JSON array of strings (a
// matrix value passed through toJSON); ok is false when v is not one.
func jsonList(v string) (items []string, ok bool, err error) {
	if !strings.HasPrefix(strings.TrimSpace(v), "[") {
		return nil, false, nil
	}
	if err := json.Unmarshal([]byte(v), &items); err != nil {
		return nil, true, fmt.Errorf("starts with [ but is not a JSON array of strings: %w", err)
	}
	if len(items) == 0 {
		return nil, true, fmt.Errorf("is an empty JSON array: name at least one repository")
	}
	return items, true, nil
}
