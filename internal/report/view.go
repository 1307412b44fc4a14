package report

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/regsweep/regsweep/internal/apply"
	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/plan"
)

// The summary's view: what the markdown template reads, built from the
// report and cut to the size limits.

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

type moreView struct {
	N     int
	Where string
}
