package ci

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Woodpecker is a Woodpecker CI or Drone plugin step: settings from
// PLUGIN_* (the step's `settings:`), then REGSWEEP_*. Neither system has step
// outputs: they are printed as compact JSON lines and, when
// REGSWEEP_OUTPUT_FILE is set, written there (JSON when the name ends in
// .json, dotenv otherwise). Both systems mask `from_secret` values
// themselves.
type Woodpecker struct {
	name    string
	env     func(string) string
	stdout  io.Writer
	outputs map[string]string
}

// NewWoodpecker returns the Woodpecker provider.
func NewWoodpecker(env func(string) string, stdout, stderr io.Writer) *Woodpecker {
	_ = stderr
	return &Woodpecker{name: "woodpecker", env: env, stdout: stdout, outputs: map[string]string{}}
}

// NewDrone returns the Drone provider (Woodpecker's conventions, its name).
func NewDrone(env func(string) string, stdout, stderr io.Writer) *Woodpecker {
	w := NewWoodpecker(env, stdout, stderr)
	w.name = "drone"
	return w
}

// Name implements Provider: "woodpecker" or "drone".
func (w *Woodpecker) Name() string { return w.name }

// Lookup reads PLUGIN_<NAME> (dashes as underscores, or kept), then
// REGSWEEP_<NAME>. A YAML list in `settings:` arrives comma-joined, which
// the list settings accept.
func (w *Woodpecker) Lookup(name string) (string, bool) {
	if v, ok := lookupEnv(w.env, "PLUGIN_", name); ok {
		return v, true
	}
	return lookupEnv(w.env, "REGSWEEP_", name)
}

// Default implements Provider: neither system has a registry of its own.
func (w *Woodpecker) Default(string) (string, bool) { return "", false }

// Mask does nothing: the CI masks secrets it injected.
func (w *Woodpecker) Mask(string) {}

// SetOutput prints {"name":"value"} on one line and rewrites
// REGSWEEP_OUTPUT_FILE, when set, with every output so far.
func (w *Woodpecker) SetOutput(o Output) error {
	name, value := o.Name, o.Value
	if err := checkOutputName(name); err != nil {
		return err
	}
	w.outputs[name] = value
	line, err := json.Marshal(map[string]string{name: value})
	if err != nil {
		return fmt.Errorf("output %s: %w", name, err)
	}
	fmt.Fprintf(w.stdout, "%s\n", line)
	path := w.env("REGSWEEP_OUTPUT_FILE")
	if path == "" {
		return nil
	}
	data := renderDotenv(w.outputs)
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		if data, err = json.MarshalIndent(w.outputs, "", "  "); err != nil {
			return fmt.Errorf("output %s: %w", name, err)
		}
		data = append(data, '\n')
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write output %s to %s: %w", name, path, err)
	}
	return nil
}

// Summary prints the markdown to the log.
func (w *Woodpecker) Summary(markdown string) error {
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	_, _ = io.WriteString(w.stdout, markdown)
	return nil
}

// Group prints a heading line; neither system folds logs.
func (w *Woodpecker) Group(title string) { fmt.Fprintf(w.stdout, "--- %s\n", title) }

// EndGroup implements Provider (nothing to close).
func (w *Woodpecker) EndGroup() {}

// Infof implements Provider.
func (w *Woodpecker) Infof(format string, args ...any) {
	fmt.Fprintf(w.stdout, format+"\n", args...)
}

// Warningf prints a "WARNING:" line.
func (w *Woodpecker) Warningf(format string, args ...any) {
	fmt.Fprintf(w.stdout, "WARNING: %s\n", fmt.Sprintf(format, args...))
}

// Noticef prints the line as is.
func (w *Woodpecker) Noticef(format string, args ...any) {
	fmt.Fprintf(w.stdout, format+"\n", args...)
}

// RecordFile defaults to regsweep-record.json in the step's workspace
// (CI_WORKSPACE on Woodpecker, DRONE_WORKSPACE on Drone), which later steps
// share.
func (w *Woodpecker) RecordFile(given string) (string, string) {
	if given != "" {
		return given, given
	}
	for _, k := range []string{"CI_WORKSPACE", "DRONE_WORKSPACE"} {
		if dir := w.env(k); dir != "" {
			p := filepath.Join(dir, "regsweep-record.json")
			return p, p
		}
	}
	return "", ""
}

// Errorf prints an "ERROR:" line.
func (w *Woodpecker) Errorf(format string, args ...any) {
	fmt.Fprintf(w.stdout, "ERROR: %s\n", fmt.Sprintf(format, args...))
}
