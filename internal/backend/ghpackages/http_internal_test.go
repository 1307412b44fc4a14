package ghpackages

import (
	"net/url"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/transport"
)

func TestParseChallenge(t *testing.T) {
	s, p := parseChallenge(`Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"`)
	if s != "Bearer" || p["realm"] != "https://ghcr.io/token" || p["service"] != "ghcr.io" || p["scope"] != "repository:a/b:pull" {
		t.Errorf("got %q %v", s, p)
	}
}

func FuzzParseChallenge(f *testing.F) {
	f.Add(`Bearer realm="https://ghcr.io/token",service="ghcr.io"`)
	f.Add(`Basic realm=x`)
	f.Fuzz(func(t *testing.T, h string) { parseChallenge(h) })
}

func TestSameOrigin(t *testing.T) {
	base, _ := url.Parse("https://api.github.com")
	for in, want := range map[string]bool{
		"https://api.github.com/x":  true,
		"https://API.github.com/x":  true,
		"http://api.github.com/x":   false,
		"https://evil.com/x":        false,
		"https://api.github.com:8/": false,
	} {
		u, _ := url.Parse(in)
		if got := transport.SameOrigin(base, u); got != want {
			t.Errorf("transport.SameOrigin(%s) = %v", in, got)
		}
	}
}

func TestSanitize(t *testing.T) {
	got := transport.Sanitize("bad\ntoken ghp_x\r\n"+strings.Repeat("a", 300), "ghp_x")
	if strings.Contains(got, "ghp_x") || strings.ContainsAny(got, "\r\n") || len(got) > 210 {
		t.Errorf("sanitize = %q", got)
	}
}
