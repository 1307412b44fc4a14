package ghpackages_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"

	"github.com/regsweep/regsweep/internal/backend"
	gh "github.com/regsweep/regsweep/internal/backend/ghpackages"
	fake "github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
	"github.com/regsweep/regsweep/internal/transport"
)

func TestListPackages(t *testing.T) {
	var many []string
	for i := range 150 {
		many = append(many, "svc-"+strconv.Itoa(1000+i))
	}
	tests := []struct {
		name     string
		kind     fake.OwnerKind
		packages []string
		token    string
		want     []string
		wantGETs int // API list requests
		wantErr  error
	}{
		{"org, a name with a slash", fake.Org, []string{"web", "team/app", "api"}, token, []string{"api", "team/app", "web"}, 1, nil},
		{"user owner: org first, then user", fake.User, []string{"one"}, token, []string{"one"}, 2, nil},
		{"two pages", fake.Org, many, token, many, 2, nil},
		{"bad token", fake.Org, []string{"one"}, "wrong", nil, 1, backend.ErrUnauthorized},
		{"unknown owner", "", nil, token, nil, 2, backend.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fake.New(token)
			for _, p := range tt.packages {
				f.AddPackage(tt.kind, "acme", p)
			}
			srv := httptest.NewServer(f)
			defer srv.Close()
			got, err := gh.ListPackages(context.Background(), gh.Options{
				Owner: "acme", Token: tt.token, APIURL: srv.URL,
				Transport: transport.New(transport.Options{MaxRetries: -1}),
			})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if n := f.Count(http.MethodGet, "/packages"); n != tt.wantGETs {
				t.Fatalf("%d list requests, want %d", n, tt.wantGETs)
			}
		})
	}
}
