package settings

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/regsweep/regsweep/internal/backend/family"
)

// SplitList splits a list setting into trimmed, non-empty entries: one per
// line, and with commas also separating entries when commas is true. When
// commas is false (regular expressions), only a comma outside (), [] and {}
// separates entries: `a{1,3}` and `[,;]` keep theirs, while a Woodpecker or
// Drone YAML list, which arrives joined by commas, becomes one expression
// per item. A tag never contains a comma, so a comma outside brackets could
// never be part of a useful expression.
func SplitList(s string, commas bool) []string {
	var out []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		var parts []string
		if commas {
			parts = strings.Split(line, ",")
		} else {
			parts = splitRegexCommas(line)
		}
		for _, f := range parts {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

// splitRegexCommas splits one line of regular expressions at the commas
// outside groups, classes and repetition braces (escapes honoured).
func splitRegexCommas(line string) []string {
	var parts []string
	depth, start := 0, 0
	inClass, classStart := false, 0
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\':
			i++ // the escaped byte is literal, whatever it is
		case inClass:
			// "]" right after "[" or "[^" is a literal, not the end.
			if c == ']' && i > classStart {
				inClass = false
			}
		case c == '[':
			inClass, classStart = true, i+1
			if i+1 < len(line) && line[i+1] == '^' {
				classStart++
			}
		case c == '(' || c == '{':
			depth++
		case (c == ')' || c == '}') && depth > 0:
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, line[start:i])
			start = i + 1
		}
	}
	return append(parts, line[start:])
}

// parseBool accepts true/false, yes/no, on/off and 1/0 in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (use true or false)", s)
}

// parseInt reads a whole number within [lo, hi].
func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number (use a number from %d to %d)", s, lo, hi)
	}
	switch {
	case n < 0 && lo >= 0:
		return 0, fmt.Errorf("%d is negative (use a number from %d to %d)", n, lo, hi)
	case n < int64(lo) || n > int64(hi):
		return 0, fmt.Errorf("%d is out of range (use a number from %d to %d)", n, lo, hi)
	}
	return int(n), nil
}

// ParseDuration reads a non-negative duration: Go's units (ns, us, ms, s, m,
// h) plus d (24h) and w (7d), combinable and fractional ("1d12h", "1.5d").
// There is no year or month unit: their length varies, so they are refused
// with a hint to use days.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "+")
	bad := func(why string) error {
		return fmt.Errorf("%q is not a duration: %s (use a number and a unit: 90m, 36h, 30d, 2w)", orig, why)
	}
	switch {
	case s == "":
		return 0, bad("it is empty")
	case s == "0":
		return 0, nil
	case strings.HasPrefix(s, "-"):
		return 0, fmt.Errorf("%q is negative (use a positive duration such as 30d, or leave it empty)", orig)
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && (s[i] == '.' || (s[i] >= '0' && s[i] <= '9')) {
			i++
		}
		num := s[:i]
		if num == "" {
			return 0, bad("expected a number before " + strconv.Quote(s))
		}
		j := i
		for j < len(s) && !(s[j] == '.' || (s[j] >= '0' && s[j] <= '9')) {
			j++
		}
		unit := s[i:j]
		s = s[j:]
		mult := time.Duration(1)
		switch unit {
		case "":
			return 0, bad(num + " has no unit")
		case "y", "yr", "year", "years", "mo", "month", "months":
			return 0, fmt.Errorf("%q is not a duration: years and months vary in length (use days or weeks: 365d, 4w)", orig)
		case "d":
			unit, mult = "h", 24
		case "w":
			unit, mult = "h", 24*7
		case "ns", "us", "µs", "μs", "ms", "s", "m", "h":
		default:
			return 0, bad("unknown unit " + strconv.Quote(unit))
		}
		d, err := time.ParseDuration(num + unit)
		if err != nil {
			if strings.Count(num, ".") > 1 || num == "." {
				return 0, bad(strconv.Quote(num) + " is not a number")
			}
			// A well-formed number Go refuses is one that overflows.
			return 0, fmt.Errorf("%q is too long (at most about 290 years)", orig)
		}
		if d > math.MaxInt64/mult {
			return 0, fmt.Errorf("%q is too long (at most about 290 years)", orig)
		}
		d *= mult
		if total > math.MaxInt64-d {
			return 0, fmt.Errorf("%q is too long (at most about 290 years)", orig)
		}
		total += d
	}
	return total, nil
}

// dockerHub is how regsweep writes Docker Hub's host: go-containerregistry's
// default registry, as the backend families name it.
func dockerHub() string { return family.CanonicalHost(name.DefaultRegistry) }

