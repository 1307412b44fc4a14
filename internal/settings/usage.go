package settings

import (
	"fmt"
	"strings"
)

// Usage is the --help text, generated from Definitions.
func Usage() string {
	var b strings.Builder
	b.WriteString("Usage: regsweep --repository REPO [--tags PATTERNS] [flags]\n\n")
	b.WriteString("regsweep deletes container images from registries by policy, and never what you keep.\n")
	b.WriteString("Every flag can also be set in the environment as REGSWEEP_<NAME>, e.g. REGSWEEP_DRY_RUN=true;\n")
	b.WriteString("flags win. Lists take one entry per line or comma-separated; booleans take true or false.\n\n")
	b.WriteString("Flags:\n")
	type row struct{ left, help string }
	var rows []row
	width := 0
	for _, d := range Definitions() {
		left := "--" + d.Name
		if mv := d.metavar(); mv != "" {
			left += " " + mv
		}
		help := strings.ReplaceAll(d.Help, "`", "")
		var notes []string
		if d.Required {
			notes = append(notes, "required")
		}
		if d.Default != "" && d.Kind != KindBool || d.Kind == KindBool && d.Default == "true" {
			notes = append(notes, "default "+d.Default)
		}
		notes = append(notes, "env REGSWEEP_"+d.Env())
		help += " [" + strings.Join(notes, "; ") + "]"
		rows = append(rows, row{left, help})
		width = max(width, len(left))
	}
	rows = append(rows, row{"--help", "Show this help."}, row{"--version", "Print the version."})
	for _, r := range rows {
		lines := wrap(r.help, 76)
		fmt.Fprintf(&b, "  %-*s  %s\n", width, r.left, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, "", l)
		}
	}
	b.WriteString("\nExample:\n  regsweep --repository localhost:5000/app --tags 'pr-*' --dry-run\n")
	return b.String()
}

// wrap breaks text into lines of at most width runes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
