package ocitest

import (
	"context"
	"reflect"
	"testing"

	"github.com/regsweep/regsweep/internal/backend/oci"
)

// Catalog lists a real registry's repositories below a prefix, for
// `host/team/*`: team/a and team/b, never "teammate" nor other/c.
func (s Suite) Catalog(t *testing.T) {
	r := s.Start(t, StartOptions{})
	for i, repo := range []string{"team/a", "other/c", "team/b", "teammate/x"} {
		push(t, r, repo, image(t, int64(900+i)), "v1")
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"team", []string{"team/a", "team/b"}},
		{"", []string{"other/c", "team/a", "team/b", "teammate/x"}},
		{"none", nil},
	}
	for _, tt := range tests {
		got, err := oci.Catalog(context.Background(), r.Host, tt.prefix, oci.Options{Transport: instant(), Keychain: noKeychain{}, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, w := range tt.want {
			want = append(want, r.Host+"/"+w)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("prefix %q: got %v, want %v", tt.prefix, got, want)
		}
	}
}
