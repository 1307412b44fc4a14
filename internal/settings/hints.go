package settings

import (
	"fmt"
	"regexp"
	"strings"
)

// braceGroup is a shell-style alternative such as {1,2} in one line of a
// glob list, before the commas split it.
var braceGroup = regexp.MustCompile(`\{[^{}\n]*,[^{}\n]*\}`)

// patternHints returns one warning for each tag pattern that is very likely
// a typo: a glob with braces (`pr-{1,2}`, which globs do not expand and the
// list splits at its comma), a glob written as a regular expression, or a
// glob under use-regex (`pr-*` as a regex means "pr" and any number of
// "-"). input is the setting's name and raw its text as given.
func patternHints(input, raw string, patterns []string, regex bool) []string {
	var out []string
	if regex {
		for _, p := range patterns {
			if fixed, ok := globAsRegex(p); ok {
				out = append(out, fmt.Sprintf("%s: use-regex is on, and %q reads like a glob: as a regular expression a * repeats the character before it; write %q for any run of characters, or set use-regex to false", input, p, fixed))
			}
		}
		return out
	}
	split := map[string]bool{}
	for _, line := range strings.FieldsFunc(raw, func(r rune) bool { return r == '\n' || r == '\r' }) {
		for _, g := range braceGroup.FindAllString(line, -1) {
			whole := wholeItem(line, g)
			out = append(out, fmt.Sprintf("%s: %q was split at its comma: globs have no {a,b} alternatives and list entries are separated by commas; write each alternative as its own pattern: %s", input, whole, strings.Join(expandBraces(whole), ", ")))
			for _, part := range SplitList(whole, true) {
				split[part] = true
			}
		}
	}
	for _, p := range patterns {
		switch {
		case split[p]:
		case strings.ContainsAny(p, "{}"):
			out = append(out, fmt.Sprintf("%s: %q contains a brace, which globs do not expand and no tag contains: it matches nothing", input, p))
		case strings.ContainsAny(p, "^$+()|"):
			out = append(out, fmt.Sprintf("%s: %q reads like a regular expression, which no tag can match as a glob: set use-regex to true, or write it as a glob (*, ?, [...])", input, p))
		}
	}
	return out
}

// wholeItem widens the brace group g inside line to the list item around
// it: from the comma or start before the group's "{" to the next comma or
// end after its "}".
func wholeItem(line, g string) string {
	at := strings.Index(line, g)
	start := strings.LastIndexByte(line[:at], ',') + 1
	end := len(line)
	if i := strings.IndexByte(line[at+len(g):], ','); i >= 0 {
		end = at + len(g) + i
	}
	return strings.TrimSpace(line[start:end])
}

// expandBraces expands the first {a,b,...} of s the way a shell does.
func expandBraces(s string) []string {
	loc := braceGroup.FindStringIndex(s)
	if loc == nil {
		return []string{s}
	}
	pre, body, post := s[:loc[0]], s[loc[0]+1:loc[1]-1], s[loc[1]:]
	var out []string
	for _, alt := range strings.Split(body, ",") {
		out = append(out, pre+alt+post)
	}
	return out
}

// globAsRegex reports whether the regular expression p reads like a glob:
// a * right after a character a tag uses as a separator ("pr-*", "v1_*",
// "feature/*"), where a glob user means "anything". fixed is p with those
// stars written as .*.
func globAsRegex(p string) (fixed string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			b.WriteString(p[i : i+2])
			i++
			continue
		}
		if c == '*' && i > 0 && strings.IndexByte("-_/:", p[i-1]) >= 0 {
			b.WriteString(".*")
			ok = true
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), ok
}
