package plan

import (
	"fmt"
	"regexp"
	"time"

	"github.com/regsweep/regsweep/internal/graph"
)

// Policy is what the user asked for, already validated.
//
// The retention rule is either the single rule of the inputs (Include,
// Exclude, KeepLatest, OlderThan, Untagged) or, when Rules is set, a rule
// set (the `policy` input): then the single-rule fields are ignored, a tag
// or untagged manifest is in scope when at least one rule covers it, and it
// goes only when every rule covering it would delete it and Keep names
// neither it nor its digest. DeleteReferrers, ProtectLatest and the graph
// rules apply to the result either way.
type Policy struct {
	Include         Matcher       // tags to delete (the `tags` input)
	Exclude         Matcher       // tags never deleted (`exclude-tags`); may be nil
	KeepLatest      int           // keep the newest N matching tags (0: off)
	OlderThan       time.Duration // only images older than now-OlderThan (0: off)
	AgeFrom         AgeFrom       // which time is an image's age (`age-from`; "": pushed where known, else created)
	PulledWithin    time.Duration // keep what was pulled within this window (`pulled-within`; 0: off)
	DeleteReferrers bool          // delete signatures/attestations/SBOMs with their subject, and orphans
	Untagged        bool          // also delete manifests nothing references (where listed)
	// UntagWithPlaceholder allows the GitHub workaround for removing a tag
	// that shares its version with a kept tag (off by default).
	UntagWithPlaceholder bool
	// UntagFirstAt is the schedule's switch, not a rule: from this many
	// manifest deletions on, the tags of the manifests to delete are
	// removed first (see untagFirst). 0 means DefaultUntagFirstAt; a
	// negative value never. Tests and the benchmark set it; users do not.
	UntagFirstAt int
	// ProtectLatest keeps the tag `latest` unless an Include pattern names
	// it literally (`protect-latest`, on by default).
	ProtectLatest bool

	// Rules, when not empty, replace the single rule above.
	Rules []RetentionRule
	// Keep names tags (Keep) and manifests (KeepDigests) no rule may
	// delete: the policy's top-level `keep`.
	Keep        Matcher
	KeepDigests []string
}

// RetentionRule is one rule of a rule set (the `policy` input).
type RetentionRule struct {
	Name    string  // optional, shown beside the decisions it makes
	Include Matcher // tags the rule covers; nil or empty: none
	Exclude Matcher // tags taken out of the rule's scope
	// GroupBy splits the covered tags into groups (tags whose capture
	// groups are equal), each ranked on its own by KeepLatest. nil: one group.
	GroupBy    *regexp.Regexp
	KeepLatest int           // keep the newest N images (per group; of untagged ones with Untagged)
	OlderThan  time.Duration // delete only what is older than now-OlderThan
	// AgeFrom is which time is an image's age for this rule ("": pushed
	// where the backend reports it, else created).
	AgeFrom AgeFrom
	// PulledWithin keeps what was pulled within this window (0: off).
	PulledWithin time.Duration
	Untagged     bool // the rule also covers untagged manifests
	// Repositories limits the rule to the swept repositories it matches
	// (the whole name, or the path after the host); nil: every one.
	Repositories Matcher
}

// Candidate reports whether some rule may delete tag, so that discovery
// reads expensive facts only for those. It ignores keep-latest, ages and
// the repository filter: a superset costs requests, never a deletion.
func (p Policy) Candidate(tag string) bool {
	for _, r := range p.retention() {
		if matches(r.Include, tag) && !matches(r.Exclude, tag) {
			return true
		}
	}
	return false
}

// NeedsCreated reports whether some rule reads ages (keep-latest, older-than).
func (p Policy) NeedsCreated() bool {
	for _, r := range p.retention() {
		if r.KeepLatest > 0 || r.OlderThan > 0 {
			return true
		}
	}
	return false
}

// NeedsImageCreated reports whether some rule reads ages from the images'
// own creation times (age-from: created), which a backend that reports
// push times reads only when asked.
func (p Policy) NeedsImageCreated() bool {
	for _, r := range p.retention() {
		if (r.KeepLatest > 0 || r.OlderThan > 0) && r.AgeFrom == AgeFromCreated {
			return true
		}
	}
	return false
}

