package report

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/regsweep/regsweep/internal/apply"
)

// maxTextErrors bounds the error lines printed per repository.
const maxTextErrors = 20

// Level is how a log line is shown: annotations in Actions, colours in
// GitLab, prefixes on a terminal.
type Level int

// Levels of a line, in the order a provider has them.
const (
	Info Level = iota
	Notice
	Warning
	Error
)

// Line is one log line of the result.
type Line struct {
	Level Level
	Text  string
}

// Lines renders the run's result as log lines: per repository its counts,
// its errors and its warnings; then one error for a run that ended early
// (timeout, signal), however many repositories it cut short; and last the
// result line as a notice. Strings from the registry are stripped of
// control characters so they cannot forge lines.
func Lines(r *Report, rec *Record) []Line {
	var out []Line
	add := func(l Level, format string, args ...any) {
		out = append(out, Line{l, fmt.Sprintf(format, args...)})
	}
	runEnded := r.Stopped != nil
	held := map[string]bool{}
	for i := range r.Repositories {
		rp := &r.Repositories[i]
		rr := &rec.Repositories[i]
		if rp.NotStarted {
			continue // counted in the one line about the run's end
		}
		s := summarize(rp)
		add(Info, "%s", repoLine(r.DryRun, rr))
		if rp.Err != nil && !(runEnded && cancelled(rp.Err)) {
			add(Error, "%s: %s", plain(s.Name), plain(rp.Err.Error()))
			if h := hint(rp.Err, rp.Hints); h != "" {
				add(Info, "  %s", strings.ReplaceAll(h, "`", ""))
			}
		}
		if rp.Held != nil && !held[rp.Held.Error()] {
			held[rp.Held.Error()] = true
			add(Error, "%s", plain(rp.Held.Error()))
		}
		if s.Stopped != nil && !(runEnded && cancelled(s.Stopped)) {
			add(Error, "%s: stopped: %s", plain(s.Name), plain(s.Stopped.Error()))
			if h := hint(s.Stopped, rp.Hints); h != "" {
				add(Info, "  %s", strings.ReplaceAll(h, "`", ""))
			}
		}
		if n := len(s.LeftUntagged); n > 0 {
			shown, more := capList(s.LeftUntagged, maxTextErrors)
			line := fmt.Sprintf("%s: left untagged: %d manifests lost their tags first and were not deleted; delete them by digest or let the registry's garbage collection (--delete-untagged) remove them: %s", plain(s.Name), n, strings.Join(shown, " "))
			if more > 0 {
				line += fmt.Sprintf(" … and %d more (see the record)", more)
			}
			add(Warning, "%s", line)
		}
		n := 0
		for _, fr := range s.Failed {
			if runEnded && cancelled(fr.Err) {
				continue // interrupted by the run's end: said once below
			}
			if n == maxTextErrors {
				add(Info, "  … and %d more errors (see the record)", len(s.Failed)-n)
				break
			}
			n++
			target := fr.Op.Digest
			if fr.Op.Tag != "" {
				target = fr.Op.Tag
			}
			if fr.Outcome == apply.Refused {
				// The registry's own rule kept it: worth a look, not a failure.
				add(Warning, "refused %s %s in %s: %s", fr.Op.Kind, plain(target), plain(s.Name), plain(fr.Reason))
				continue
			}
			add(Error, "%s: %s %s %s: %s", plain(s.Name), fr.Outcome, fr.Op.Kind, plain(target), plain(fr.Reason))
		}
		for _, w := range s.Warnings {
			add(Warning, "%s: %s", plain(s.Name), plain(w))
		}
	}
	if runEnded {
		add(Error, "%s", plain(endLine(r, rec)))
	}
	add(Notice, "%s", rec.Result)
	return out
}

// repoLine is one repository's counts.
func repoLine(dry bool, rr *RepoRecord) string {
	var b strings.Builder
	if dry {
		b.WriteString("DRY RUN ")
	}
	verb := "deleted"
	if dry {
		verb = "would be deleted"
	}
	fmt.Fprintf(&b, "%s: %d manifests %s", plain(rr.Repository), rr.DeletedCount, verb)
	if rr.AlreadyGoneCount > 0 {
		fmt.Fprintf(&b, ", %d already absent", rr.AlreadyGoneCount)
	}
	fmt.Fprintf(&b, ", %d tags removed, %d matching tags kept, %d failed", rr.RemovedTagCount, rr.KeptCount, rr.FailedCount)
	if rr.RefusedCount > 0 {
		fmt.Fprintf(&b, ", %d refused", rr.RefusedCount)
	}
	if rr.NotAttemptedCount > 0 {
		fmt.Fprintf(&b, ", %d not attempted", rr.NotAttemptedCount)
	}
	if rr.DeferredCount > 0 {
		fmt.Fprintf(&b, ", %d left for the next run (max-deletions)", rr.DeferredCount)
	}
	return b.String()
}

// endLine says once why the run ended early and what it left undone.
func endLine(r *Report, rec *Record) string {
	why := "the run was cancelled (a signal, or the job's end)"
	if errors.Is(r.Stopped, context.DeadlineExceeded) {
		why = "the run's timeout ran out"
	}
	notStarted := 0
	for _, rp := range r.Repositories {
		if rp.NotStarted {
			notStarted++
		}
	}
	s := fmt.Sprintf("%s: %d operations not attempted", why, rec.NotAttemptedCount-notStarted)
	if notStarted > 0 {
		s += fmt.Sprintf(", %d of %d repositories never started", notStarted, len(r.Repositories))
	}
	return s + "; what was deleted until then is in the outputs and the record"
}

// resultLine is the run's outcome in one line.
func resultLine(rec *Record) string {
	var b strings.Builder
	b.WriteString("regsweep: ")
	if rec.DryRun {
		b.WriteString("DRY RUN: ")
	}
	verb := "deleted"
	if rec.DryRun {
		verb = "would be deleted"
	}
	fmt.Fprintf(&b, "%s %s, %s removed, %s kept, %d failed",
		plural(rec.DeletedCount, "manifest", "manifests"), verb,
		plural(rec.RemovedTagCount, "tag", "tags"), plural(rec.KeptCount, "matching tag", "matching tags"), rec.FailedCount)
	if rec.RefusedCount > 0 {
		fmt.Fprintf(&b, ", %d refused", rec.RefusedCount)
	}
	if rec.NotAttemptedCount > 0 {
		fmt.Fprintf(&b, ", %d not attempted", rec.NotAttemptedCount)
	}
	if rec.DeferredCount > 0 {
		fmt.Fprintf(&b, ", %s left for the next run (max-deletions)", plural(rec.DeferredCount, "manifest", "manifests"))
	}
	if n := len(rec.Repositories); n != 1 {
		fmt.Fprintf(&b, " (%s)", plural(n, "repository", "repositories"))
	}
	return b.String()
}

// plain drops control characters (newlines included) from s.
func plain(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}
