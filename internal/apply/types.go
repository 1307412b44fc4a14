package apply

import (
	"time"

	"github.com/regsweep/regsweep/internal/plan"
)

// Outcome is what happened to one planned operation.
type Outcome string

const (
	Deleted      Outcome = "deleted"       // the registry confirmed the deletion (or, in a dry run, would have)
	AlreadyGone  Outcome = "already-gone"  // 404: absent already; not counted as deleted
	Untagged     Outcome = "untagged"      // the tag was removed, the manifest stays
	KeptNoUntag  Outcome = "kept"          // the registry could not untag; the tag stays (reported, not an error)
	Refused      Outcome = "refused"       // the registry refused this one deletion (reported, not fatal)
	Skipped      Outcome = "skipped"       // the last-moment re-check found it is now needed; not deleted
	Failed       Outcome = "failed"        // a request failed after retries
	NotAttempted Outcome = "not-attempted" // the run stopped (fatal error, cancel) before reaching it
)

// Record is one planned operation and what became of it.
type Record struct {
	Op      plan.Op  `json:"op"`
	Outcome Outcome  `json:"outcome"`
	Tags    []string `json:"tags,omitempty"` // tags that no longer exist because of this op
	Reason  string   `json:"reason,omitempty"`
	Err     error    `json:"-"`
}

// Result is the exact record of an apply run.
type Result struct {
	DryRun   bool          `json:"dryRun"`
	Records  []Record      `json:"records"` // one per planned op, in plan order
	Stopped  error         `json:"-"`       // the fatal error that stopped the run, if any
	Duration time.Duration `json:"duration"`
	// LeftUntagged are the manifests (digests, sorted) this run removed
	// every tag of before deleting them (the untag-first schedule) and then
	// did not delete: the run stopped, or their DELETE failed. They are
	// present but no tag names them, so no later tag-based run finds them.
	LeftUntagged []string `json:"leftUntagged,omitempty"`
}

// Gone reports whether the op's target no longer exists because of (or
// during) this run: deleted, untagged or already gone.
func (o Outcome) Gone() bool {
	return o == Deleted || o == AlreadyGone || o == Untagged
}
