// Package ciparse reads back what a run wrote for a CI provider, with the
// provider's own rules: GitHub Actions' GITHUB_OUTPUT/GITHUB_ENV files and
// GitLab's dotenv reports. Only tests need it: the product writes these
// files and never reads them.
package ciparse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// GitHubEnvFile reads a GITHUB_OUTPUT/GITHUB_ENV file with the
// runner's rules: lines are split on \n, \r\n or \r; "name=value" or
// "name<<DELIM" followed by lines up to one equal to DELIM, joined with \n.
// Later entries win.
func GitHubEnvFile(data []byte) (map[string]string, error) {
	lines := splitRunnerLines(data)
	out := map[string]string{}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" {
			continue
		}
		eq := strings.Index(line, "=")
		hd := strings.Index(line, "<<")
		switch {
		case eq >= 0 && (hd < 0 || eq < hd):
			if eq == 0 {
				return nil, fmt.Errorf("line %d: empty name", i+1)
			}
			out[line[:eq]] = line[eq+1:]
		case hd >= 0 && (eq < 0 || hd < eq):
			name, delim := line[:hd], line[hd+2:]
			if name == "" || delim == "" {
				return nil, fmt.Errorf("line %d: invalid heredoc %q", i+1, line)
			}
			var val []string
			found := false
			for i++; i < len(lines); i++ {
				if lines[i] == delim {
					found = true
					break
				}
				val = append(val, lines[i])
			}
			if !found {
				return nil, fmt.Errorf("line %d: matching delimiter %q not found", i+1, delim)
			}
			out[name] = strings.Join(val, "\n")
		default:
			return nil, fmt.Errorf("line %d: invalid format %q", i+1, line)
		}
	}
	return out, nil
}

// splitRunnerLines splits like .NET's StreamReader.ReadLine: \n, \r\n and a
// lone \r end a line; a final line end adds no empty line.
func splitRunnerLines(data []byte) []string {
	var lines []string
	r := bufio.NewReader(bytes.NewReader(data))
	var cur strings.Builder
	for {
		c, err := r.ReadByte()
		if errors.Is(err, io.EOF) {
			if cur.Len() > 0 {
				lines = append(lines, cur.String())
			}
			return lines
		}
		switch c {
		case '\n':
			lines = append(lines, cur.String())
			cur.Reset()
		case '\r':
			lines = append(lines, cur.String())
			cur.Reset()
			if n, err := r.ReadByte(); err == nil && n != '\n' {
				_ = r.UnreadByte()
			}
		default:
			cur.WriteByte(c)
		}
	}
}

// Dotenv reads KEY=value lines (blank lines and # comments skipped), as
// GitLab reads a dotenv report.
func Dotenv(data []byte) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: not KEY=value: %q", i+1, line)
		}
		out[k] = v
	}
	return out, nil
}
