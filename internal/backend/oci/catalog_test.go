package oci

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/transport"
)

// catalogServer serves /v2/ and a paginated /v2/_catalog over repos the way
// distribution does (n, last, a relative Link), refusing n above maxN with
// PAGINATION_NUMBER_INVALID. maxN 0 means 1000.
func catalogServer(t *testing.T, repos []string, maxN int, hits *atomic.Int64) *httptest.Server {
	t.Helper()
	if maxN == 0 {
		maxN = 1000
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits != nil {
			hits.Add(1)
		}
		switch r.URL.Path {
		case "/v2/":
			w.WriteHeader(http.StatusOK)
		case "/v2/_catalog":
			q := r.URL.Query()
			n := 100
			if s := q.Get("n"); s != "" {
				n, _ = strconv.Atoi(s)
				if n > maxN {
					w.WriteHeader(http.StatusBadRequest)
					_, _ = w.Write([]byte(`{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"invalid number of results requested"}]}`))
					return
				}
			}
			n = min(n, maxN)
			start := 0
			if last := q.Get("last"); last != "" {
				for start < len(repos) && repos[start] <= last {
					start++
				}
			}
			end := min(start+n, len(repos))
			if end < len(repos) {
				w.Header().Set("Link", `</v2/_catalog?last=`+repos[end-1]+`&n=`+strconv.Itoa(n)+`>; rel="next"`)
			}
			_ = json.NewEncoder(w).Encode(map[string][]string{"repositories": repos[start:end]})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func catalogOpts() Options {
	return Options{Auth: authn.Anonymous, Transport: transport.New(transport.Options{MaxRetries: -1})}
}

func TestCatalogPagination(t *testing.T) {
	var repos []string
	for i := range 2500 {
		repos = append(repos, "team/app"+strconv.Itoa(10000+i))
	}
	repos = append(repos, "teammate/x", "other/c", "team")
	sort.Strings(repos)
	tests := []struct {
		name      string
		maxN      int
		prefix    string
		wantN     int
		wantPages int64 // requests to _catalog
	}{
		{"n=1000 accepted, three pages", 0, "team", 2500, 3},
		{"maxentries below 1000: retried without n (the registry's 100)", 500, "team", 2500, 1 + 26},
		{"everything", 0, "", 2503, 3},
		{"no match", 0, "nothing", 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int64
			srv := catalogServer(t, repos, tt.maxN, &hits)
			host := strings.TrimPrefix(srv.URL, "http://")
			got, err := Catalog(context.Background(), host, tt.prefix, catalogOpts())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantN {
				t.Fatalf("got %d repositories, want %d", len(got), tt.wantN)
			}
			for _, r := range got {
				if !strings.HasPrefix(r, host+"/"+tt.prefix) || strings.HasPrefix(r, host+"/teammate/") && tt.prefix == "team" {
					t.Fatalf("%s is not below %q", r, tt.prefix)
				}
			}
			if pages := hits.Load() - 1; pages != tt.wantPages { // minus the ping
				t.Fatalf("%d catalog requests, want %d", pages, tt.wantPages)
			}
		})
	}
}

func TestCatalogRefused(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		sentinel error // besides ErrNoCatalog
	}{
		{"404", http.StatusNotFound, `{"errors":[{"code":"NOT_FOUND"}]}`, nil},
		{"405", http.StatusMethodNotAllowed, ``, nil},
		{"401", http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED"}]}`, backend.ErrUnauthorized},
		{"403", http.StatusForbidden, `{"errors":[{"code":"DENIED"}]}`, backend.ErrForbidden},
		{"UNSUPPORTED", http.StatusBadRequest, `{"errors":[{"code":"UNSUPPORTED","message":"catalog disabled"}]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			_, err := Catalog(context.Background(), strings.TrimPrefix(srv.URL, "http://"), "", catalogOpts())
			if !errors.Is(err, ErrNoCatalog) {
				t.Fatalf("err = %v, want ErrNoCatalog", err)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Fatalf("err = %v, want %v too", err, tt.sentinel)
			}
		})
	}
}

// A hostile catalog: bad names are left out; links to other hosts, loops
// and broken Link headers stop the listing.
func TestCatalogHostile(t *testing.T) {
	tests := []struct {
		name    string
		link    string
		repos   []string
		want    []string
		wantErr string
	}{
		{"bad names left out", "", []string{"ok/a", "../etc", "UPPER/x", "a//b", "ok/b\x00", "ok/c"}, []string{"ok/a", "ok/c"}, ""},
		{"link to another host", `<http://evil.example/v2/_catalog?last=a>; rel="next"`, []string{"a"}, nil, "another host"},
		{"link loop", `</v2/_catalog?n=1000>; rel="next"`, []string{"a"}, nil, "already read"},
		{"broken link", `</v2/_catalog?last=a; rel="next"`, []string{"a"}, nil, "malformed Link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return
				}
				if tt.link != "" {
					w.Header().Set("Link", tt.link)
				}
				_ = json.NewEncoder(w).Encode(map[string][]string{"repositories": tt.repos})
			}))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			got, err := Catalog(context.Background(), host, "", catalogOpts())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, r := range tt.want {
				want = append(want, host+"/"+r)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

// The catalog's requests go through the shared transport: counted there.
func TestCatalogUsesSharedTransport(t *testing.T) {
	var hits atomic.Int64
	srv := catalogServer(t, []string{"a/b", "c/d"}, 0, &hits)
	o := catalogOpts()
	if _, err := Catalog(context.Background(), strings.TrimPrefix(srv.URL, "http://"), "", o); err != nil {
		t.Fatal(err)
	}
	// Every request the registry saw (ping and page) went through it; it
	// may count more (an https ping attempt before plain HTTP on loopback).
	if got := o.Transport.Stats().Requests[http.MethodGet]; got < int(hits.Load()) || hits.Load() != 2 {
		t.Fatalf("transport counted %d GETs, the registry saw %d (want 2)", got, hits.Load())
	}
}
