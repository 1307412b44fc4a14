package faults

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// TokenPath is where BearerAuth serves its token endpoint.
const TokenPath = "/token"

// BearerAuth puts Docker-style bearer token authentication in front of a
// registry: /v2/ requests without a valid token get 401 with a
// WWW-Authenticate: Bearer challenge whose realm is this same server's
// TokenPath; the token endpoint checks basic credentials. A token expires
// after ExpireAfter authorized requests (0: never), so a run sees a 401
// mid-way and must fetch a new token.
type BearerAuth struct {
	Username, Password string
	// ExpireAfter is how many requests one token authorizes.
	ExpireAfter int
	// RejectAll refuses every credential (wrong password, revoked token).
	RejectAll bool

	mu      sync.Mutex
	tokens  map[string]int // token -> requests authorized so far
	issued  int
	expired int
	// basicSeen counts token requests that carried credentials.
	basicSeen int
}

// SetRejectAll starts (or stops) refusing every credential and token.
func (a *BearerAuth) SetRejectAll(v bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.RejectAll = v
}

// Stats says how many tokens were issued and how many expired.
func (a *BearerAuth) Stats() (issued, expired int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.issued, a.expired
}

// Wrap returns next behind the authentication.
func (a *BearerAuth) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == TokenPath {
			a.token(w, r)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/v2/") && r.URL.Path != "/v2" {
			next.ServeHTTP(w, r)
			return
		}
		if !a.authorized(r) {
			scope := ""
			if name, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/"); ok {
				scope = ",scope=\"repository:" + name + ":pull,push,delete\""
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+TokenPath+`",service="faults.test"`+scope)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *BearerAuth) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n, ok := a.tokens[tok]
	if !ok || a.RejectAll {
		return false
	}
	if a.ExpireAfter > 0 && n >= a.ExpireAfter {
		if n == a.ExpireAfter {
			a.expired++
			a.tokens[tok] = n + 1 // count the expiry once
		}
		return false
	}
	a.tokens[tok] = n + 1
	return true
}

func (a *BearerAuth) token(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	a.mu.Lock()
	if ok {
		a.basicSeen++
	}
	good := ok && !a.RejectAll &&
		subtle.ConstantTimeCompare([]byte(u), []byte(a.Username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(a.Password)) == 1
	var tok string
	if good {
		var b [16]byte
		_, _ = rand.Read(b[:])
		tok = hex.EncodeToString(b[:])
		if a.tokens == nil {
			a.tokens = map[string]int{}
		}
		a.tokens[tok] = 0
		a.issued++
	}
	a.mu.Unlock()
	if !good {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
}
