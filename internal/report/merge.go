package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/regsweep/regsweep/internal/shard"
)

// Shard states in a merged record.
const (
	ShardSwept      = "swept"      // every repository reported, none failed
	ShardFailed     = "failed"     // its record names a failure, or work not attempted
	ShardMissing    = "missing"    // no record holds any of its repositories
	ShardIncomplete = "incomplete" // records hold some of its repositories, not all
)

// ShardRecord is one shard's record file, read.
type ShardRecord struct {
	Path   string
	Record *Record
}

// MergedShard is what merge found of one shard of the expansion.
type MergedShard struct {
	Shard        string   `json:"shard"` // "shard 2 of 4"
	State        string   `json:"state"`
	Repositories int      `json:"repositories"`
	Records      []string `json:"records"` // the files that held its repositories
	// Missing are its repositories no record holds.
	Missing []string `json:"missing,omitempty"`
}

// Merge combines the shards' records into the record one run over every
// repository of the expansion would have written: the repositories' records
// as the shards wrote them, sorted by name, and the run-wide lists and
// counts tallied as Build tallies them. A repository of the expansion that
// no record holds is a failed repository (its shard never reported), so the
// merged run fails and says which shard to rerun. Problems are the reasons,
// one sentence each, that the merge itself is not sound: a missing or
// incomplete shard, a repository two records hold, a record of a repository
// no shard names, records that disagree on dry-run.
func Merge(exp *shard.Expansion, recs []ShardRecord, version string) (*Record, []string) {
	var problems []string
	owner := map[string]int{}
	for i, s := range exp.Shards {
		for _, r := range s {
			owner[r] = i
		}
	}
	out := &Record{SchemaVersion: SchemaVersion, Regsweep: version, Repositories: []RepoRecord{}}
	from := map[string]string{} // repository -> the record file holding it
	dry := map[bool][]string{}
	for _, sr := range recs {
		dry[sr.Record.DryRun] = append(dry[sr.Record.DryRun], sr.Path)
		for _, rr := range sr.Record.Repositories {
			if prev, ok := from[rr.Repository]; ok {
				problems = append(problems, fmt.Sprintf("%s is in %s and in %s: counted once, from %s (were two shards given the same repositories, or a record copied twice?)", rr.Repository, prev, sr.Path, prev))
				continue
			}
			if _, ok := owner[rr.Repository]; !ok {
				problems = append(problems, fmt.Sprintf("%s holds %s, which no shard of the expansion names: it is merged, but the record may come from another run (merge only this run's records)", sr.Path, rr.Repository))
			}
			from[rr.Repository] = sr.Path
			out.Repositories = append(out.Repositories, rr)
		}
	}
	if len(dry[true]) > 0 && len(dry[false]) > 0 {
		problems = append(problems, fmt.Sprintf("some records are of a dry run (%s) and some of a real one (%s): merge the records of one run", strings.Join(dry[true], ", "), strings.Join(dry[false], ", ")))
	}
	out.DryRun = len(dry[true]) > 0 && len(dry[false]) == 0

	failedIn := map[string]bool{}
	for _, rr := range out.Repositories {
		if rr.FailedCount > 0 || rr.NotAttemptedCount > 0 || rr.Error != "" {
			failedIn[rr.Repository] = true
		}
	}
	n := len(exp.Shards)
	for i, s := range exp.Shards {
		ms := MergedShard{Shard: shard.Name(i, n), Repositories: len(s), Records: []string{}}
		failed := 0
		for _, r := range s {
			path, ok := from[r]
			if !ok {
				ms.Missing = append(ms.Missing, r)
				continue
			}
			if !slices.Contains(ms.Records, path) {
				ms.Records = append(ms.Records, path)
			}
			if failedIn[r] {
				failed++
			}
		}
		why := ""
		switch {
		case len(ms.Missing) == len(s):
			ms.State = ShardMissing
			why = ms.Shard + " never reported"
			problems = append(problems, fmt.Sprintf("%s never reported: no record holds any of its %s (%s); rerun it, or download its record", ms.Shard, plural(len(s), "repository", "repositories"), listSome(s, 5)))
		case len(ms.Missing) > 0:
			ms.State = ShardIncomplete
			why = ms.Shard + "'s record does not hold it"
			problems = append(problems, fmt.Sprintf("%s reported only part of its repositories: no record holds %s; rerun it", ms.Shard, listSome(ms.Missing, 5)))
		case failed > 0:
			ms.State = ShardFailed
			var names []string
			for _, r := range s {
				if failedIn[r] {
					names = append(names, r)
				}
			}
			problems = append(problems, fmt.Sprintf("%s failed: %s of its %d had failures or work not attempted (%s); see the errors, fix, and rerun it", ms.Shard, plural(failed, "repository", "repositories"), len(s), listSome(names, 5)))
		default:
			ms.State = ShardSwept
		}
		for _, r := range ms.Missing {
			out.Repositories = append(out.Repositories, RepoRecord{
				RepoHead:    RepoHead{Repository: r, Status: StatusFailed, Error: "no record: " + why},
				FailedCount: 1,
				Hint:        "Rerun " + ms.Shard + " (the same expansion gives it the same repositories), then merge again.",
				Deleted:     []DeletedManifest{}, RemovedTags: []string{}, UntaggedTags: []string{}, Kept: []KeptTag{},
				Failed: []OpRecord{}, LeftUntagged: []string{}, Skipped: []OpRecord{}, NotAttempted: []OpRecord{}, Warnings: []string{},
			})
		}
		out.Shards = append(out.Shards, ms)
	}
	slices.SortStableFunc(out.Repositories, func(a, b RepoRecord) int { return cmp.Compare(a.Repository, b.Repository) })
	out.tally()
	out.Errors = append(out.Errors, problems...)
	return out, problems
}

// listSome names the first n of list, and how many more there are.
func listSome(list []string, n int) string {
	shown, more := capList(list, n)
	s := strings.Join(shown, ", ")
	if more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}
