package httpapi

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadLink is wrapped by every Link header parse failure.
var ErrBadLink = errors.New("malformed Link header")

// maxLinkLen bounds what we parse of a Link header.
const maxLinkLen = 8 << 10

// ParseLink returns the target of the rel="next" link in an RFC 8288 Link
// header value ("" when there is none). Several links may be given, comma
// separated. A header that is present but cannot be read is an error, so a
// broken registry stops pagination loudly instead of silently truncating the
// tag list (a missing kept tag could otherwise let its digest be deleted).
func ParseLink(header string) (string, error) {
	if strings.TrimSpace(header) == "" {
		return "", nil
	}
	if len(header) > maxLinkLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrBadLink, maxLinkLen)
	}
	rest := header
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return "", nil
		}
		if rest[0] != '<' {
			return "", fmt.Errorf("%w: expected '<' in %q", ErrBadLink, Clip(header))
		}
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return "", fmt.Errorf("%w: no closing '>' in %q", ErrBadLink, Clip(header))
		}
		target := rest[1:end]
		rest = rest[end+1:]
		// Parameters up to the next link: ;name=value or ;name="value".
		next := false
		for {
			rest = strings.TrimLeft(rest, " \t")
			if rest == "" || rest[0] == ',' {
				break
			}
			if rest[0] != ';' {
				return "", fmt.Errorf("%w: expected ';' or ',' in %q", ErrBadLink, Clip(header))
			}
			rest = strings.TrimLeft(rest[1:], " \t")
			eq := strings.IndexAny(rest, "=;,")
			var name, value string
			if eq < 0 || rest[eq] != '=' {
				// A parameter without a value.
				if eq < 0 {
					eq = len(rest)
				}
				name, rest = strings.TrimSpace(rest[:eq]), rest[eq:]
			} else {
				name = strings.TrimSpace(rest[:eq])
				rest = strings.TrimLeft(rest[eq+1:], " \t")
				if strings.HasPrefix(rest, `"`) {
					q := strings.IndexByte(rest[1:], '"')
					if q < 0 {
						return "", fmt.Errorf("%w: unterminated quote in %q", ErrBadLink, Clip(header))
					}
					value, rest = rest[1:1+q], rest[2+q:]
				} else {
					e := strings.IndexAny(rest, ";,")
					if e < 0 {
						e = len(rest)
					}
					value, rest = strings.TrimSpace(rest[:e]), rest[e:]
				}
			}
			if name == "" {
				return "", fmt.Errorf("%w: empty parameter name in %q", ErrBadLink, Clip(header))
			}
			if strings.EqualFold(name, "rel") {
				for _, r := range strings.Fields(value) {
					if strings.EqualFold(r, "next") {
						next = true
					}
				}
			}
		}
		if next {
			if target == "" || strings.ContainsAny(target, " \t\r\n\x00") {
				return "", fmt.Errorf("%w: bad next target in %q", ErrBadLink, Clip(header))
			}
			return target, nil
		}
	}
}

// Clip shortens untrusted text for an error message.
func Clip(s string) string {
	const n = 120
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
