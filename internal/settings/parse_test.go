package settings

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"0", 0, ""},
		{"90m", 90 * time.Minute, ""},
		{"36h", 36 * time.Hour, ""},
		{"30d", 30 * 24 * time.Hour, ""},
		{"2w", 14 * 24 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"1.5d", 36 * time.Hour, ""},
		{" 2W ", 14 * 24 * time.Hour, ""},
		{"+5s", 5 * time.Second, ""},
		{"500ms", 500 * time.Millisecond, ""},
		{"30", 0, `"30" is not a duration: 30 has no unit (use a number and a unit: 90m, 36h, 30d, 2w)`},
		{"d", 0, `"d" is not a duration: expected a number before "d" (use a number and a unit: 90m, 36h, 30d, 2w)`},
		{"1y", 0, `"1y" is not a duration: years and months vary in length (use days or weeks: 365d, 4w)`},
		{"6mo", 0, `"6mo" is not a duration: years and months vary in length (use days or weeks: 365d, 4w)`},
		{"-1h", 0, `"-1h" is negative (use a positive duration such as 30d, or leave it empty)`},
		{"1..5d", 0, `"1..5d" is not a duration: "1..5" is not a number (use a number and a unit: 90m, 36h, 30d, 2w)`},
		{"1 d", 0, `"1 d" is not a duration: unknown unit " d" (use a number and a unit: 90m, 36h, 30d, 2w)`},
		{"99999999w", 0, `"99999999w" is too long (at most about 290 years)`},
		{"", 0, `"" is not a duration: it is empty (use a number and a unit: 90m, 36h, 30d, 2w)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30d", "2w", "1d12h", "1.5h", "-3s", "9223372036854775807ns", "1y", ".5d", "5.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseDuration(s)
		if err == nil && got < 0 {
			t.Fatalf("%q -> negative %v", s, got)
		}
		if err != nil && !strings.Contains(err.Error(), "(") && !strings.Contains(err.Error(), "too long") {
			t.Fatalf("%q: error gives no hint: %v", s, err)
		}
		// Wherever Go's parser accepts a non-negative duration, so do we, alike.
		if want, gerr := time.ParseDuration(s); gerr == nil && want >= 0 && !strings.HasPrefix(s, "-") {
			if err != nil || got != want {
				t.Fatalf("%q: got %v, %v; time.ParseDuration says %v", s, got, err, want)
			}
		}
		// Days are 24 hours.
		if err == nil && strings.HasSuffix(s, "h") && !strings.ContainsAny(s, "dDwW") {
			if d, derr := ParseDuration(strings.TrimSuffix(s, "h") + "d"); derr == nil && got < time.Duration(1<<62)/24 && d != got*24 {
				// Only compare when s is a single token (no other units inside).
				if !strings.ContainsAny(strings.TrimSuffix(s, "h"), "abcdefghijklmnopqrstuvwxyzµμ") {
					t.Fatalf("%q d = %v, want %v", s, d, got*24)
				}
			}
		}
	})
}

func TestParseRepository(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alpine", "docker.io/library/alpine"},
		{"myorg/tool", "docker.io/myorg/tool"},
		{"docker.io/app", "docker.io/library/app"},
		{"index.docker.io/org/app", "docker.io/org/app"},
		{"localhost:5000/app", "localhost:5000/app"},
		{"127.0.0.1:5000/a/b/c", "127.0.0.1:5000/a/b/c"},
		{"registry.gitlab.com/group/sub/project", "registry.gitlab.com/group/sub/project"},
		{"ghcr.io/org/*", "ghcr.io/org/*"},
		{"registry.example.com/*", "registry.example.com/*"},
		{"localhost/*", "localhost/*"},
		{"myns/*", "docker.io/myns/*"},
		{"docker.io/myns/*", "docker.io/myns/*"},
		{"docker.io/library/*", "docker.io/library/*"},
		{"  ghcr.io/o/app  ", "ghcr.io/o/app"},
		{"LOCALHOST:5000/app", "localhost:5000/app"},
		{"LocalHost/app", "localhost/app"},
		{"Registry.Example.COM/team/app", "registry.example.com/team/app"},
		{"Docker.IO/ns/app", "docker.io/ns/app"},
		{"GHCR.io/o/*", "ghcr.io/o/*"},
		{"LOCALHOST:5000/*", "localhost:5000/*"},
	}
	for _, tt := range tests {
		got, err := ParseRepository(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRepository(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "Foo/Bar", "a//b", "x/", "ghcr.io/o/app:tag", "ghcr.io/o/app@sha256:00", "*", "host.com", "ghcr.io/*/x", "http://h/x", "h.io/a b", "app:pr-1", "u:p@h.io/a", "u@h.io/a/*"} {
		if got, err := ParseRepository(bad); err == nil {
			t.Errorf("ParseRepository(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzParseRepository(f *testing.F) {
	for _, s := range []string{"alpine", "ghcr.io/o/app", "localhost:5000/a/*", "a//b", "ns/*", "h:1/x:y", "x@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseRepository(s)
		if err != nil {
			if !utf8.ValidString(err.Error()) && utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 in error for %q", s)
			}
			return
		}
		// Normalized output parses to itself, has a host, no blanks, no tag.
		again, err := ParseRepository(got)
		if err != nil || again != got {
			t.Fatalf("%q -> %q -> %q, %v", s, got, again, err)
		}
		host, path, ok := strings.Cut(got, "/")
		if !ok || host == "" || path == "" || strings.ContainsAny(got, " \t\n@") {
			t.Fatalf("%q -> %q is not host/path", s, got)
		}
		if strings.Contains(got, "*") && !strings.HasSuffix(got, "/*") {
			t.Fatalf("%q -> %q has a wildcard inside", s, got)
		}
	})
}

func TestSplitList(t *testing.T) {
	tests := []struct {
		in     string
		commas bool
		want   []string
	}{
		{"pr-1\npr-2", true, []string{"pr-1", "pr-2"}},
		{"pr-1, pr-2,,\n\n pr-3 \r\n", true, []string{"pr-1", "pr-2", "pr-3"}},
		{"a{1,3}\nb", false, []string{"a{1,3}", "b"}},
		// A Woodpecker/Drone YAML list under use-regex arrives comma-joined.
		{"^pr-[0-9]+$,^rc-.*$", false, []string{"^pr-[0-9]+$", "^rc-.*$"}},
		{"v[0-9]{1,3},(a|b,c),[,;x],x\\,y,[]a,]", false, []string{"v[0-9]{1,3}", "(a|b,c)", "[,;x]", "x\\,y", "[]a,]"}},
		{"[^],]x,y", false, []string{"[^],]x", "y"}},
		{" \n , ", true, nil},
	}
	for _, tt := range tests {
		got := SplitList(tt.in, tt.commas)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("SplitList(%q, %v) = %q, want %q", tt.in, tt.commas, got, tt.want)
		}
	}
}

func FuzzSplitList(f *testing.F) {
	f.Add("a,b\nc", true)
	f.Add(" x \r\n,y", false)
	f.Fuzz(func(t *testing.T, s string, commas bool) {
		got := SplitList(s, commas)
		for _, e := range got {
			if e == "" || e != strings.TrimSpace(e) || strings.ContainsAny(e, "\r\n") || (commas && strings.Contains(e, ",")) {
				t.Fatalf("SplitList(%q, %v) entry %q", s, commas, e)
			}
			if !strings.Contains(s, e) {
				t.Fatalf("entry %q not from the input %q", e, s)
			}
		}
		// Splitting the joined entries again gives the same entries.
		sep := "\n"
		again := SplitList(strings.Join(got, sep), commas)
		if strings.Join(again, "\x00") != strings.Join(got, "\x00") {
			t.Fatalf("not stable: %q -> %q", got, again)
		}
	})
}
