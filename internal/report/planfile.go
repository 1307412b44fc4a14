package report

import (
	"slices"
	"strings"
	"time"

	"github.com/regsweep/regsweep/internal/plan"
)

// PlanSchemaVersion is the version of the plan file's JSON schema
// (plan-out). Like the record's, it changes only when a field changes
// meaning or goes away; new fields may appear within a version.
const PlanSchemaVersion = 1

// Plan file statuses of a repository.
const (
	PlanPlanned    = "planned"     // the plan below is what the run does next
	PlanHeld       = "held"        // planned, but the run deletes nothing (max-deletions, stop mode)
	PlanFailed     = "failed"      // no plan: discovery or planning failed
	PlanNotStarted = "not-started" // the run ended before the repository was reached
)

// PlanFile is the whole plan of a run as plan-out writes it, before the
// first deletion: for each swept repository every tag and manifest with
// its decision and the rule that made it. Kebab-case keys, like the
// record's, so that a script compares the two with the same names.
type PlanFile struct {
	SchemaVersion    int    `json:"schema-version"`
	Regsweep         string `json:"regsweep-version,omitempty"`
	DryRun           bool   `json:"dry-run"`
	MaxDeletions     int    `json:"max-deletions"`
	MaxDeletionsMode string `json:"max-deletions-mode"`
	// DeleteCount counts the manifests the plan deletes, DeferredCount the
	// ones a limit left for the next run, over every repository.
	DeleteCount   int        `json:"delete-count"`
	DeferredCount int        `json:"deferred-count"`
	Repositories  []PlanRepo `json:"repositories"`
}

// PlanRepo is one repository's plan.
type PlanRepo struct {
	RepoHead
	DeleteCount   int      `json:"delete-count"`
	DeferredCount int      `json:"deferred-count"`
	Ranking       string   `json:"ranking,omitempty"`
	IgnoredTags   []string `json:"ignored-tags"`
	Warnings      []string `json:"warnings"`
	// Tags are sorted by tag, Manifests by digest.
	Tags      []PlanTag      `json:"tags"`
	Manifests []PlanManifest `json:"manifests"`
}

// PlanTag is the decision on one tag.
type PlanTag struct {
	Tag     string `json:"tag"`
	Digest  string `json:"digest"`
	Matched bool   `json:"matched"`
	Action  string `json:"action"` // delete (with its manifest), untag (alone) or keep
	Rule    string `json:"rule"`
	Reason  string `json:"reason"`
	PolicyRule
}

// PolicyRule names the retention rule of the policy input behind a
// decision: its index from 1 and its name; absent for the inputs' single
// rule.
type PolicyRule struct {
	Index int    `json:"policy-rule,omitempty"`
	Name  string `json:"policy-rule-name,omitempty"`
}

// PlanManifest is the decision on one manifest.
type PlanManifest struct {
	Digest string   `json:"digest"`
	Kind   string   `json:"kind"`
	Tags   []string `json:"tags"`
	Action string   `json:"action"` // delete or keep
	Rule   string   `json:"rule"`
	Reason string   `json:"reason"`
	PolicyRule
	// Age is the time older-than, keep-latest and max-deletions-mode limit
	// read (absent when unknown); AgeSource where it came from (created,
	// pushed or unknown).
	Age       *time.Time `json:"age,omitempty"`
	AgeSource string     `json:"age-source"`
	// Phase orders deletions: a manifest is deleted in an earlier phase
	// than anything it references (0 for a kept manifest).
	Phase int `json:"phase"`
}

// NewPlanFile is the plan file of r, whose repositories hold their plans
// as they stand before the first deletion.
func NewPlanFile(r *Report, maxDeletions int, mode string) *PlanFile {
	f := &PlanFile{
		SchemaVersion: PlanSchemaVersion, Regsweep: r.Version, DryRun: r.DryRun,
		MaxDeletions: maxDeletions, MaxDeletionsMode: mode, Repositories: []PlanRepo{},
	}
	for i := range r.Repositories {
		rp := &r.Repositories[i]
		status := PlanPlanned
		switch {
		case rp.NotStarted:
			status = PlanNotStarted
		case rp.Plan == nil || rp.Err != nil:
			status = PlanFailed
		case rp.Held != nil:
			status = PlanHeld
		}
		pr := PlanRepo{RepoHead: rp.head(status), IgnoredTags: []string{}, Warnings: nonNil(rp.warnings()), Tags: []PlanTag{}, Manifests: []PlanManifest{}}
		if p := rp.Plan; p != nil {
			pr.Ranking, pr.IgnoredTags = p.Ranking, nonNil(p.IgnoredTags)
			for _, t := range p.Tags {
				pr.Tags = append(pr.Tags, PlanTag{Tag: t.Tag, Digest: t.Digest, Matched: t.Matched, Action: string(t.Action), Rule: string(t.Rule), Reason: t.Reason,
					PolicyRule: PolicyRule{t.RuleIndex, t.RuleName}})
			}
			for _, m := range p.Manifests {
				pm := PlanManifest{Digest: m.Digest, Kind: string(m.Kind), Tags: nonNil(m.Tags), Action: string(m.Action), Rule: string(m.Rule), Reason: m.Reason, Phase: m.Phase,
					PolicyRule: PolicyRule{m.RuleIndex, m.RuleName}}
				pm.AgeSource = string(m.AgeSource)
				if !m.Age.IsZero() {
					a := m.Age.UTC()
					pm.Age = &a
				}
				switch {
				case m.Action == plan.Delete:
					pr.DeleteCount++
				case m.Rule == plan.RuleDeferred:
					pr.DeferredCount++
				}
				pr.Manifests = append(pr.Manifests, pm)
			}
			slices.SortFunc(pr.Tags, func(a, b PlanTag) int { return strings.Compare(a.Tag, b.Tag) })
			slices.SortFunc(pr.Manifests, func(a, b PlanManifest) int { return strings.Compare(a.Digest, b.Digest) })
		}
		if pr.Status == PlanPlanned {
			f.DeleteCount += pr.DeleteCount
		}
		f.DeferredCount += pr.DeferredCount
		f.Repositories = append(f.Repositories, pr)
	}
	return f
}
