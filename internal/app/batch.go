package app

import (
	"github.com/regsweep/regsweep/internal/plan"
	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/settings"
)

// limit cuts the planned sweeps to max-deletions manifests in
// max-deletions-mode limit (oldest images first, over every repository);
// in stop mode it does nothing and overCap refuses a plan over the cap.
func (r *runner) limit(sweeps []*sweep) {
	if r.s.MaxDeletionsMode != settings.MaxDeletionsLimit || r.s.MaxDeletions <= 0 {
		return
	}
	var in []plan.Limited
	var planned []*sweep
	for _, sw := range sweeps {
		if sw.out.Plan != nil && sw.out.Err == nil {
			in = append(in, plan.Limited{Plan: sw.out.Plan, Graph: sw.g})
			planned = append(planned, sw)
		}
	}
	for i, p := range plan.Limit(in, r.s.MaxDeletions) {
		planned[i].out.Plan = p
	}
}

// writePlan writes the plan file (plan-out) as the plans stand before the
// first deletion, and returns the path to show in the outputs ("" when
// none was written: not asked for, or it failed, which is a warning).
func (r *runner) writePlan(rep *report.Report, unlisted []report.Repository, sweeps []*sweep) string {
	if r.s.PlanOut == "" {
		return ""
	}
	// The record file's rules place a given path: relative to the
	// workspace where the CI runs steps there, and shown that way.
	write, show := r.p.RecordFile(r.s.PlanOut)
	repos := append([]report.Repository(nil), unlisted...)
	for _, sw := range sweeps {
		repos = append(repos, sw.out)
	}
	f := report.NewPlanFile(&report.Report{Version: rep.Version, DryRun: rep.DryRun, Repositories: repos}, r.s.MaxDeletions, r.s.MaxDeletionsMode)
	if err := writeRecord(write, f); err != nil {
		r.p.Warningf("could not write the plan file: %s", err)
		return ""
	}
	return show
}
