package ci

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Terminal is a plain command line: settings from REGSWEEP_* (flags are the
// settings package's business), outputs and the summary on stdout, log
// lines on stderr so stdout can be piped.
type Terminal struct {
	env    func(string) string
	stdout io.Writer
	stderr io.Writer
	json   bool
}

// NewTerminal returns the terminal provider.
func NewTerminal(env func(string) string, stdout, stderr io.Writer) *Terminal {
	return &Terminal{env: env, stdout: stdout, stderr: stderr}
}

// Name implements Provider.
func (t *Terminal) Name() string { return "terminal" }

// Lookup reads REGSWEEP_<NAME> ("dry-run" -> REGSWEEP_DRY_RUN).
func (t *Terminal) Lookup(name string) (string, bool) { return lookupEnv(t.env, "REGSWEEP_", name) }

// Default supplies github-token from GITHUB_TOKEN (as gh and other tools do).
func (t *Terminal) Default(name string) (string, bool) {
	if name == "github-token" {
		if v := t.env("GITHUB_TOKEN"); v != "" {
			return v, true
		}
	}
	return "", false
}

// Mask does nothing: a terminal has no log masking, and regsweep never
// prints a secret.
func (t *Terminal) Mask(string) {}

// SetJSON switches to JSON mode (--json): the summary goes to stderr so
// stdout holds only what WriteJSON prints.
func (t *Terminal) SetJSON(on bool) { t.json = on }

// SetOutput only checks the name. A person at a terminal reads the summary;
// a script asks for --json and gets every output from WriteJSON.
func (t *Terminal) SetOutput(o Output) error {
	if err := checkOutputName(o.Name); err != nil {
		return err
	}
	return nil
}

// RecordFile writes a record only where --record says: a command line
// leaves no files behind unasked.
func (t *Terminal) RecordFile(given string) (string, string) { return given, given }

// Noticef writes the result line on stderr.
func (t *Terminal) Noticef(format string, args ...any) {
	fmt.Fprintf(t.stderr, format+"\n", args...)
}

// WriteJSON prints v (the run's record) as one JSON object on stdout.
func (t *Terminal) WriteJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("the record as JSON: %w", err)
	}
	if _, err := fmt.Fprintf(t.stdout, "%s\n", data); err != nil {
		return fmt.Errorf("write outputs: %w", err)
	}
	return nil
}

// Summary prints the markdown (to stderr in JSON mode).
func (t *Terminal) Summary(markdown string) error {
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	w := t.stdout
	if t.json {
		w = t.stderr
	}
	_, _ = io.WriteString(w, markdown)
	return nil
}

// Group prints a heading line on stderr.
func (t *Terminal) Group(title string) { fmt.Fprintf(t.stderr, "== %s\n", title) }

// EndGroup implements Provider (nothing to close).
func (t *Terminal) EndGroup() {}

// Infof writes a log line on stderr.
func (t *Terminal) Infof(format string, args ...any) {
	fmt.Fprintf(t.stderr, format+"\n", args...)
}

// Warningf writes "warning: ..." on stderr.
func (t *Terminal) Warningf(format string, args ...any) {
	fmt.Fprintf(t.stderr, "warning: %s\n", fmt.Sprintf(format, args...))
}

// Errorf writes "error: ..." on stderr.
func (t *Terminal) Errorf(format string, args ...any) {
	fmt.Fprintf(t.stderr, "error: %s\n", fmt.Sprintf(format, args...))
}
