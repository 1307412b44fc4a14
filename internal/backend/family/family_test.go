package family

import (
	"slices"
	"testing"
)

func TestFor(t *testing.T) {
	tests := []struct{ choice, repo, want string }{
		{"auto", "ghcr.io/o/app", "github"},
		{"", "GHCR.io/o/app", "github"},
		{"auto", "docker.io/ns/app", "dockerhub"},
		{"auto", "index.docker.io/ns/app", "dockerhub"},
		{"auto", "registry-1.docker.io/ns/app", "dockerhub"},
		{"auto", "registry.example.com/app", "oci"},
		{"auto", "localhost:5000/*", "oci"},
		{"oci", "ghcr.io/o/app", "oci"},
		{"github", "containers.ghe.example.com/o/app", "github"},
		{"dockerhub", "docker.io/ns/app", "dockerhub"},
	}
	for _, tt := range tests {
		f, err := For(tt.choice, tt.repo)
		if err != nil || f.Name != tt.want {
			t.Errorf("For(%q, %q) = %q, %v; want %q", tt.choice, tt.repo, f.Name, err, tt.want)
		}
	}
	if _, err := For("harbor", "h.io/a"); err == nil || err.Error() != `backend "harbor" is not one of auto, oci, github, dockerhub` {
		t.Errorf("unknown backend: %v", err)
	}
}

// TestTable: every family has a unique name and every function; hosts are
// lowercase and claimed once; exactly one family is the default.
func TestTable(t *testing.T) {
	if got := Names(); !slices.Equal(got, []string{"auto", "oci", "github", "dockerhub"}) {
		t.Errorf("Names() = %q", got)
	}
	hosts := map[string]string{}
	defaults := 0
	for _, f := range Families() {
		if f.Check == nil || f.New == nil || f.List == nil || f.Hints == nil {
			t.Errorf("family %s lacks a function", f.Name)
		}
		if len(f.Hosts) == 0 {
			defaults++
		}
		for _, h := range f.Hosts {
			if prev, ok := hosts[h]; ok {
				t.Errorf("host %s claimed by %s and %s", h, prev, f.Name)
			}
			hosts[h] = f.Name
		}
	}
	if defaults != 1 {
		t.Errorf("%d default families, want 1", defaults)
	}
	for in, want := range map[string]string{"index.docker.io": "docker.io", "Registry-1.Docker.io": "docker.io", "GHCR.IO": "ghcr.io", "Registry.Example.com:5000": "registry.example.com:5000"} {
		if got := CanonicalHost(in); got != want {
			t.Errorf("CanonicalHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	tok := Config{GitHubToken: "t"}
	tests := []struct {
		repo, backend string
		c             Config
		bad           bool
	}{
		{"ghcr.io/o/app", "auto", tok, false},
		{"ghcr.io/o/team/app", "auto", tok, false},
		{"ghcr.io/o/*", "auto", tok, false},
		{"ghcr.io/o", "auto", tok, true},
		{"ghcr.io/*", "auto", tok, true},
		{"ghcr.io/o/app", "auto", Config{}, true},
		{"ghcr.io/o/app", "auto", Config{Password: "p"}, false},
		{"ghe.example.com/o/app", "github", tok, true},
		{"ghe.example.com/o/app", "github", Config{GitHubToken: "t", GitHubAPIURL: "https://ghe.example.com/api/v3"}, false},
		{"docker.io/ns/app", "auto", Config{}, false},
		{"docker.io/ns/*", "auto", Config{}, false},
		{"docker.io/a/b/*", "auto", Config{}, true},
		{"registry.example.com/a/b/c", "dockerhub", Config{}, true},
		{"registry.example.com/a", "auto", Config{}, false},
	}
	for _, tt := range tests {
		f, err := For(tt.backend, tt.repo)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Check(tt.c, tt.repo); (err != nil) != tt.bad {
			t.Errorf("%s Check(%q) = %v, want bad=%v", f.Name, tt.repo, err, tt.bad)
		}
	}
}
