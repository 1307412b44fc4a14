package report

import (
	"fmt"
	"strings"
	"time"
)

// Untrusted text made safe for markdown: escaping, code spans, shortening.

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// safeCode reports whether s has only characters of tags, digests and
// repository references, none of which can form markup in a code span.
func safeCode(s string) bool {
	if s == "" || len(s) > 300 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("._:@/+-", r):
		default:
			return false
		}
	}
	return true
}

// code renders a tag, digest or repository as a code span when it is made
// only of characters that cannot form markup; anything else is escaped text.
func code(s string) string {
	if safeCode(s) {
		return "`" + s + "`"
	}
	return esc(s)
}

// short renders a digest shortened: `sha256:0123456789ab`….
func short(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return code(d)
	}
	return code(algo+":"+hex[:12]) + "…"
}

// esc makes any string inert in a markdown table cell or paragraph: HTML
// and markdown punctuation become entities, line breaks become spaces,
// other control characters are dropped.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '|', '`', '*', '_', '[', ']', '\\', '~', '@', '#', '!', '$':
			fmt.Fprintf(&b, "&#%d;", r)
		case '\n', '\r', '\t', '\u2028', '\u2029':
			b.WriteByte(' ')
		default:
			if r < 0x20 || r == 0x7f {
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
