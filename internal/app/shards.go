package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/regsweep/regsweep/internal/ci"
	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/shard"
)

// expandOnly lists the repositories the settings name, wildcards expanded,
// and splits them into shards; it sweeps nothing. The expansion goes to the
// outputs, the record file and, for --list-repositories, stdout. A wildcard
// that cannot be listed fails the run: shards without its repositories
// would leave them unswept without a word.
func (r *runner) expandOnly(ctx context.Context) int {
	var mu sync.Mutex
	sizes := map[string]int{}
	r.sized = func(repo string, size int) {
		mu.Lock()
		defer mu.Unlock()
		sizes[repo] = size
	}
	repos, unlisted := r.expand(ctx, r.s.Repositories)
	if len(unlisted) > 0 {
		for _, u := range unlisted {
			r.p.Errorf("%s: %s", u.Name, u.Err)
		}
		r.p.Errorf("the expansion is incomplete, so no shards were made: fix the listing and run it again")
		return ExitFailure
	}
	exp := &shard.Expansion{Repositories: slices.Compact(slices.Sorted(slices.Values(repos)))}
	if exp.Repositories == nil {
		exp.Repositories = []string{}
	}
	if r.s.Shards > 0 {
		// By size only when every repository's is known: a guess of 1
		// beside real version counts would skew the shards more than
		// counting repositories does.
		var weight func(string) int
		known := len(exp.Repositories) > 0
		for _, repo := range exp.Repositories {
			known = known && sizes[repo] > 0
		}
		if known {
			weight = func(repo string) int { return sizes[repo] }
			r.p.Infof("shards balanced by version count, from the package listing")
		}
		exp.Shards = shard.Balance(exp.Repositories, r.s.Shards, weight)
		if n := len(exp.Repositories); n < r.s.Shards {
			r.p.Infof("%d shards asked for, %d repositories: %d shards of one", r.s.Shards, n, n)
		}
	}
	outs, err := report.ExpansionOutputs(exp)
	if err != nil {
		r.p.Errorf("%s", err)
		return ExitFailure
	}
	code := ExitOK
	if write, show := r.p.RecordFile(r.s.Record); write != "" {
		if err := writeRecord(write, exp); err != nil {
			r.p.Errorf("could not write the expansion: %s", err)
			code = ExitFailure
		} else {
			r.p.Infof("expansion written to %s", show)
		}
	}
	for _, o := range outs {
		if err := r.p.SetOutput(ci.Output(o)); err != nil {
			r.p.Warningf("could not write output %s: %s", o.Name, err)
		}
	}
	term, isTerm := r.p.(*ci.Terminal)
	if isTerm && (r.s.ListRepositories || r.s.JSON) {
		term.SetJSON(true)
		if err := term.WriteJSON(exp); err != nil {
			r.p.Errorf("%s", err)
			code = ExitFailure
		}
	}
	if err := r.p.Summary(report.ExpansionMarkdown(exp)); err != nil {
		r.p.Warningf("could not write the job summary: %s", err)
	}
	if len(exp.Repositories) == 0 {
		r.p.Warningf("the expansion matched no repository: a matrix over it has nothing to run")
	}
	r.p.Noticef("%s", report.ExpansionLine(exp))
	return code
}

// merge combines the shards' record files into one record, summary and
// outputs, and fails when a shard of the expansion is missing, incomplete
// or failed.
func (r *runner) merge() int {
	paths, problems := recordPaths(r.s.Merge)
	var recs []report.ShardRecord
	for _, p := range paths {
		rec, err := readShardRecord(p)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		recs = append(recs, report.ShardRecord{Path: p, Record: rec})
	}
	rec, mergeProblems := report.Merge(r.s.Expansion, recs, r.env.Version)
	rec.Errors = append(rec.Errors, problems...) // the records that could not be read
	problems = append(mergeProblems, problems...)

	write, show := r.p.RecordFile(r.s.Record)
	rec.RecordFile = show
	outs := report.Outputs(rec)
	if write != "" {
		if err := writeRecord(write, rec); err != nil {
			r.p.Warningf("could not write the merged record: %s", err)
			rec.RecordFile = ""
			outs = report.Outputs(rec)
		}
	}
	for _, o := range outs {
		if err := r.p.SetOutput(ci.Output(o)); err != nil {
			r.p.Warningf("could not write output %s: %s", o.Name, err)
		}
	}
	term, isTerm := r.p.(*ci.Terminal)
	jsonOut := isTerm && r.s.JSON
	if jsonOut {
		term.SetJSON(true)
	}
	if err := r.p.Summary(report.MergedMarkdown(rec, problems)); err != nil {
		r.p.Warningf("could not write the job summary: %s", err)
	}
	r.log(report.MergedLines(rec, problems))
	return r.exitCode(rec, len(problems) > 0, term, jsonOut)
}

// log writes report lines at their levels.
func (r *runner) log(lines []report.Line) {
	for _, l := range lines {
		switch l.Level {
		case report.Error:
			r.p.Errorf("%s", l.Text)
		case report.Warning:
			r.p.Warningf("%s", l.Text)
		case report.Notice:
			r.p.Noticef("%s", l.Text)
		default:
			r.p.Infof("%s", l.Text)
		}
	}
}

// recordPaths expands the merge setting's globs into sorted, distinct
// paths. A name without glob characters must exist; a glob may match
// nothing (the shards it missed are named by the merge).
func recordPaths(globs []string) ([]string, []string) {
	var paths, problems []string
	for _, g := range globs {
		if !strings.ContainsAny(g, `*?[\`) {
			paths = append(paths, g)
			continue
		}
		m, err := filepath.Glob(g)
		if err != nil {
			problems = append(problems, fmt.Sprintf("merge: %q is not a glob: %s", g, err))
			continue
		}
		if len(m) == 0 {
			problems = append(problems, fmt.Sprintf("merge: %q matches no file: check the path the records were downloaded to", g))
		}
		paths = append(paths, m...)
	}
	slices.Sort(paths)
	return slices.Compact(paths), problems
}

// readShardRecord reads one shard's record file.
func readShardRecord(path string) (*report.Record, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("merge: record %s does not exist: check the path the records were downloaded to", path)
	}
	if err != nil {
		return nil, fmt.Errorf("merge: read record %s: %w", path, err)
	}
	var rec report.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("merge: %s is not a regsweep record (%w): give the record files the shards wrote", path, err)
	}
	switch {
	case rec.SchemaVersion != report.SchemaVersion:
		return nil, fmt.Errorf("merge: %s has schema-version %d, and this regsweep reads %d: merge with the version the shards ran", path, rec.SchemaVersion, report.SchemaVersion)
	case rec.Shards != nil:
		return nil, fmt.Errorf("merge: %s is a merged record, not a shard's: leave it out of the merge", path)
	}
	return &rec, nil
}
