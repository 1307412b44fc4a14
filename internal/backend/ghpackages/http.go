package ghpackages

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/transport"
)

// Bounds on what is read from the network: a hostile or broken server must
// not make regsweep read without end.
const (
	maxPageBytes     = 16 << 20 // one page of 100 versions is ~50 KiB
	maxManifestBytes = 4 << 20  // the OCI spec's recommended manifest limit
	maxErrorBytes    = 64 << 10
	maxPages         = 10000 // 1,000,000 versions
)

// readBody reads at most limit bytes and fails if there is more.
func readBody(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("response larger than %d bytes", limit)
	}
	return b, nil
}

// httpError turns a failed response into a *backend.HTTPError carrying
// GitHub's (sanitized) message.
func httpError(resp *http.Response, secrets ...string) *backend.HTTPError {
	e := &backend.HTTPError{Method: resp.Request.Method, URL: transport.RedactURL(resp.Request.URL), StatusCode: resp.StatusCode}
	b, _ := readBody(resp.Body, maxErrorBytes)
	var gh struct {
		Message string `json:"message"`
		Errors  []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &gh) == nil {
		e.Message = transport.Sanitize(gh.Message, secrets...)
		if len(gh.Errors) > 0 {
			e.Code = transport.Sanitize(gh.Errors[0].Code, secrets...)
			if e.Message == "" {
				e.Message = transport.Sanitize(gh.Errors[0].Message, secrets...)
			}
		}
	}
	return e
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

// nextLink returns the rel="next" target of a Link header, or "".
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(part, ";")
		if !ok {
			continue
		}
		target = strings.TrimSpace(target)
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "rel") {
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
					if rel == "next" {
						return target[1 : len(target)-1]
					}
				}
			}
		}
	}
	return ""
}
