// Package report turns a run (plans and apply results over one or more
// repositories) into step outputs, a markdown job summary and terminal lines.
// It reads only; every user- or registry-provided string is JSON-encoded in
// outputs and escaped in markdown.
package report

import (
	"slices"
	"time"

	"github.com/regsweep/regsweep/internal/apply"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
	"github.com/regsweep/regsweep/internal/transport"
)

// Report is one run over one or more repositories.
type Report struct {
	Version      string
	DryRun       bool
	Duration     time.Duration
	Stats        transport.Stats
	Repositories []Repository
	// Stopped is why the run ended early (the timeout ran out, a signal),
	// nil when it ran to its end.
	Stopped error
	// RecordFile is where the app writes the record ("" for nowhere); the
	// summary and the outputs point at it.
	RecordFile string
	// PlanFile is where the app wrote the plan (plan-out; "" for nowhere).
	PlanFile string
}

// Repository is what happened to one repository.
type Repository struct {
	// Name is the full repository reference without tag: host[:port]/path.
	Name         string
	Backend      string
	Capabilities graph.Capabilities
	// Plan is nil when discovery failed.
	Plan *plan.Plan
	// Result is nil when apply did not run (discovery or planning failed,
	// or the app refused to start, e.g. over max-deletions).
	Result *apply.Result
	// Warnings are the graph's warnings (the plan's are read from Plan).
	Warnings []string
	// Err is why the repository failed before apply, if it did.
	Err error
	// Hints are the fixes for credential errors here, naming the
	// credentials the run used (from the backend family's table).
	Hints Hints
	// NotStarted: the run ended (timeout, signal) before this repository
	// was reached; Err says why.
	NotStarted bool
	// Held is why apply did not run although the plan was made and sound:
	// the run as a whole was refused (max-deletions over every repository).
	Held error
}

// Hints are one-sentence fixes for credential errors.
type Hints struct {
	Unauthorized string // backend.ErrUnauthorized
	Forbidden    string // backend.ErrForbidden
}

// KeptTag is one element of the kept-tags output.
type KeptTag struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Digest     string `json:"digest"`
	Rule       string `json:"rule"`
	// By names the retention rule of a `policy` that kept it ("rule 2 (releases)").
	By     string `json:"by,omitempty"`
	Reason string `json:"reason"`
}

// summary is the derived view of one repository both renderers use.
type summary struct {
	Name          string
	Backend       string
	Caps          graph.Capabilities
	Err           error
	Deleted       []deletedRow // manifests gone (incl. already gone; dry run: would go)
	RemovedTags   []string     // tags that no longer exist (deleted manifests' + untagged)
	Untagged      []string     // tags removed alone
	LeftUntagged  []string     // manifests whose tags went first and which were then not deleted
	Kept          []KeptTag    // matching tags kept, with the rule
	Failed        []apply.Record
	NotAttempted  []apply.Record
	Skipped       []apply.Record
	Stopped       error
	Warnings      []string
	DeletedCount  int
	AlreadyGone   int
	FailedCount   int
	RefusedCount  int
	NotRunReason  string // the plan exists but apply did not run
	PlannedDelete int
	// Deferred counts the manifests max-deletions-mode limit left for the
	// next run.
	Deferred int
}

type deletedRow struct {
	Digest      string
	Kind        graph.Kind
	Tags        []string
	AlreadyGone bool
}

// records returns the repository's records, synthesizing NotAttempted ones
// when apply never ran, so that the outputs stay exact.
func records(rp *Repository) ([]apply.Record, string) {
	if rp.Result != nil {
		return rp.Result.Records, ""
	}
	if rp.Plan == nil {
		return nil, ""
	}
	why := "apply did not run"
	switch {
	case rp.Err != nil:
		why = "apply did not run: " + rp.Err.Error()
	case rp.Held != nil:
		why = "apply did not run: " + rp.Held.Error()
	}
	var out []apply.Record
	for _, ph := range rp.Plan.Phases {
		for _, op := range ph {
			out = append(out, apply.Record{Op: op, Outcome: apply.NotAttempted, Reason: why})
		}
	}
	return out, why
}

