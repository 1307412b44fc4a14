package httpapi

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParseLink(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"", "", false},
		{`</v2/app/tags/list?last=b&n=2>; rel="next"`, "/v2/app/tags/list?last=b&n=2", false},
		{`</v2/a/tags/list?n=1&last=x>; rel=next`, "/v2/a/tags/list?n=1&last=x", false},
		{`<https://r.example/v2/a/tags/list?last=x>;rel="next"`, "https://r.example/v2/a/tags/list?last=x", false},
		{`</prev>; rel="prev", </next>; rel="next"`, "/next", false},
		{`</x>; rel="prev next"; title="a;b,c"`, "/x", false},
		{`</x>; rel="prev"`, "", false},
		{`</x>; crossorigin; rel=next`, "/x", false},
		// GitHub's REST API: absolute links, next among first/prev/last.
		{`<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"`, "https://api.github.com/x?page=2", false},
		{`<https://api.github.com/x?page=1>; rel="first", <https://api.github.com/x?page=3>; rel="prev"`, "", false},
		{`/v2/a/tags/list; rel="next"`, "", true},
		{`</v2/a/tags/list; rel="next"`, "", true},
		{`</x>; rel="next`, "", true},
		{`</x> rel="next"`, "", true},
		{`<>; rel="next"`, "", true},
		{`<a b>; rel="next"`, "", true},
		{`</x>; =next`, "", true},
		{"<" + strings.Repeat("a", maxLinkLen) + `>; rel="next"`, "", true},
	}
	for _, tc := range tests {
		got, err := ParseLink(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseLink(%q) = %q, %v; want %q, error %v", Clip(tc.in), got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBadLink) {
			t.Errorf("ParseLink(%q) error %v does not wrap ErrBadLink", Clip(tc.in), err)
		}
	}
}

func FuzzParseLink(f *testing.F) {
	for _, s := range []string{
		`</v2/app/tags/list?last=b&n=2>; rel="next"`,
		`</a>; rel="prev", </b>; rel=next`,
		`<https://evil.example/x>; rel="next"`,
		`<`, `<>;`, `</x>; rel="`, `,,,`, `</x>;;;rel=next`,
	} {
		f.Add(s)
	}
	page, _ := url.Parse("https://registry.example/v2/app/tags/list?n=1000")
	f.Fuzz(func(t *testing.T, s string) {
		next, err := ParseLink(s)
		if err != nil {
			if next != "" {
				t.Fatalf("error with a target: %q", next)
			}
			return
		}
		if next == "" {
			return
		}
		if strings.ContainsAny(next, " \t\r\n\x00") {
			t.Fatalf("target with whitespace: %q", next)
		}
		u, err := Resolve(page, next)
		if err != nil {
			return
		}
		// Whatever is accepted stays on the registry's host, without credentials.
		if u.Host != page.Host || u.User != nil {
			t.Fatalf("Resolve(%q) = %s leaves the registry", next, u.Redacted())
		}
	})
}

func TestResolve(t *testing.T) {
	page, _ := url.Parse("https://registry.example:5000/v2/app/tags/list?n=1000")
	tests := []struct {
		target  string
		want    string
		wantErr bool
	}{
		{"/v2/app/tags/list?last=x", "https://registry.example:5000/v2/app/tags/list?last=x", false},
		{"?last=x", "https://registry.example:5000/v2/app/tags/list?last=x", false},
		{"https://registry.example:5000/v2/app/tags/list?last=y", "https://registry.example:5000/v2/app/tags/list?last=y", false},
		{"https://user:pw@registry.example:5000/v2/x", "https://registry.example:5000/v2/x", false},
		{"https://evil.example/v2/app/tags/list", "", true},
		{"//evil.example/v2/app", "", true},
		{"https://registry.example:6000/v2/app", "", true},
		{"file:///etc/passwd", "", true},
		{"%zz", "", true},
	}
	for _, tc := range tests {
		u, err := Resolve(page, tc.target)
		if (err != nil) != tc.wantErr {
			t.Errorf("Resolve(%q) err = %v", tc.target, err)
			continue
		}
		if err == nil && u.String() != tc.want {
			t.Errorf("Resolve(%q) = %s, want %s", tc.target, u, tc.want)
		}
	}
}
