package ci

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// outputName is what every provider accepts as an output name: it keeps a
// name from carrying "=", "<<" or a newline into an environment file.
var outputName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func checkOutputName(name string) error {
	if !outputName.MatchString(name) {
		return fmt.Errorf("output name %q: use letters, digits, '-' and '_'", name)
	}
	return nil
}

// normalizeValue turns a value into what a line-based file can carry back
// unchanged: the runner reads files as UTF-8 and splits lines on \r, \n and
// \r\n, so CR line ends become LF and invalid UTF-8 becomes U+FFFD.
func normalizeValue(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	v = strings.ReplaceAll(v, "\r\n", "\n")
	return strings.ReplaceAll(v, "\r", "\n")
}

// heredocEntry renders one GITHUB_OUTPUT entry in the delimiter form with a
// random delimiter that occurs nowhere in the value, so no value can end the
// entry early and inject another output.
func heredocEntry(name, value string) (string, error) {
	if err := checkOutputName(name); err != nil {
		return "", err
	}
	value = normalizeValue(value)
	for range 8 {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("output %s: delimiter: %w", name, err)
		}
		delim := "ghadelimiter_" + hex.EncodeToString(b[:])
		if strings.Contains(value, delim) {
			continue
		}
		return name + "<<" + delim + "\n" + value + "\n" + delim + "\n", nil
	}
	return "", fmt.Errorf("output %s: no delimiter absent from the value", name)
}

// appendFile appends data to the file at path, creating it.
func appendFile(path string, data []byte) (err error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	_, err = f.Write(data)
	return err
}

// dotenvKey turns an output name into a dotenv/environment key:
// "deleted-count" -> "REGSWEEP_OUT_DELETED_COUNT". The OUT_ part keeps an
// output from being read back as a REGSWEEP_* setting by a later job.
func dotenvKey(name string) string {
	return "REGSWEEP_OUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// dotenvValue makes a value fit one dotenv line: GitLab's dotenv reports
// cannot carry newlines, so the lines of a multi-line value are joined with
// "," (lists of tags or digests stay usable; JSON arrays are one line anyway).
func dotenvValue(v string) string {
	v = normalizeValue(v)
	if !strings.Contains(v, "\n") {
		return v
	}
	var parts []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, ",")
}

// quietWriter drops write errors: a closed log must not panic the run
// (go-githubactions panics when its writer fails).
type quietWriter struct{ w io.Writer }

func (q quietWriter) Write(p []byte) (int, error) {
	_, _ = q.w.Write(p)
	return len(p), nil
}

// commandAtLineStart finds "::" at the start of a line (after blanks); the
// runner reads a workflow command from any such line.
var commandAtLineStart = regexp.MustCompile(`(^|[\r\n])([ \t]*)::`)

// neutralizeCommands keeps arbitrary text (registry error bodies, tag names)
// from being read as a workflow command: a line that starts with "::" gets a
// zero-width space between the colons.
func neutralizeCommands(s string) string {
	if !strings.Contains(s, "::") {
		return s
	}
	return commandAtLineStart.ReplaceAllString(s, "$1$2:\u200b:")
}
