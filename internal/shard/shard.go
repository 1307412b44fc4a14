// Package shard splits a run's repositories into lists for a CI matrix and
// reads those lists back: the expansion that expand-only writes, that a
// shard job picks its list from and that merge checks the shards' records
// against. It is pure: no network, no files.
package shard

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Expansion is what expand-only produces: the repositories a `repository`
// input names, wildcards expanded, sorted, and (when asked) their shards.
// It is the record file of an expand-only run and what --list-repositories
// prints.
type Expansion struct {
	Repositories []string   `json:"repositories"`
	Shards       [][]string `json:"shards,omitempty"`
}

// Balance splits repos into at most n lists whose weights are as even as a
// greedy split makes them: heaviest first, each to the lightest list so
// far (the lower index on a tie). weight gives a repository's weight (its
// tag count, where known cheaply); nil or a weight below 1 counts 1, so
// with no weights the lists differ in length by one at most. The result
// depends only on the names and weights, never on their order: the same
// registry state gives the same shards, so a rerun of one shard sweeps the
// same repositories. Each list is sorted; no list is empty, so there are
// fewer than n lists when there are fewer repositories.
func Balance(repos []string, n int, weight func(string) int) [][]string {
	names := slices.Clone(repos)
	slices.Sort(names)
	names = slices.Compact(names)
	n = min(n, len(names))
	if n <= 0 {
		return [][]string{}
	}
	w := func(r string) int {
		if weight == nil {
			return 1
		}
		return max(weight(r), 1)
	}
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(w(b), w(a)) })
	shards := make([][]string, n)
	load := make([]int, n)
	for _, r := range names {
		lightest := 0
		for i := 1; i < n; i++ {
			if load[i] < load[lightest] {
				lightest = i
			}
		}
		shards[lightest] = append(shards[lightest], r)
		load[lightest] += w(r)
	}
	for _, s := range shards {
		slices.Sort(s)
	}
	return shards
}

// Parse reads an expansion: expand-only's record file or --list-repositories'
// output (an object with `repositories` and `shards`), or the `shards`
// output alone (a JSON array of lists). An expansion without shards is one
// shard of every repository. Every repository must be in exactly one shard.
func Parse(data []byte) (*Expansion, error) {
	text := strings.TrimSpace(string(data))
	var e Expansion
	switch {
	case strings.HasPrefix(text, "["):
		if err := json.Unmarshal([]byte(text), &e.Shards); err != nil {
			return nil, fmt.Errorf("not a JSON array of repository lists (the `shards` output): %w", err)
		}
		for _, s := range e.Shards {
			e.Repositories = append(e.Repositories, s...)
		}
		slices.Sort(e.Repositories)
	case strings.HasPrefix(text, "{"):
		if err := json.Unmarshal([]byte(text), &e); err != nil {
			return nil, fmt.Errorf("not an expansion (expand-only's record: `repositories` and `shards`): %w", err)
		}
		if e.Shards == nil && len(e.Repositories) > 0 {
			e.Shards = [][]string{slices.Clone(e.Repositories)}
		}
	default:
		return nil, errors.New("not JSON: expected expand-only's record file or its `shards` output")
	}
	if len(e.Shards) == 0 {
		return nil, errors.New("it names no shard: the expansion matched no repository")
	}
	in := map[string]int{}
	for i, s := range e.Shards {
		if len(s) == 0 {
			return nil, fmt.Errorf("shard %d of %d is empty", i+1, len(e.Shards))
		}
		for _, r := range s {
			if j, ok := in[r]; ok {
				return nil, fmt.Errorf("%s is in shard %d and in shard %d: every repository belongs to one shard", r, j+1, i+1)
			}
			in[r] = i
		}
	}
	for _, r := range e.Repositories {
		if _, ok := in[r]; !ok {
			return nil, fmt.Errorf("%s is in `repositories` but in no shard", r)
		}
	}
	return &e, nil
}

// Name names shard i (from 0) of n the way logs and summaries do.
func Name(i, n int) string {
	return fmt.Sprintf("shard %d of %d", i+1, n)
}
