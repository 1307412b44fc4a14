package report

import (
	"context"
	"errors"
	"slices"

	"github.com/regsweep/regsweep/internal/apply"
)

// SchemaVersion is the version of the record's JSON schema (the record
// file, --json). It changes only when a field changes meaning or goes away;
// new fields may appear within a version.
const SchemaVersion = 1

// Record is the complete account of one run: what the record file holds
// and what --json prints. Its top-level keys are the step output names
// (with native JSON types, and never truncated), so a script reads the same
// key from an output, from --json and from the file.
type Record struct {
	SchemaVersion int    `json:"schema-version"`
	Regsweep      string `json:"regsweep-version,omitempty"`
	// Result is the one-line outcome (the ::notice line).
	Result string `json:"result"`

	DeletedDigests []string  `json:"deleted-digests"`
	DeletedTags    []string  `json:"deleted-tags"`
	DeletedImages  []string  `json:"deleted-images"`
	KeptTags       []KeptTag `json:"kept-tags"`

	DeletedCount      int  `json:"deleted-count"`
	RemovedTagCount   int  `json:"removed-tag-count"`
	KeptCount         int  `json:"kept-count"`
	FailedCount       int  `json:"failed-count"`
	RefusedCount      int  `json:"refused-count"`
	NotAttemptedCount int  `json:"not-attempted-count"`
	DeferredCount     int  `json:"deferred-count"`
	DryRun            bool `json:"dry-run"`
	// OutputsTruncated says whether the step outputs' lists were cut to
	// their cap; this record never is.
	OutputsTruncated bool `json:"outputs-truncated"`
	// RecordFile is where this record was written ("" when nowhere).
	RecordFile string `json:"record-file"`
	// PlanFile is where the plan was written ("" when nowhere).
	PlanFile string `json:"plan-file"`

	Errors       []string     `json:"errors"`
	Warnings     []string     `json:"warnings"`
	Repositories []RepoRecord `json:"repositories"`
	// Shards is set in a record merged from shards' records: what became
	// of each shard of the expansion.
	Shards []MergedShard `json:"merged-shards,omitempty"`
}

// Repository statuses in the record.
const (
	StatusSwept      = "swept"       // apply ran to the end (failures, if any, are listed)
	StatusStopped    = "stopped"     // apply began and stopped (a fatal error or the run's end)
	StatusNotRun     = "not-run"     // planned, but nothing was applied (e.g. max-deletions)
	StatusFailed     = "failed"      // discovery or planning failed
	StatusNotStarted = "not-started" // the run ended before this repository was reached
)

// RepoRecord is everything that happened to one repository.
type RepoRecord struct {
	RepoHead
	Hint string `json:"hint,omitempty"`

	DeletedCount      int `json:"deleted-count"`
	AlreadyGoneCount  int `json:"already-gone-count"`
	RemovedTagCount   int `json:"removed-tag-count"`
	KeptCount         int `json:"kept-count"`
	FailedCount       int `json:"failed-count"`
	RefusedCount      int `json:"refused-count"`
	NotAttemptedCount int `json:"not-attempted-count"`
	SkippedCount      int `json:"skipped-count"`
	DeferredCount     int `json:"deferred-count"`

	Deleted []DeletedManifest `json:"deleted"`
	// RemovedTags are the tags that no longer exist because of this run
	// (deleted manifests' and untagged), sorted: deleted-tags' entries.
	RemovedTags  []string  `json:"removed-tags"`
	UntaggedTags []string  `json:"untagged-tags"`
	Kept         []KeptTag `json:"kept"`
	// Failed holds the failed and refused operations.
	Failed []OpRecord `json:"failed"`
	// LeftUntagged are manifests whose tags went first (untag-first
	// schedule) and which were then not deleted: no tag names them now.
	LeftUntagged []string   `json:"left-untagged"`
	Skipped      []OpRecord `json:"skipped"`
	NotAttempted []OpRecord `json:"not-attempted"`
	Warnings     []string   `json:"warnings"`
}

// DeletedManifest is one manifest deleted (in a dry run: that would be).
type DeletedManifest struct {
	Digest string   `json:"digest"`
	Image  string   `json:"image"` // host/repo@digest
	Kind   string   `json:"kind"`
	Tags   []string `json:"tags"`
	// AlreadyGone: the registry answered 404 to the DELETE (another run,
	// or a lost answer to an earlier try, got there first).
	AlreadyGone bool `json:"already-gone,omitempty"`
}

