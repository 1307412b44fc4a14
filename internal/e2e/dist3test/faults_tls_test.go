package dist3test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

// TestTLSVerifiedByDefault: a registry with a self-signed certificate fails
// with a clear sentence unless `insecure` is set, and works with it.
func TestTLSVerifiedByDefault(t *testing.T) {
	h := hostile("pr-1", "latest")
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "https://")

	t.Run("non-loopback-name-rejected", func(t *testing.T) {
		// registry.example.test resolves to the TLS server through the
		// base transport's dialer: a name that is not loopback-looking.
		base := http.DefaultTransport.(*http.Transport).Clone()
		base.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		res := e2e.RunWith(t, e2e.Options{Base: base}, withCreds(map[string]string{"repository": "registry.example.test/app", "tags": "pr-*"}))
		noSecret(t, res)
		checkTLSFailure(t, res)
	})
	t.Run("loopback-without-insecure-rejected", func(t *testing.T) {
		res := e2e.RunWith(t, e2e.Options{}, withCreds(map[string]string{"repository": addr + "/app", "tags": "pr-*"}))
		noSecret(t, res)
		checkTLSFailure(t, res)
	})
	if d := h.Deletes(); len(d) != 0 {
		t.Fatalf("deleted %v over unverified TLS", d)
	}
	t.Run("insecure-works", func(t *testing.T) {
		res := e2e.RunWith(t, e2e.Options{}, withCreds(map[string]string{"repository": addr + "/app", "tags": "pr-*", "insecure": "true"}))
		noSecret(t, res)
		if res.Code != 0 {
			t.Fatalf("exit %d with insecure\n%s", res.Code, res.Log)
		}
		if d := h.Deletes(); len(d) != 1 {
			t.Fatalf("DELETEs = %v, want pr-1's digest", d)
		}
	})
}

func checkTLSFailure(t *testing.T, res e2e.Result) {
	t.Helper()
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Log)
	}
	errs := strings.Join(errorLines(res.Log), "\n")
	if !strings.Contains(strings.ToLower(errs), "certificate") {
		t.Errorf("the error does not say the certificate is the problem:\n%s", res.Log)
	}
	if len(errorLines(res.Log)) != 1 {
		t.Errorf("want one error line, got:\n%s", errs)
	}
}
