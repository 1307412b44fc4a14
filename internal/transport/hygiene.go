package transport

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The helpers below are the hygiene every API backend needs around what it
// sends and what it shows: which host may see credentials, and how a URL or
// a server's message may appear in an error.

// IsLoopback reports whether host (host or host:port) is a loopback address
// or localhost, where plain HTTP is acceptable.
func IsLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// SameOrigin reports whether next may receive the credentials meant for
// base: same scheme and host:port.
func SameOrigin(base, next *url.URL) bool {
	return strings.EqualFold(base.Scheme, next.Scheme) && strings.EqualFold(base.Host, next.Host)
}

// NoCrossOriginRedirect is an http.Client CheckRedirect for APIs that never
// redirect elsewhere legitimately: credentials stay where they were meant.
func NoCrossOriginRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	if !SameOrigin(via[0].URL, req.URL) {
		return fmt.Errorf("refusing redirect from %s to another host %s", via[0].URL.Host, req.URL.Host)
	}
	return nil
}

// RedactURL drops user info, query and fragment: errors name the endpoint,
// never credentials.
func RedactURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment = nil, "", ""
	return c.String()
}

// Sanitize makes a server-provided message safe to show: one line, no
// control characters, at most 200 bytes, every secret replaced.
func Sanitize(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// ParseAPIBase parses the base URL of a hosted API (GITHUB_API_URL, the
// Docker Hub API) that will receive credentials: http(s) only, no query or
// user info, and plain HTTP only to loopback or when insecure is set.
// what names the API in the errors ("github backend: API URL").
func ParseAPIBase(raw, what string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s %q is not an http(s) URL", what, raw)
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	if u.Scheme == "http" && !IsLoopback(u.Host) && !insecure {
		return nil, fmt.Errorf("%s: refusing to send credentials over plain HTTP to %s (set `insecure` to allow)", what, u.Host)
	}
	return u, nil
}

// ErrBodyTooLarge is returned by ReadLimited when a body exceeds its bound.
var ErrBodyTooLarge = errors.New("response body too large")

// ReadLimited reads all of r but at most n bytes; a longer body is an error
// matching ErrBodyTooLarge, so a hostile server cannot exhaust memory.
func ReadLimited(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, fmt.Errorf("%w (more than %d bytes)", ErrBodyTooLarge, n)
	}
	return b, nil
}

// maxRedirects matches net/http's own limit.
const maxRedirects = 10

// Client returns an http.Client over rt (usually a Transport, or an
// authenticating transport wrapping one) whose redirects never carry
// credentials to another host nor downgrade https to http.
func Client(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: rt, CheckRedirect: CheckRedirect}
}

// CheckRedirect is an http.Client CheckRedirect: registries legitimately
// redirect blob downloads to a storage host, so a redirect to another host
// is followed but without Authorization or cookies (net/http already drops
// them across domains, but keeps them for a subdomain; we drop them for any
// other host). A redirect from https to http is refused.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	first := via[0]
	if first.URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refusing redirect from https to %s (%s)", req.URL.Scheme, req.URL.Redacted())
	}
	if !strings.EqualFold(req.URL.Host, first.URL.Host) {
		req.Header.Del("Authorization")
		req.Header.Del("Cookie")
		req.Header.Del("Proxy-Authorization")
	}
	return nil
}