// ParseRepository validates one repository and returns it normalized:
// "host[:port]/path"; no host means Docker Hub ("alpine" ->
// "docker.io/library/alpine", "ns/app" -> "docker.io/ns/app"). A trailing
// "/*" (every repository below a path or a whole registry) is kept.
func ParseRepository(s string) (string, error) {
	s = strings.TrimSpace(s)
	hint := "use host[:port]/path, e.g. registry.example.com/team/app"
	if s == "" {
		return "", fmt.Errorf("an empty repository (%s)", hint)
	}
	// Every message quotes the repository with any credentials in it
	// masked: the error reaches the log before anything could mask them.
	orig, hasCreds := maskCredentials(s)
	if hasCreds {
		return "", fmt.Errorf("%q is not a repository: credentials do not belong in it; drop them and set username and password (the password from a secret) (%s)", orig, hint)
	}
	if strings.Contains(s, "://") {
		return "", fmt.Errorf("%q is not a repository: drop the scheme (%s)", orig, hint)
	}
	if strings.ContainsRune(s, '@') {
		return "", fmt.Errorf("%q is not a repository: drop the digest (%s; tags are chosen with tags)", orig, hint)
	}
	if last := s[strings.LastIndex(s, "/")+1:]; strings.Contains(last, ":") && strings.Contains(s, "/") {
		return "", fmt.Errorf("%q is not a repository: drop the tag (%s; tags are chosen with tags)", orig, hint)
	}
	if !strings.Contains(s, "/") {
		if name, tag, ok := strings.Cut(s, ":"); ok && !isPort(tag) {
			// "app:pr-1": a port is digits, so this is an image and its tag.
			return "", fmt.Errorf("%q is not a repository: %q is a tag, and tags are chosen with tags (set repository to %s with its registry host, e.g. registry.example.com/team/%s, and tags to %s)", orig, tag, name, name, tag)
		}
	}
	// Host names are case-insensitive: "LOCALHOST:5000" is loopback and
	// "Registry.Example.com" is the same registry as its lowercase form.
	if first, rest, ok := strings.Cut(s, "/"); ok && looksLikeHost(first) {
		s = strings.ToLower(first) + "/" + rest
	}
	if rest, ok := strings.CutSuffix(s, "/*"); ok {
		if !strings.Contains(rest, "/") && looksLikeHost(rest) {
			reg, err := name.NewRegistry(rest)
			if err != nil {
				return "", fmt.Errorf("%q is not a registry: %w (use host[:port]/*)", orig, err)
			}
			return normalizeRegistry(reg.RegistryStr()) + "/*", nil
		}
		r, err := ParseRepository(rest)
		if err != nil {
			return "", err
		}
		if ns, ok := strings.CutPrefix(r, dockerHub()+"/library/"); ok && !strings.Contains(rest, "library/") {
			// "ns/*" or "docker.io/ns/*": a Docker Hub namespace, not library/ns.
			return dockerHub() + "/" + ns + "/*", nil
		}
		return r + "/*", nil
	}
	if strings.Contains(s, "*") {
		return "", fmt.Errorf("%q is not a repository: a wildcard is only allowed as a trailing /* (%s)", orig, hint)
	}
	if !strings.Contains(s, "/") && looksLikeHost(s) {
		return "", fmt.Errorf("%q names a registry, not a repository: add the path (%s), or %s/* for every repository", orig, hint, s)
	}
	repo, err := name.NewRepository(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a repository: %s (%s)", orig, repoProblem(err), hint)
	}
	// go-containerregistry lets "a//b" and "a/" through; the distribution
	// grammar does not.
	for _, c := range strings.Split(repo.RepositoryStr(), "/") {
		if !pathComponent.MatchString(c) {
			return "", fmt.Errorf("%q is not a repository: path part %q is not lowercase letters and digits joined by . _ or - (%s)", orig, c, hint)
		}
	}
	return normalizeRegistry(repo.RegistryStr()) + "/" + repo.RepositoryStr(), nil
}

// pathComponent is one path component in the distribution reference grammar.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// looksLikeHost tells a registry host from a Docker Hub namespace, the way
// Docker does: a dot, a port or "localhost".
func looksLikeHost(s string) bool {
	return strings.ContainsAny(s, ".:") || strings.EqualFold(s, "localhost")
}

// isPort reports whether s is a port number (digits only).
func isPort(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// maskCredentials returns s with any user information before the host
// ("user:secret@host/app", "https://token@host/app") replaced by "***", and
// whether there was any. A digest's "@" comes after the path, never before
// the first "/".
func maskCredentials(s string) (string, bool) {
	scheme, rest := "", s
	if i := strings.Index(s, "://"); i >= 0 {
		scheme, rest = s[:i+3], s[i+3:]
	}
	host := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host = rest[:i]
	}
	at := strings.LastIndexByte(host, '@')
	if at < 0 {
		return s, false
	}
	return scheme + "***" + rest[at:], true
}

// normalizeRegistry writes a registry host the way regsweep does:
// lowercase, and Docker Hub's aliases as docker.io.
func normalizeRegistry(r string) string {
	return family.CanonicalHost(r)
}

// repoProblem shortens go-containerregistry's message.
func repoProblem(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "abcdefghijklmnopqrstuvwxyz") || strings.Contains(msg, "lowercase") {
		return "use lowercase letters, digits and . _ - / only"
	}
	return msg
}

// RepositoryHost returns the registry host of a normalized repository.
func RepositoryHost(repo string) string {
	host, _, _ := strings.Cut(repo, "/")
	return host
}
