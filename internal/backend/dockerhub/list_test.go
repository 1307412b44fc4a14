package dockerhub_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"

	"github.com/regsweep/regsweep/internal/backend"
	hub "github.com/regsweep/regsweep/internal/backend/dockerhub"
	fake "github.com/regsweep/regsweep/internal/testkit/fakes/dockerhub"
	"github.com/regsweep/regsweep/internal/transport"
)

func TestListRepositories(t *testing.T) {
	var many []string
	for i := range 230 {
		many = append(many, "app"+strconv.Itoa(1000+i))
	}
	tests := []struct {
		name      string
		public    []string
		private   []string
		user, pw  string
		namespace string
		want      []string
		wantLists int
		wantErr   error
	}{
		{"anonymous sees public only", []string{"web", "api"}, []string{"secret"}, "", "", "alice", []string{"api", "web"}, 1, nil},
		{"logged in sees private too", []string{"web"}, []string{"secret"}, user, pat, "alice", []string{"secret", "web"}, 1, nil},
		{"three pages", many, nil, "", "", "alice", many, 3, nil},
		{"unknown namespace", []string{"web"}, nil, "", "", "bob", nil, 1, backend.ErrNotFound},
		{"bad password", []string{"web"}, nil, user, "wrong", "alice", nil, 0, backend.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fake.New(user, pat)
			for _, r := range tt.public {
				f.AddRepository("alice", r, false)
			}
			for _, r := range tt.private {
				f.AddRepository("alice", r, true)
			}
			f.AddRepository("carol", "other", false)
			srv := httptest.NewServer(f)
			defer srv.Close()
			got, err := hub.ListRepositories(context.Background(), hub.Options{
				Namespace: tt.namespace, Username: tt.user, Password: tt.pw, BaseURL: srv.URL,
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
			if n := f.Count(http.MethodGet, "/repositories", 0); n != tt.wantLists {
				t.Fatalf("%d list requests, want %d", n, tt.wantLists)
			}
		})
	}
}
