package ghpackages

import (
	"net/http"
	"strings"

	"github.com/regsweep/regsweep/internal/backend/httpapi"
)

// Bounds on what is read from the network: a hostile or broken server must
// not make regsweep read without end.
const (
	maxPageBytes     = 16 << 20 // one page of 100 versions is ~50 KiB
	maxManifestBytes = 4 << 20  // the OCI spec's recommended manifest limit
	maxPages         = 10000    // 1,000,000 versions
)

// api is how GitHub's answers are read: the token never appears in a
// message.
func api(token string) httpapi.API {
	return httpapi.API{Secrets: func() []string { return []string{token} }}
}

// rateLimited reports whether a 403/429 is GitHub's rate limit rather than
// a permission problem (GitHub answers both with 403).
func rateLimited(resp *http.Response, msg string) bool {
	if resp.StatusCode == http.StatusTooManyRequests {
		return true
	}
	return resp.Header.Get("Retry-After") != "" ||
		resp.Header.Get("X-Ratelimit-Remaining") == "0" ||
		strings.Contains(strings.ToLower(msg), "rate limit")
}
