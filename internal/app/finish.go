package app

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/regsweep/regsweep/internal/ci"
	"github.com/regsweep/regsweep/internal/report"
)

// The end of a run: record file, outputs, summary, log lines, exit code.

// finish writes the record file, the outputs, the summary and the log
// lines, and picks the exit code. It runs even when the run was cancelled.
func (r *runner) finish(rep *report.Report) int {
	term, jsonOut := r.p.(*ci.Terminal)
	jsonOut = jsonOut && r.s.JSON
	if jsonOut {
		term.SetJSON(true)
	}
	write, show := r.p.RecordFile(r.s.Record)
	rep.RecordFile = show
	rep.PlanFile = r.planFile
	rec := report.Build(rep)
	outs := report.Outputs(rec) // marks rec.OutputsTruncated
	if write != "" {
		if err := writeRecord(write, rec); err != nil {
			r.p.Warningf("could not write the record file: %s", err)
			rep.RecordFile, rec.RecordFile = "", ""
			outs = report.Outputs(rec)
		}
	}
	for _, o := range outs {
		if err := r.p.SetOutput(ci.Output(o)); err != nil {
			r.p.Warningf("could not write output %s: %s", o.Name, err)
		}
	}
	if err := r.p.Summary(report.Markdown(rep)); err != nil {
		r.p.Warningf("could not write the job summary: %s", err)
	}
	r.log(report.Lines(rep, rec))
	return r.exitCode(rec, rep.Stopped != nil, term, jsonOut)
}

// exitCode is 1 when the run stopped or had problems, or when anything
// failed or was not attempted; with --json it prints the record, and a
// record that cannot be printed fails the run too.
func (r *runner) exitCode(rec *report.Record, problems bool, term *ci.Terminal, jsonOut bool) int {
	code := ExitOK
	if problems || rec.FailedCount > 0 || rec.NotAttemptedCount > 0 {
		code = ExitFailure
	}
	if jsonOut {
		if err := term.WriteJSON(rec); err != nil {
			r.p.Errorf("%s", err)
			code = ExitFailure
		}
	}
	return code
}

// writeRecord writes the record (or the plan file, or an expansion) as
// indented JSON, through a temporary file so that a reader never sees half
// a record.
func writeRecord(path string, rec any) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the record: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
