package backend

import (
	"errors"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/graph"
)

// TestPutBack: the digest goes back first, then each tag; the first
// refusal stops it and names the reference, keeping its sentinel.
func TestPutBack(t *testing.T) {
	s := Saved{Digest: "sha256:aa", MediaType: "m", Body: []byte("{}")}
	tests := []struct {
		name    string
		refuse  string
		want    string // the references put, in order
		wantErr string
	}{
		{"all", "", "sha256:aa v1 latest", ""},
		{"digest refused", "sha256:aa", "sha256:aa", "restore sha256:aa as sha256:aa: forbidden"},
		{"tag refused", "v1", "sha256:aa v1", "restore sha256:aa as v1: forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var put []string
			err := PutBack(s, []string{"v1", "latest"}, func(ref string) error {
				put = append(put, ref)
				if ref == tt.refuse {
					return errors.New("forbidden")
				}
				return nil
			})
			if got := strings.Join(put, " "); got != tt.want {
				t.Errorf("put %q, want %q", got, tt.want)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestSavedAs: the media type the registry served wins; none leaves the
// one discovery recorded.
func TestSavedAs(t *testing.T) {
	m := &graph.Manifest{Digest: "sha256:aa", MediaType: "recorded"}
	if s := SavedAs(m, "served", []byte("x")); s.MediaType != "served" || s.Digest != m.Digest || string(s.Body) != "x" {
		t.Errorf("served: %+v", s)
	}
	if s := SavedAs(m, "", nil); s.MediaType != "recorded" {
		t.Errorf("none served: %+v", s)
	}
}
