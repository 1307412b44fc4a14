package plan

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCompilePatterns(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		regex    bool
		match    []string
		noMatch  []string
	}{
		{"exact", []string{"pr-7"}, false, []string{"pr-7"}, []string{"pr-70", "xpr-7", "pr-"}},
		{"star", []string{"pr-*"}, false, []string{"pr-", "pr-7", "pr-7-abc", "pr-a.b_c"}, []string{"pr", "xpr-7", "PR-7"}},
		{"star middle", []string{"pr-*-amd64"}, false, []string{"pr-1-amd64", "pr--amd64"}, []string{"pr-1-arm64", "pr-1-amd64x"}},
		{"question", []string{"v?"}, false, []string{"v1", "vx"}, []string{"v", "v10"}},
		{"class", []string{"v[0-9].*"}, false, []string{"v1.0", "v9.x"}, []string{"va.0", "v10.0"}},
		{"negated class bang", []string{"[!v]*"}, false, []string{"latest", "1.0"}, []string{"v1"}},
		{"negated class caret", []string{"[^v]*"}, false, []string{"latest"}, []string{"v1"}},
		{"dot is literal", []string{"1.0"}, false, []string{"1.0"}, []string{"1x0"}},
		{"escape", []string{`a\*b`}, false, []string{"a*b"}, []string{"axb"}},
		{"several and blanks", []string{"", "  ", "pr-1", " main "}, false, []string{"pr-1", "main"}, []string{"", " main "}},
		{"none matches nothing", nil, false, nil, []string{"", "latest"}},
		{"regex anchored", []string{"pr-[0-9]+"}, true, []string{"pr-12"}, []string{"pr-12-x", "xpr-12"}},
		{"regex alternation anchored", []string{"a|b"}, true, []string{"a", "b"}, []string{"ab", "xa"}},
		{"regex several", []string{"^v1\\..*$", "rc"}, true, []string{"v1.2", "rc"}, []string{"v2.0", "rc1"}},
		{"regex metachar in glob is literal", []string{"a+b"}, false, []string{"a+b"}, []string{"aab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := CompilePatterns(tt.patterns, tt.regex)
			if err != nil {
				t.Fatalf("CompilePatterns: %v", err)
			}
			for _, s := range tt.match {
				if !m.Match(s) {
					t.Errorf("%q should match %q", tt.patterns, s)
				}
			}
			for _, s := range tt.noMatch {
				if m.Match(s) {
					t.Errorf("%q should not match %q", tt.patterns, s)
				}
			}
		})
	}
}

func TestCompilePatternsInvalid(t *testing.T) {
	tests := []struct {
		patterns []string
		regex    bool
		want     string
	}{
		{[]string{"ok", "pr-["}, false, `invalid glob pattern "pr-[": missing closing ]`},
		{[]string{"[]"}, false, `invalid glob pattern "[]": missing closing ]`},
		{[]string{`pr\`}, false, `invalid glob pattern "pr\\": trailing backslash`},
		{[]string{"[z-a]"}, false, `invalid glob pattern "[z-a]": bad range z-a`},
		{[]string{"pr-("}, true, `invalid regular expression "pr-(": missing closing )`},
		{[]string{"*"}, true, `invalid regular expression "*": missing argument to repetition operator`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := CompilePatterns(tt.patterns, tt.regex)
			if err == nil {
				t.Fatal("want an error")
			}
			if err.Error() != tt.want {
				t.Errorf("got %q, want %q", err.Error(), tt.want)
			}
			var pe *PatternError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *PatternError", err)
			}
		})
	}
}

func TestNilMatcher(t *testing.T) {
	var m *patternMatcher
	if m.Match("x") || matches(nil, "x") || matches(m, "x") {
		t.Error("a nil matcher must match nothing")
	}
}

func FuzzCompilePatterns(f *testing.F) {
	for _, s := range []string{"pr-*", "[a-", `\`, "v[!0-9]?", "(a|b)+", "[]]"} {
		f.Add(s, false, "pr-1")
		f.Add(s, true, "v1")
	}
	f.Fuzz(func(t *testing.T, pattern string, regex bool, tag string) {
		m, err := CompilePatterns([]string{pattern}, regex)
		if err != nil {
			return
		}
		m.Match(tag)
		if !regex && utf8.ValidString(pattern) && !containsMeta(pattern) && (m.Match(pattern) != (strings.TrimSpace(pattern) == pattern && pattern != "")) {
			t.Errorf("literal glob %q must match exactly itself", pattern)
		}
	})
}

func containsMeta(s string) bool {
	for _, c := range s {
		switch c {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}