// CoversUntagged reports whether some rule covers untagged manifests.
func (p Policy) CoversUntagged() bool {
	for _, r := range p.retention() {
		if r.Untagged {
			return true
		}
	}
	return false
}

// retention is the rule set in force: Rules, or the single rule of the inputs.
func (p Policy) retention() []RetentionRule {
	if len(p.Rules) > 0 {
		return p.Rules
	}
	return []RetentionRule{{Include: p.Include, Exclude: p.Exclude, KeepLatest: p.KeepLatest, OlderThan: p.OlderThan, AgeFrom: p.AgeFrom, PulledWithin: p.PulledWithin, Untagged: p.Untagged}}
}

// RuleRef names the retention rule behind a decision: its 1-based index in
// the policy and its name. Zero (index 0) under the single rule of the inputs.
type RuleRef struct {
	RuleIndex int    `json:"ruleIndex,omitempty"`
	RuleName  string `json:"ruleName,omitempty"`
}

// By names the rule for people: "rule 2 (releases)", "" for the inputs.
func (r RuleRef) By() string {
	switch {
	case r.RuleIndex == 0:
		return ""
	case r.RuleName == "":
		return fmt.Sprintf("rule %d", r.RuleIndex)
	}
	return fmt.Sprintf("rule %d (%s)", r.RuleIndex, r.RuleName)
}

// Action is what happens to a tag or a manifest.
type Action string

const (
	Delete Action = "delete" // the manifest is deleted (and every tag on it)
	Untag  Action = "untag"  // only the tag is removed; the manifest stays
	Keep   Action = "keep"
)

// Rule names the rule that decided; the summary shows it to the user.
type Rule string

const (
	RuleNoMatch         Rule = "no-match"            // tag matched no `tags` pattern
	RuleMatch           Rule = "match"               // matched and nothing objected
	RuleExcluded        Rule = "exclude-tags"        // matched an exclude pattern
	RuleProtectLatest   Rule = "protect-latest"      // `latest`, named by no tags pattern
	RuleNotVersion      Rule = "not-a-version"       // keep-latest ranks by version; no tag of its image is one
	RuleKeepLatest      Rule = "keep-latest"         // among the newest N
	RuleTooNew          Rule = "older-than"          // younger than the cut-off (by age-from)
	RuleAgeUnknown      Rule = "age-unknown"         // older-than set, age unknown
	RulePulledWithin    Rule = "pulled-within"       // pulled after now-PulledWithin
	RulePullsUnknown    Rule = "pulls-unknown"       // pulled-within set, the registry does not report pulls
	RuleSharedDigest    Rule = "shared-digest"       // manifest also named by a kept tag
	RuleCannotUntag     Rule = "cannot-untag"        // shared digest, registry cannot untag
	RuleChildOfKept     Rule = "child-of-kept-index" // referenced by a kept index
	RuleSubjectKept     Rule = "referrer-of-kept"    // a referrer whose subject is kept
	RuleReferrerOfDel   Rule = "referrer-of-deleted" // a referrer whose subject is deleted
	RuleChildOfDeleted  Rule = "child-of-deleted"    // a child of a deleted index, referenced by nothing kept
	RuleOrphanReferrer  Rule = "orphan-referrer"     // a referrer whose subject no longer exists
	RuleUntagged        Rule = "untagged"            // nothing references it (`untagged`)
	RuleUntaggedOff     Rule = "untagged-off"        // unreferenced, but `untagged` is off
	RuleReferrersOff    Rule = "delete-referrers-off"
	RuleUndeletable     Rule = "undeletable" // the backend said it cannot be deleted
	RuleCannotDelete    Rule = "cannot-delete"
	RuleReferencedByTag Rule = "tagged" // a manifest with a kept tag
	// RuleReferredByKept: a subject kept because a kept referrer points at it
	// (with delete-referrers on, a signature is never left dangling).
	RuleReferredByKept Rule = "subject-of-kept-referrer"
	// RuleChanged: the last-moment re-check (Plan.Recheck) no longer agrees.
	RuleChanged Rule = "changed-during-run"
	// RuleOrphanUnproven: a referrer whose subject was not found but is
	// not proven gone from this repository (not looked up, or it may live
	// in another repository): kept.
	RuleOrphanUnproven Rule = "orphan-unproven"
	// RuleKeep: named, by tag or digest, by the policy's top-level keep.
	RuleKeep Rule = "keep"
	// RuleNoGroup: a rule's group-by does not match the tag, so its
	// keep-latest cannot count it in a group: kept.
	RuleNoGroup Rule = "no-group"
	// RuleDeferred: max-deletions-mode limit left it for a later run
	// (Limit).
	RuleDeferred Rule = "deferred"
)

