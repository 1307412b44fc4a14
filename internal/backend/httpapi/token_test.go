package httpapi

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestToken: a token service's answer gives its token under either name;
// an answer without one, or not JSON, or too long, is an error.
func TestToken(t *testing.T) {
	tests := []struct {
		body    string
		want    string
		wantErr string
	}{
		{`{"token":"t1"}`, "t1", ""},
		{`{"access_token":"a1"}`, "a1", ""},
		{`{"token":"t1","access_token":"t1","expires_in":300}`, "t1", ""},
		{`{"expires_in":300}`, "", "no token in the answer"},
		{`<html>`, "", "decode the answer"},
		{`{"token":"` + strings.Repeat("x", MaxErrorBody) + `"}`, "", "GET https://auth.example/token: "},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, "https://auth.example/token?scope=x", nil)
		resp := &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(tt.body)), Request: req}
		got, err := API{}.Token(resp)
		if got != tt.want || (tt.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Token(%.40s) = %q, %v; want %q, error saying %q", tt.body, got, err, tt.want, tt.wantErr)
		}
	}
}
