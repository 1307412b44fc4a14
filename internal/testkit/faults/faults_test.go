package faults

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRulePicking(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	cases := []struct {
		name string
		rule Rule
		want []int // status of requests 1..8
	}{
		{"skip-2-times-2", Rule{Skip: 2, Times: 2}, []int{200, 200, 503, 503, 200, 200, 200, 200}},
		{"every-3rd", Rule{Every: 3}, []int{200, 200, 503, 200, 200, 503, 200, 200}},
		{"other-method", Rule{Method: http.MethodDelete}, []int{200, 200, 200, 200, 200, 200, 200, 200}},
		{"path", Rule{Path: ListPath(), Times: 1}, []int{503, 200, 200, 200, 200, 200, 200, 200}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.rule.Fault = Fault{Kind: Status, Status: http.StatusServiceUnavailable, RetryAfter: "1"}
			in := New(1, c.rule)
			h := in.Wrap(ok)
			for i, want := range c.want {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/app/tags/list", nil))
				if rec.Code != want {
					t.Fatalf("request %d: status %d, want %d", i+1, rec.Code, want)
				}
				if want == 503 && rec.Header().Get("Retry-After") != "1" {
					t.Fatalf("request %d: no Retry-After", i+1)
				}
			}
			n := 0
			for _, w := range c.want {
				if w == 503 {
					n++
				}
			}
			if in.Count(Status) != n {
				t.Fatalf("recorded %d faults, want %d", in.Count(Status), n)
			}
		})
	}
}
