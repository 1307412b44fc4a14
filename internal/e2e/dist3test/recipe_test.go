package dist3test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// readRecipe returns the YAML block of the README that follows the marker
// <!-- recipe:name -->.
func readRecipe(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- recipe:"+name+" -->\n```yaml\n")
	if !ok {
		t.Fatalf("README.md has no recipe %s", name)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("README.md recipe %s does not end", name)
	}
	return block
}

var expression = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// evaluate replaces the ${{ }} expressions of a recipe with the values the
// runner would give them; an expression not in values fails the test (the
// recipe uses something this test does not know how to evaluate).
func evaluate(t *testing.T, s string, values map[string]string) string {
	t.Helper()
	return expression.ReplaceAllStringFunc(s, func(m string) string {
		e := expression.FindStringSubmatch(m)[1]
		if strings.HasPrefix(e, "secrets.") {
			return "" // the test registry takes anonymous requests
		}
		v, ok := values[e]
		if !ok {
			t.Fatalf("the recipe uses ${{ %s }}, which this test cannot evaluate", e)
		}
		return v
	})
}

// seedShardRepos pushes team/r0..team/r7 (latest, pr-0 on latest's image,
// and 1 to 3 pull-request images) and other/x; it returns the tags each
// repository must keep under tags pr-*, keep-latest 1: latest and the
// newest pull request (pr-0 is removed by tag, latest's image stays).
func seedShardRepos(t *testing.T, r *registry) map[string][]string {
	t.Helper()
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	keep := map[string][]string{}
	for i := range 9 {
		n := fmt.Sprintf("team/r%d", i)
		if i == 8 {
			n = "other/x"
		}
		images := []image{{Tag: "latest", ID: n + "/latest", Created: day}, {Tag: "pr-0", ID: n + "/latest", Created: day}}
		prs := 1 + i%3
		for k := 1; k <= prs; k++ {
			images = append(images, image{Tag: "pr-" + strconv.Itoa(k), ID: n + "/pr-" + strconv.Itoa(k), Created: day.Add(time.Duration(k) * time.Hour)})
		}
		r.push(t, r.Host+"/"+n, images)
		keep[n] = []string{"latest", "pr-" + strconv.Itoa(prs)}
		if n == "other/x" {
			keep[n] = nil
			for _, im := range images {
				keep[n] = append(keep[n], im.Tag)
			}
		}
	}
	return keep
}

// checkKept checks that every repository holds exactly the tags it keeps.
func checkKept(t *testing.T, r *registry, keep map[string][]string) {
	t.Helper()
	for n, tags := range keep {
		var got []string
		for tag := range r.state(t, r.Host+"/"+n) {
			got = append(got, tag)
		}
		sameStrings(t, n, got, tags)
	}
}

// TestShardRecipes runs the README's two sharding recipes as their CI
// would: each regsweep step or job through the binary, with the recipe's
// inputs or variables (the expressions evaluated as the runner would), and
// the artifacts passed between jobs as the artifact actions or GitLab pass
// them; the registry ends as one sweep would leave it.
func TestShardRecipes(t *testing.T) {
	t.Run("github", func(t *testing.T) {
		reg := startRegistry(t, creds{})
		keep := seedShardRepos(t, reg)
		var wf struct {
			Jobs map[string]struct {
				Strategy struct {
					Matrix map[string]string `yaml:"matrix"`
				} `yaml:"strategy"`
				Steps []struct {
					ID   string            `yaml:"id"`
					Uses string            `yaml:"uses"`
					With map[string]string `yaml:"with"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		text := strings.ReplaceAll(readRecipe(t, "github-shards"), "registry.example.com", reg.Host)
		if err := yaml.Unmarshal([]byte(text), &wf); err != nil {
			t.Fatal(err)
		}
		for _, j := range []string{"expand", "sweep", "merge"} {
			if _, ok := wf.Jobs[j]; !ok {
				t.Fatalf("the recipe has no job %s", j)
			}
		}
		// Every regsweep step of a job, in order, with its outputs; the
		// artifact actions copy files between workspaces.
		mergeWS := t.TempDir()
		runJob := func(name string, values map[string]string) map[string]string {
			ws := t.TempDir()
			if name == "merge" {
				ws = mergeWS
			}
			outputs := map[string]string{}
			for _, st := range wf.Jobs[name].Steps {
				with := map[string]string{}
				for k, v := range st.With {
					with[k] = evaluate(t, v, values)
				}
				switch {
				case strings.HasPrefix(st.Uses, "regsweep/regsweep@"):
					res := runGitHubIn(t, ws, with)
					if res.Code != 0 {
						t.Fatalf("%s: step %s: exit %d\n%s", name, st.ID, res.Code, res.Log())
					}
					for k, v := range res.Outputs {
						outputs[k] = v
						values["steps."+st.ID+".outputs."+k] = v
					}
				case strings.HasPrefix(st.Uses, "actions/upload-artifact@"):
					if name == "merge" {
						continue
					}
					// download-artifact with merge-multiple: every file in
					// one directory.
					dst := filepath.Join(mergeWS, "records")
					if err := os.MkdirAll(dst, 0o755); err != nil {
						t.Fatal(err)
					}
					b, err := os.ReadFile(filepath.Join(ws, with["path"]))
					if err != nil {
						t.Fatalf("%s: upload %s: %v", name, with["path"], err)
					}
					if err := os.WriteFile(filepath.Join(dst, filepath.Base(with["path"])), b, 0o644); err != nil {
						t.Fatal(err)
					}
				case strings.HasPrefix(st.Uses, "actions/download-artifact@"):
					if with["path"] != "records" || with["merge-multiple"] != "true" {
						t.Fatalf("download-artifact with %v: this test puts the records in records/, merged", with)
					}
				default:
					t.Fatalf("%s: a step this test does not know: %q", name, st.Uses)
				}
			}
			return outputs
		}

		exp := runJob("expand", map[string]string{})
		values := map[string]string{"needs.expand.outputs.shards": exp["shards"]}
		if m := wf.Jobs["sweep"].Strategy.Matrix["repositories"]; m != "${{ fromJSON(needs.expand.outputs.shards) }}" {
			t.Fatalf("the matrix is %q, want fromJSON of the expansion's shards", m)
		}
		var shards [][]string
		if err := json.Unmarshal([]byte(exp["shards"]), &shards); err != nil || len(shards) != 4 {
			t.Fatalf("shards output %q: %v", exp["shards"], err)
		}
		for i, s := range shards {
			list, err := json.MarshalIndent(s, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			runJob("sweep", map[string]string{"toJSON(matrix.repositories)": string(list), "strategy.job-index": strconv.Itoa(i)})
		}
		merged := runJob("merge", values)
		if merged["deleted-count"] != "7" || merged["failed-count"] != "0" {
			t.Fatalf("merged outputs: %v", merged)
		}
		checkKept(t, reg, keep)
	})

	t.Run("gitlab", func(t *testing.T) {
		reg := startRegistry(t, creds{})
		keep := seedShardRepos(t, reg)
		tmplVars, tmplJobs := readGitLabFile(t, filepath.Join("..", "..", "..", "ci", "gitlab", "regsweep.yml"))
		base := tmplJobs[".regsweep"]
		type job struct {
			Extends   string            `yaml:"extends"`
			Needs     []string          `yaml:"needs"`
			Variables map[string]string `yaml:"variables"`
			Script    []string          `yaml:"script"`
			Parallel  struct {
				Matrix []map[string][]string `yaml:"matrix"`
			} `yaml:"parallel"`
			Artifacts struct {
				Paths []string `yaml:"paths"`
			} `yaml:"artifacts"`
		}
		var pipeline map[string]yaml.Node
		text := strings.ReplaceAll(readRecipe(t, "gitlab-shards"), "registry.example.com", reg.Host)
		if err := yaml.Unmarshal([]byte(text), &pipeline); err != nil {
			t.Fatal(err)
		}
		jobs := map[string]job{}
		for _, name := range []string{"regsweep-expand", "regsweep-sweep", "regsweep-merge"} {
			n, ok := pipeline[name]
			if !ok {
				t.Fatalf("the recipe has no job %s", name)
			}
			var j job
			if err := n.Decode(&j); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if j.Extends != ".regsweep" {
				t.Fatalf("%s extends %q, want .regsweep", name, j.Extends)
			}
			jobs[name] = j
		}
		// artifacts: job name -> the files its runs left, by path.
		artifacts := map[string]map[string][]byte{}
		run := func(name string, matrix map[string]string) string {
			j := jobs[name]
			dir := t.TempDir()
			for _, need := range j.Needs {
				for p, b := range artifacts[need] {
					if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			env := gitlabEnv(reg, dir)
			for k, v := range matrix {
				env[k] = v
			}
			for _, layer := range []map[string]string{tmplVars, base.Variables, j.Variables} {
				for k, v := range layer {
					env[k] = os.Expand(v, func(name string) string { return env[name] })
				}
			}
			script := j.Script
			if script == nil {
				script = base.Script
			}
			for _, line := range script {
				var res result
				if rest, ok := strings.CutPrefix(line, "/regsweep"); ok {
					res = runShell(t, dir, env, binary+rest)
				} else {
					res = runShell(t, dir, env, line)
				}
				if res.Code != 0 {
					t.Fatalf("%s %v: %q: exit %d\n%s", name, matrix, line, res.Code, res.Log())
				}
			}
			if artifacts[name] == nil {
				artifacts[name] = map[string][]byte{}
			}
			for _, p := range j.Artifacts.Paths {
				matches, _ := filepath.Glob(filepath.Join(dir, strings.TrimSuffix(p, "/")))
				for _, m := range matches {
					_ = filepath.WalkDir(m, func(path string, d os.DirEntry, err error) error {
						if err != nil || d.IsDir() {
							return err
						}
						b, err := os.ReadFile(path)
						rel, _ := filepath.Rel(dir, path)
						artifacts[name][rel] = b
						return err
					})
				}
			}
			if len(j.Artifacts.Paths) > 0 && len(artifacts[name]) == 0 {
				t.Fatalf("%s left none of its artifacts %v", name, j.Artifacts.Paths)
			}
			return dir
		}
		run("regsweep-expand", nil)
		m := jobs["regsweep-sweep"].Parallel.Matrix
		if len(m) != 1 || len(m[0]["SHARD"]) != 4 {
			t.Fatalf("the sweep's matrix is %v, want SHARD over 4 values", m)
		}
		for _, s := range m[0]["SHARD"] {
			run("regsweep-sweep", map[string]string{"SHARD": s})
		}
		rec := readRecordFile(t, filepath.Join(run("regsweep-merge", nil), "regsweep-record.json"))
		if rec.DeletedCount != 7 || rec.FailedCount != 0 || len(rec.Shards) != 4 {
			t.Fatalf("merged record: %d deleted, %d failed, %d shards", rec.DeletedCount, rec.FailedCount, len(rec.Shards))
		}
		checkKept(t, reg, keep)
	})
}
