package faults

import (
	"net/http"
	"strconv"
	"strings"
)

// PagedBy wraps a handler so that a tag list is answered in pages of at
// most max tags, whatever n the client asks for: registries whose page is
// smaller than the 1,000 regsweep asks for answer that way. Distribution 3
// then pages with Link headers at a few hundred tags instead of thousands;
// 2.8 ignores n and still answers everything at once.
func PagedBy(max int) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				q := r.URL.Query()
				if n, err := strconv.Atoi(q.Get("n")); err == nil && n > max {
					q.Set("n", strconv.Itoa(max))
					r = r.Clone(r.Context())
					r.URL.RawQuery = q.Encode()
				}
			}
			h.ServeHTTP(w, r)
		})
	}
}
