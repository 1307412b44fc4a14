package plan

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// PatternError is an invalid `tags` or `exclude-tags` entry. Its message is
// one sentence naming the pattern, fit for an exit-2 error.
type PatternError struct {
	Pattern string
	Regex   bool
	Problem string
}

func (e *PatternError) Error() string {
	kind := "glob pattern"
	if e.Regex {
		kind = "regular expression"
	}
	return fmt.Sprintf("invalid %s %q: %s", kind, e.Pattern, e.Problem)
}

// patternMatcher is one compiled alternation of every pattern, anchored to
// the whole tag.
type patternMatcher struct {
	patterns []string
	re       *regexp.Regexp
	each     []*regexp.Regexp // one anchored expression per pattern
	literals map[string]bool  // tags some pattern names exactly, with no wildcard
}

// Unmatched returns the patterns, in order, that match none of tags.
func (m *patternMatcher) Unmatched(tags []string) []string {
	if m == nil {
		return nil
	}
	var out []string
	for i, re := range m.each {
		hit := false
		for _, t := range tags {
			if hit = re.MatchString(t); hit {
				break
			}
		}
		if !hit {
			out = append(out, m.patterns[i])
		}
	}
	return out
}

// Match reports whether tag matches any pattern; a nil matcher matches nothing.
func (m *patternMatcher) Match(tag string) bool {
	if m == nil || m.re == nil {
		return false
	}
	return m.re.MatchString(tag)
}

// Literal reports whether some pattern names tag exactly, with no wildcard:
// `latest`, or the regex `latest` or `^latest$`, but not `*` or `lat.*`.
func (m *patternMatcher) Literal(tag string) bool {
	return m != nil && m.literals[tag]
}

// Patterns returns the patterns as the user wrote them (blank ones dropped).
func (m *patternMatcher) Patterns() []string {
	if m == nil {
		return nil
	}
	return append([]string(nil), m.patterns...)
}

// CompilePatterns compiles tag patterns into a Matcher. Globs support `*`
// (any run of characters), `?` (one character), `[...]` classes (`[!...]` or
// `[^...]` negate, ranges allowed) and `\` escapes; regexes are RE2. Either
// way a pattern must match the WHOLE tag. Blank entries are ignored; no
// patterns at all gives a Matcher that matches nothing.
func CompilePatterns(patterns []string, regex bool) (Matcher, error) {
	m := &patternMatcher{}
	var alts []string
	for _, raw := range patterns {
		p := strings.TrimSpace(raw)
		if p == "" {
			continue
		}
		var expr string
		if regex {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, &PatternError{Pattern: p, Regex: true, Problem: regexProblem(err)}
			}
			expr = p
			if lit, ok := regexLiteral(p, re); ok {
				m.addLiteral(lit)
			}
		} else {
			e, err := globToRegexp(p)
			if err != nil {
				return nil, &PatternError{Pattern: p, Problem: err.Error()}
			}
			expr = e
			if lit, ok := globLiteral(p); ok {
				m.addLiteral(lit)
			}
		}
		one, err := regexp.Compile(`^(?:` + expr + `)$`)
		if err != nil {
			return nil, fmt.Errorf("compile tag pattern %q: %w", p, err)
		}
		m.patterns = append(m.patterns, p)
		m.each = append(m.each, one)
		alts = append(alts, "(?:"+expr+")")
	}
	if len(alts) == 0 {
		return m, nil
	}
	re, err := regexp.Compile(`^(?:` + strings.Join(alts, "|") + `)$`)
	if err != nil {
		// Each part compiled alone, so this is a limit such as the program size.
		return nil, fmt.Errorf("compile tag patterns: %w", err)
	}
	m.re = re
	return m, nil
}

func (m *patternMatcher) addLiteral(tag string) {
	if m.literals == nil {
		m.literals = map[string]bool{}
	}
	m.literals[tag] = true
}

// globLiteral returns the one tag a glob without wildcards matches.
func globLiteral(glob string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '*', '?', '[':
			return "", false
		case '\\':
			if i+1 < len(glob) {
				i++
				b.WriteByte(glob[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// regexLiteral returns the one tag a regex matches when it is a plain
// string, optionally anchored (`latest`, `^latest$`).
func regexLiteral(expr string, re *regexp.Regexp) (string, bool) {
	if lit, complete := re.LiteralPrefix(); complete {
		return lit, true
	}
	inner, ok := strings.CutPrefix(expr, "^")
	inner, ok2 := strings.CutSuffix(inner, "$")
	if !ok && !ok2 {
		return "", false
	}
	r, err := regexp.Compile(inner)
	if err != nil {
		return "", false
	}
	lit, complete := r.LiteralPrefix()
	return lit, complete
}

// literal is Literal on a possibly nil Matcher of any implementation.
func literal(m Matcher, tag string) bool {
	l, ok := m.(interface{ Literal(string) bool })
	return ok && l.Literal(tag)
}

// regexProblem extracts the short problem from a regexp error ("missing
// closing )") without the library's prefix and echo of the expression.
func regexProblem(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return string(se.Code)
	}
	return err.Error()
}

// globToRegexp translates one glob into an unanchored RE2 expression.
func globToRegexp(glob string) (string, error) {
	var b strings.Builder
	rs := []rune(glob)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '\\':
			if i+1 >= len(rs) {
				return "", errors.New("trailing backslash")
			}
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case '[':
			end, class, err := globClass(rs, i)
			if err != nil {
				return "", err
			}
			b.WriteString(class)
			i = end
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String(), nil
}

// globClass translates the class starting at rs[start] == '[' and returns
// the index of its closing ']'.
func globClass(rs []rune, start int) (int, string, error) {
	var b strings.Builder
	b.WriteByte('[')
	i := start + 1
	if i < len(rs) && (rs[i] == '!' || rs[i] == '^') {
		b.WriteByte('^')
		i++
	}
	n := 0
	for ; i < len(rs); i++ {
		c := rs[i]
		if c == ']' && n > 0 {
			b.WriteByte(']')
			return i, b.String(), nil
		}
		if c == '\\' {
			if i+1 >= len(rs) {
				return 0, "", errors.New("trailing backslash")
			}
			i++
			c = rs[i]
		}
		lo := c
		if i+2 < len(rs) && rs[i+1] == '-' && rs[i+2] != ']' {
			hi := rs[i+2]
			if hi == '\\' {
				if i+3 >= len(rs) {
					return 0, "", errors.New("trailing backslash")
				}
				hi = rs[i+3]
				i++
			}
			if hi < lo {
				return 0, "", fmt.Errorf("bad range %c-%c", lo, hi)
			}
			b.WriteString(classRune(lo) + "-" + classRune(hi))
			i += 2
		} else {
			b.WriteString(classRune(lo))
		}
		n++
	}
	return 0, "", errors.New("missing closing ]")
}

// classRune escapes a rune for use inside an RE2 character class.
func classRune(r rune) string {
	switch r {
	case '\\', ']', '[', '^', '-':
		return `\` + string(r)
	}
	return string(r)
}

// matches is Match on a possibly nil Matcher.
func matches(m Matcher, tag string) bool {
	return m != nil && m.Match(tag)
}
