package dist3test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/backend/httpapi"
)

// FuzzParseLink: any header either parses to a next target without
// whitespace or control characters, or is an error; never a panic, and a
// header that starts with a well-formed next link yields its target.
// (Pattern, duration, repository and output writing already have fuzz
// tests in plan, settings and ci.)
func FuzzParseLink(f *testing.F) {
	for _, s := range []string{
		`</v2/app/tags/list?n=1000&last=b>; rel="next"`,
		`<http://r/v2/a/tags/list?last=x>; rel=next`,
		`<a>; rel="prev", <b>; rel="next"`,
		`<broken; rel="next"`,
		`<x>; rel="next`,
		`<>; rel="next"`,
		`<a b>; rel="next"`,
		`<x>; ;; rel`,
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got, err := httpapi.ParseLink(h)
		if err != nil {
			if got != "" {
				t.Fatalf("ParseLink(%q) = %q with error %v", h, got, err)
			}
			return
		}
		if strings.ContainsAny(got, " \t\r\n\x00") {
			t.Fatalf("ParseLink(%q) = %q: whitespace or NUL in target", h, got)
		}
		if got != "" {
			if _, err := url.Parse(got); err != nil {
				// resolveNext refuses it later; only note it here.
				t.Logf("target %q is not a URL: %v", got, err)
			}
		}
		// Round trip: a well-formed next link to got gives got back.
		if got != "" && !strings.ContainsAny(got, "<>") {
			again, err := httpapi.ParseLink("<" + got + `>; rel="next"`)
			if err != nil || again != got {
				t.Fatalf("round trip of %q: %q, %v", got, again, err)
			}
		}
	})
}