// TagDecision is the decision for one tag in the repository.
type TagDecision struct {
	Tag     string `json:"tag"`
	Digest  string `json:"digest"`
	Matched bool   `json:"matched"` // matched `tags` (before exclude and other rules)
	Action  Action `json:"action"`  // Delete: goes with its manifest; Untag; Keep
	Rule    Rule   `json:"rule"`
	Reason  string `json:"reason"` // one sentence for the summary
	// RuleRef: the retention rule that kept the tag (the first that would
	// keep it), or, for a deleted tag, the first rule covering it.
	RuleRef
}

// ManifestDecision is the decision for one manifest.
type ManifestDecision struct {
	Digest  string     `json:"digest"`
	Kind    graph.Kind `json:"kind"`
	Tags    []string   `json:"tags,omitempty"`
	Action  Action     `json:"action"` // Delete or Keep
	Rule    Rule       `json:"rule"`
	Reason  string     `json:"reason"`
	RuleRef            // the retention rule behind an untagged manifest's decision
	// Age is the time older-than and keep-latest read (zero when unknown),
	// and AgeSource where it came from: the image's own creation time, the
	// registry's push time, or unknown.
	Age       time.Time `json:"age,omitzero"`
	AgeSource AgeSource `json:"ageSource"`
	// Phase orders deletions: every manifest is deleted in an earlier phase
	// than anything it references (referrers before subjects, indexes before
	// children), so an interrupted run leaves no dangling reference.
	Phase int `json:"phase,omitempty"`
}

// OpKind is a registry operation.
type OpKind string

const (
	OpUntag  OpKind = "untag"
	OpDelete OpKind = "delete"
)

// Op is one registry operation the apply step performs.
type Op struct {
	Kind   OpKind `json:"kind"`
	Digest string `json:"digest"`
	Tag    string `json:"tag,omitempty"` // for OpUntag
	// BeforeDelete marks an OpUntag of a tag whose manifest a later phase
	// deletes: the tag goes first only so that the DELETE is cheap (see
	// untagFirst). Until that DELETE, the manifest is present and untagged.
	BeforeDelete bool `json:"beforeDelete,omitempty"`
}

// Plan is the whole decision, a plain value: printable, snapshot-testable,
// property-testable, built without a network.
type Plan struct {
	Repository   string             `json:"repository"`
	Backend      string             `json:"backend"`
	Capabilities graph.Capabilities `json:"capabilities"`
	Tags         []TagDecision      `json:"tags"`      // every tag, sorted by tag
	Manifests    []ManifestDecision `json:"manifests"` // every manifest, sorted by digest
	// Phases are run in order; the ops in one phase may run concurrently.
	// Untags come in phase 0, before any manifest deletion (with
	// BeforeDelete ones, when the schedule removes doomed tags first).
	Phases   [][]Op   `json:"phases"`
	Warnings []string `json:"warnings,omitempty"`
	// Ranking is how keep-latest ranked images: RankVersion, RankCreated,
	// or "" when keep-latest is off or had nothing to rank.
	Ranking string `json:"ranking,omitempty"`
	// IgnoredTags are the candidate tags a version ranking could not read
	// as versions, sorted; their images rank by their other tags or, with
	// none, are kept unranked (not-a-version).
	IgnoredTags []string `json:"ignoredTags,omitempty"`

	// probeForSchedule: the registry's untag support is unknown and the
	// schedule would remove doomed tags first if it can (NeedsUntagProbe).
	probeForSchedule bool
}

// How keep-latest ranked images (Plan.Ranking).
const (
	RankVersion = "version"
	RankCreated = "creation time"
	RankPushed  = "push time"
)

// Matcher matches whole tag names against the user's patterns.
type Matcher interface {
	Match(tag string) bool
	// Patterns returns the patterns as the user wrote them.
	Patterns() []string
	// Unmatched returns the patterns, in order, that match none of tags.
	Unmatched(tags []string) []string
}