func summarize(rp *Repository) summary {
	h := rp.head("")
	s := summary{Name: h.Repository, Backend: h.Backend, Caps: rp.Capabilities, Err: rp.Err}
	if rp.Backend == "" && rp.Plan != nil {
		s.Caps = rp.Plan.Capabilities
	}
	if rp.Plan != nil {
		s.Deferred = len(rp.Plan.DeferredDigests())
	}
	if rp.Result != nil {
		s.Stopped = rp.Result.Stopped
		s.LeftUntagged = rp.Result.LeftUntagged
	}
	s.Warnings = rp.warnings()

	recs, notRun := records(rp)
	s.NotRunReason = notRun

	var tagDec map[string]plan.TagDecision
	var manDec map[string]plan.ManifestDecision
	if rp.Plan != nil {
		manDec, tagDec = rp.Plan.Decisions()
		// Matching tags the plan itself kept.
		for _, td := range rp.Plan.Tags {
			if td.Matched && td.Action == plan.Keep {
				s.Kept = append(s.Kept, KeptTag{Tag: td.Tag, Digest: td.Digest, Rule: string(td.Rule), By: td.By(), Reason: td.Reason})
			}
		}
	}

	// The untag-first schedule removes a deleted manifest's tags in ops of
	// their own: the manifest's row names them, and a tag whose early
	// removal did not happen but whose manifest went is not "kept".
	firstGone := map[string][]string{}
	firstOp := map[string]bool{} // "digest tag" of every untag-first op
	manGone := map[string]bool{}
	for _, rec := range recs {
		if rec.Op.BeforeDelete {
			firstOp[rec.Op.Digest+" "+rec.Op.Tag] = true
		}
		if rec.Op.BeforeDelete && rec.Outcome.Gone() {
			firstGone[rec.Op.Digest] = append(firstGone[rec.Op.Digest], rec.Tags...)
		}
		if rec.Op.Kind == plan.OpDelete && rec.Outcome.Gone() {
			manGone[rec.Op.Digest] = true
		}
	}

	for _, rec := range recs {
		switch rec.Op.Kind {
		case plan.OpDelete:
			s.PlannedDelete++
		}
		switch {
		case rec.Op.BeforeDelete && rec.Outcome.Gone():
			s.RemovedTags = append(s.RemovedTags, rec.Tags...)
			continue
		}
		switch rec.Outcome {
		case apply.Deleted, apply.AlreadyGone:
			if rec.Op.Kind == plan.OpDelete {
				tags := rec.Tags
				if first := firstGone[rec.Op.Digest]; len(first) > 0 {
					tags = append(slices.Clone(first), tags...)
					slices.Sort(tags)
				}
				s.Deleted = append(s.Deleted, deletedRow{
					Digest: rec.Op.Digest, Kind: manDec[rec.Op.Digest].Kind,
					Tags: tags, AlreadyGone: rec.Outcome == apply.AlreadyGone,
				})
				// A manifest the registry no longer had (an index child
				// missing before the run, or another run first) was not
				// deleted by this run: it is counted apart.
				if rec.Outcome == apply.AlreadyGone {
					s.AlreadyGone++
				} else {
					s.DeletedCount++
				}
			} else {
				s.Untagged = append(s.Untagged, rec.Tags...)
			}
			s.RemovedTags = append(s.RemovedTags, rec.Tags...)
		case apply.Untagged:
			s.Untagged = append(s.Untagged, rec.Tags...)
			s.RemovedTags = append(s.RemovedTags, rec.Tags...)
		default:
			// The op did not happen: its tags are kept; say which outcome
			// kept them.
			rule := string(rec.Outcome)
			if rec.Outcome == apply.KeptNoUntag {
				rule = string(plan.RuleCannotUntag)
			}
			for _, tag := range opTags(rec, manDec) {
				if rec.Op.BeforeDelete && manGone[rec.Op.Digest] {
					break // the tag went with its manifest, which names it
				}
				if rec.Op.Kind == plan.OpDelete && firstOp[rec.Op.Digest+" "+tag] {
					continue // its own untag-first record says what became of it
				}
				if td, ok := tagDec[tag]; ok && !td.Matched {
					continue
				}
				s.Kept = append(s.Kept, KeptTag{Tag: tag, Digest: rec.Op.Digest, Rule: rule, Reason: rec.Reason})
			}
			switch rec.Outcome {
			case apply.Failed:
				s.Failed = append(s.Failed, rec)
				s.FailedCount++
			case apply.Refused:
				s.Failed = append(s.Failed, rec)
				s.RefusedCount++
			case apply.NotAttempted:
				s.NotAttempted = append(s.NotAttempted, rec)
			case apply.Skipped, apply.Restored:
				s.Skipped = append(s.Skipped, rec)
			}
		}
	}
	return s
}

// opTags are the tags an op would have removed.
func opTags(rec apply.Record, manDec map[string]plan.ManifestDecision) []string {
	if rec.Op.Kind == plan.OpUntag {
		return []string{rec.Op.Tag}
	}
	if rec.Tags != nil { // set by apply, and narrowed by the app's final check
		return rec.Tags
	}
	return manDec[rec.Op.Digest].Tags
}

// warnings are rp's discovery and plan warnings, each once.
func (rp *Repository) warnings() []string {
	w := slices.Clone(rp.Warnings)
	if rp.Plan != nil {
		w = append(w, rp.Plan.Warnings...)
	}
	return dedupe(w)
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// RepoHead opens a repository's entry in the record and in the plan file
// alike.
type RepoHead struct {
	Repository string `json:"repository"`
	Backend    string `json:"backend,omitempty"`
	Status     string `json:"status"`
	// Error is what failed, stopped or held the repository.
	Error string `json:"error,omitempty"`
}

// head is rp's RepoHead with status: the name and backend the run gave it,
// else its plan's, and the error that failed it, else the one that
// stopped its apply, else the one that held its plan.
func (rp *Repository) head(status string) RepoHead {
	h := RepoHead{Repository: rp.Name, Backend: rp.Backend, Status: status}
	if p := rp.Plan; p != nil {
		if h.Repository == "" {
			h.Repository = p.Repository
		}
		if h.Backend == "" {
			h.Backend = p.Backend
		}
	}
	switch {
	case rp.Err != nil:
		h.Error = rp.Err.Error()
	case rp.Result != nil && rp.Result.Stopped != nil:
		h.Error = rp.Result.Stopped.Error()
	case rp.Held != nil:
		h.Error = rp.Held.Error()
	}
	return h
}
