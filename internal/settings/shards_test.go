package settings

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadSharding(t *testing.T) {
	dir := t.TempDir()
	shardsFile := filepath.Join(dir, "shards.json")
	if err := os.WriteFile(shardsFile, []byte(`{"repositories":["r.example.com/t/a","r.example.com/t/b","r.example.com/t/c"],"shards":[["r.example.com/t/a","r.example.com/t/c"],["r.example.com/t/b"]]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	gh := func(kv ...string) map[string]string {
		m := map[string]string{"GITHUB_ACTIONS": "true"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(t *testing.T, s *Settings)
	}{
		{name: "expand-only needs no policy", env: gh("INPUT_REPOSITORY", "r.example.com/t/*", "INPUT_EXPAND-ONLY", "true", "INPUT_SHARDS", "4"),
			check: func(t *testing.T, s *Settings) {
				if !s.ExpandOnly || s.Shards != 4 {
					t.Fatalf("expand-only %v shards %d", s.ExpandOnly, s.Shards)
				}
			}},
		{name: "list-repositories is expand-only", args: []string{"--list-repositories", "--repository", "r.example.com/t/*", "--shards", "2"},
			check: func(t *testing.T, s *Settings) {
				if !s.ExpandOnly || !s.ListRepositories {
					t.Fatalf("expand-only %v", s.ExpandOnly)
				}
			}},
		{name: "shards alone", args: []string{"--repository", "r.example.com/t/*", "--tags", "pr-*", "--shards", "2"},
			wantErr: `input "shards": only splits an expansion: set expand-only too`},
		{name: "two modes", args: []string{"--repository", "r.example.com/t/*", "--expand-only", "--merge", "x.json", "--shards-file", shardsFile},
			wantErr: "expand-only, shard and merge are three different jobs"},
		{name: "shard without file", args: []string{"--shard", "1", "--tags", "pr-*"},
			wantErr: `input "shard": needs shards-file`},
		{name: "file without shard", args: []string{"--repository", "r.example.com/t/a", "--shards-file", shardsFile, "--tags", "pr-*"},
			wantErr: `input "shards-file" is read by a shard job`},
		{name: "shard and repository", args: []string{"--repository", "r.example.com/t/a", "--shard", "1", "--shards-file", shardsFile, "--tags", "pr-*"},
			wantErr: `input "repository" is not read by a shard job or a merge`},
		{name: "shard out of range", args: []string{"--shard", "3", "--shards-file", shardsFile, "--tags", "pr-*"},
			wantErr: `input "shard" is 3, but the expansion has 2 shards: use 1 to 2`},
		{name: "shards file missing", args: []string{"--shard", "1", "--shards-file", filepath.Join(dir, "none.json"), "--tags", "pr-*"},
			wantErr: `input "shards-file": cannot read the expansion`},
		{name: "shard takes its list", args: []string{"--shard", "1", "--shards-file", shardsFile, "--tags", "pr-*"},
			check: func(t *testing.T, s *Settings) {
				wantList(t, "Repositories", s.Repositories, "r.example.com/t/a", "r.example.com/t/c")
			}},
		{name: "shard from JSON text", env: gh("INPUT_SHARD", "2", "INPUT_SHARDS-FILE", `[["r.example.com/t/a"],["r.example.com/t/b"]]`, "INPUT_TAGS", "pr-*"),
			check: func(t *testing.T, s *Settings) {
				wantList(t, "Repositories", s.Repositories, "r.example.com/t/b")
			}},
		{name: "repository as a JSON array", env: gh("INPUT_REPOSITORY", "[\n  \"r.example.com/t/a\",\n  \"R.example.com/t/b\"\n]", "INPUT_TAGS", "pr-*"),
			check: func(t *testing.T, s *Settings) {
				wantList(t, "Repositories", s.Repositories, "r.example.com/t/a", "r.example.com/t/b")
			}},
		{name: "repository as an empty JSON array", env: gh("INPUT_REPOSITORY", "[]", "INPUT_TAGS", "pr-*"),
			wantErr: `input "repository" is an empty JSON array`},
		{name: "repository as bad JSON", env: gh("INPUT_REPOSITORY", `["a",`, "INPUT_TAGS", "pr-*"),
			wantErr: `input "repository": starts with [ but is not a JSON array of strings`},
		{name: "merge without expansion", env: gh("INPUT_MERGE", "records/*.json"),
			wantErr: `input "merge": needs shards-file`},
		{name: "merge action mode", env: gh("INPUT_MERGE", "records/*.json", "INPUT_SHARDS-FILE", shardsFile),
			check: func(t *testing.T, s *Settings) {
				wantList(t, "Merge", s.Merge, "records/*.json")
				if len(s.Repositories) != 0 || len(s.Expansion.Shards) != 2 {
					t.Fatalf("repositories %v, expansion %+v", s.Repositories, s.Expansion)
				}
			}},
		{name: "merge subcommand", args: []string{"merge", "a.json", "--shards-file", shardsFile, "b.json", "--json", "c/*.json"},
			check: func(t *testing.T, s *Settings) {
				if !reflect.DeepEqual(s.Merge, []string{"a.json", "b.json", "c/*.json"}) || !s.JSON {
					t.Fatalf("merge %v json %v", s.Merge, s.JSON)
				}
			}},
		{name: "merge subcommand without records", args: []string{"merge", "--shards-file", shardsFile},
			wantErr: `input "merge": regsweep merge needs the shards' record files`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := load(t, tt.env, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

// A GitLab shard job's repositories come from the expansion; the job's own
// registry credentials still go only to the job's registry.
func TestLoadGitLabShardCredentialScope(t *testing.T) {
	gl := map[string]string{
		"GITLAB_CI": "true", "CI_REGISTRY": "registry.gitlab.com", "CI_REGISTRY_IMAGE": "registry.gitlab.com/group/project",
		"CI_REGISTRY_USER": "gitlab-ci-token", "CI_REGISTRY_PASSWORD": "glcbt-x",
		"REGSWEEP_TAGS": "mr-*", "REGSWEEP_SHARD": "1",
		"REGSWEEP_SHARDS_FILE": `[["registry.gitlab.com/group/a","docker.io/me/app"]]`,
	}
	s, _, err := load(t, gl)
	if err != nil {
		t.Fatal(err)
	}
	wantList(t, "Repositories", s.Repositories, "registry.gitlab.com/group/a", "docker.io/me/app")
	if s.Username != "" || s.Password != "" {
		t.Fatalf("job credentials kept for another registry: %q %q", s.Username, s.Password)
	}
}
