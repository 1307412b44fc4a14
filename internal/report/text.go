package report

import (
	"fmt"
	"strings"
)

// maxTextErrors bounds the error lines Text prints per repository.
const maxTextErrors = 20

// Text renders short plain lines for a terminal: one per repository with
// its counts, then its errors. Strings from the registry are stripped of
// control characters so they cannot forge lines.
func Text(r *Report) string {
	var b strings.Builder
	for i := range r.Repositories {
		rp := &r.Repositories[i]
		s := summarize(rp)
		if r.DryRun {
			b.WriteString("DRY RUN ")
		}
		fmt.Fprintf(&b, "%s: ", plain(s.Name))
		verb := "deleted"
		if r.DryRun {
			verb = "would be deleted"
		}
		fmt.Fprintf(&b, "%d manifests %s", s.DeletedCount, verb)
		if s.AlreadyGone > 0 {
			fmt.Fprintf(&b, " (%d already gone)", s.AlreadyGone)
		}
		failed := s.FailedCount
		if rp.Err != nil {
			failed++ // the repository itself, as the summary counts it
		}
		fmt.Fprintf(&b, ", %d tags removed, %d matching tags kept, %d failed", len(s.RemovedTags), len(s.Kept), failed)
		if s.RefusedCount > 0 {
			fmt.Fprintf(&b, ", %d refused", s.RefusedCount)
		}
		if n := len(s.NotAttempted); n > 0 {
			fmt.Fprintf(&b, ", %d not attempted", n)
		}
		b.WriteByte('\n')
		if rp.Err != nil {
			fmt.Fprintf(&b, "  error: %s\n", plain(rp.Err.Error()))
			if h := hint(rp.Err, rp.Hints); h != "" {
				fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(h, "`", ""))
			}
		}
		if s.Stopped != nil {
			fmt.Fprintf(&b, "  stopped: %s\n", plain(s.Stopped.Error()))
			if h := hint(s.Stopped, rp.Hints); h != "" {
				fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(h, "`", ""))
			}
		}
		if n := len(s.LeftUntagged); n > 0 {
			shown, more := capList(s.LeftUntagged, maxTextErrors)
			fmt.Fprintf(&b, "  left untagged: %d manifests lost their tags first and were not deleted; delete them by digest or let the registry's garbage collection (--delete-untagged) remove them: %s", n, strings.Join(shown, " "))
			if more > 0 {
				fmt.Fprintf(&b, " … and %d more", more)
			}
			b.WriteByte('\n')
		}
		for j, rec := range s.Failed {
			if j == maxTextErrors {
				fmt.Fprintf(&b, "  … and %d more errors\n", len(s.Failed)-j)
				break
			}
			target := rec.Op.Digest
			if rec.Op.Tag != "" {
				target = rec.Op.Tag
			}
			fmt.Fprintf(&b, "  %s %s %s: %s\n", rec.Outcome, rec.Op.Kind, plain(target), plain(rec.Reason))
		}
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