// OpRecord is one operation that did not happen as planned.
type OpRecord struct {
	Op      string `json:"op"` // delete or untag
	Digest  string `json:"digest"`
	Tag     string `json:"tag,omitempty"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
}

// Build derives the complete record of a run. Counts are exact; nothing is
// capped here (Outputs caps the step outputs, Markdown the summary).
func Build(r *Report) *Record {
	rec := &Record{
		SchemaVersion: SchemaVersion, Regsweep: r.Version, DryRun: r.DryRun, RecordFile: r.RecordFile, PlanFile: r.PlanFile,
		Repositories: []RepoRecord{},
	}
	for i := range r.Repositories {
		rp := &r.Repositories[i]
		s := summarize(rp)
		removed := slices.Clone(s.RemovedTags)
		slices.Sort(removed) // a list a person reads, and a stable one for scripts
		rr := RepoRecord{
			RepoHead:     rp.head(status(rp, s)),
			DeletedCount: s.DeletedCount, AlreadyGoneCount: s.AlreadyGone, RemovedTagCount: len(s.RemovedTags),
			KeptCount: len(s.Kept), FailedCount: s.FailedCount, RefusedCount: s.RefusedCount,
			NotAttemptedCount: len(s.NotAttempted), SkippedCount: len(s.Skipped), DeferredCount: s.Deferred,
			Deleted: []DeletedManifest{}, RemovedTags: nonNil(removed), UntaggedTags: nonNil(s.Untagged), Kept: []KeptTag{},
			Failed: opRecords(s.Failed), Skipped: opRecords(s.Skipped), NotAttempted: opRecords(s.NotAttempted),
			Warnings: nonNil(s.Warnings), LeftUntagged: nonNil(s.LeftUntagged),
		}
		if rp.Err != nil {
			rr.Hint = hint(rp.Err, rp.Hints)
			if rp.NotStarted {
				rr.NotAttemptedCount++
			} else {
				rr.FailedCount++
			}
		} else if s.Stopped != nil {
			rr.Hint = hint(s.Stopped, rp.Hints)
		}
		for _, d := range s.Deleted {
			kind := string(d.Kind)
			if kind == "" {
				kind = "manifest"
			}
			rr.Deleted = append(rr.Deleted, DeletedManifest{Digest: d.Digest, Image: s.Name + "@" + d.Digest, Kind: kind, Tags: nonNil(d.Tags), AlreadyGone: d.AlreadyGone})
		}
		for _, k := range s.Kept {
			k.Repository = s.Name
			rr.Kept = append(rr.Kept, k)
		}
		rec.Repositories = append(rec.Repositories, rr)
	}
	rec.tally()
	return rec
}

// tally sets the run's lists, counts, errors, warnings and result line from
// its repositories' records. Build and Merge both end here, so the record
// of a run merged from shards counts exactly as one run over them all.
func (rec *Record) tally() {
	rec.DeletedDigests, rec.DeletedTags, rec.DeletedImages = []string{}, []string{}, []string{}
	rec.KeptTags, rec.Errors, rec.Warnings = []KeptTag{}, []string{}, []string{}
	rec.DeletedCount, rec.RemovedTagCount, rec.KeptCount = 0, 0, 0
	rec.FailedCount, rec.RefusedCount, rec.NotAttemptedCount, rec.DeferredCount = 0, 0, 0, 0
	seen := map[string]bool{}
	held := map[string]bool{}
	for i := range rec.Repositories {
		rr := &rec.Repositories[i]
		for _, d := range rr.Deleted {
			if d.AlreadyGone {
				continue // absent already: not deleted by this run
			}
			if !seen[d.Digest] {
				seen[d.Digest] = true
				rec.DeletedDigests = append(rec.DeletedDigests, d.Digest)
			}
			rec.DeletedImages = append(rec.DeletedImages, d.Image)
		}
		for _, t := range rr.RemovedTags {
			rec.DeletedTags = append(rec.DeletedTags, rr.Repository+":"+t)
		}
		rec.KeptTags = append(rec.KeptTags, rr.Kept...)
		for _, w := range rr.Warnings {
			rec.Warnings = append(rec.Warnings, rr.Repository+": "+w)
		}
		switch {
		case rr.Error == "" || rr.Status == StatusNotStarted:
		case rr.Status == StatusNotRun:
			// The run as a whole was refused (max-deletions over every
			// repository): one error, counted once.
			if !held[rr.Error] {
				held[rr.Error] = true
				rec.Errors = append(rec.Errors, rr.Error)
				rec.FailedCount++
			}
		default:
			rec.Errors = append(rec.Errors, rr.Repository+": "+rr.Error)
		}
		rec.DeletedCount += rr.DeletedCount
		rec.RemovedTagCount += rr.RemovedTagCount
		rec.KeptCount += rr.KeptCount
		rec.FailedCount += rr.FailedCount
		rec.RefusedCount += rr.RefusedCount
		rec.NotAttemptedCount += rr.NotAttemptedCount
		rec.DeferredCount += rr.DeferredCount
	}
	rec.Result = resultLine(rec)
}

func status(rp *Repository, s summary) string {
	switch {
	case rp.NotStarted:
		return StatusNotStarted
	case rp.Plan == nil, rp.Err != nil:
		return StatusFailed
	case rp.Result == nil:
		return StatusNotRun
	case s.Stopped != nil:
		return StatusStopped
	default:
		return StatusSwept
	}
}

func opRecords(recs []apply.Record) []OpRecord {
	out := make([]OpRecord, 0, len(recs))
	for _, r := range recs {
		out = append(out, OpRecord{Op: string(r.Op.Kind), Digest: r.Op.Digest, Tag: r.Op.Tag, Outcome: string(r.Outcome), Reason: r.Reason})
	}
	return out
}

func nonNil[T any](in []T) []T {
	if in == nil {
		return []T{}
	}
	return slices.Clone(in)
}

// cancelled reports whether err is the run's end (timeout or signal).
func cancelled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
