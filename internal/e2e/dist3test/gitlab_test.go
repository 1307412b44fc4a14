package dist3test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"
	"gopkg.in/yaml.v3"

	"github.com/regsweep/regsweep/internal/testkit/ciparse"
	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

// jobToken is the job's CI_JOB_TOKEN / CI_REGISTRY_PASSWORD.
const jobToken = "glcbt-64_JOBt0ken-for-providertest"

// gitlabEnv is what a GitLab runner sets for a job in project group/project
// whose registry is reg: the predefined variables regsweep may read, plus
// a few it must ignore.
func gitlabEnv(reg *registry, projectDir string) map[string]string {
	return map[string]string{
		"CI":                   "true",
		"GITLAB_CI":            "true",
		"CI_SERVER":            "yes",
		"CI_JOB_ID":            "4242",
		"CI_PIPELINE_ID":       "77",
		"CI_PROJECT_PATH":      "group/project",
		"CI_PROJECT_DIR":       projectDir,
		"CI_REGISTRY":          reg.Host,
		"CI_REGISTRY_IMAGE":    reg.Host + "/group/project",
		"CI_REGISTRY_USER":     "gitlab-ci-token",
		"CI_REGISTRY_PASSWORD": jobToken,
		"CI_JOB_TOKEN":         jobToken,
		"CI_SERVER_URL":        "http://127.0.0.1:1", // unroutable: never called
	}
}

// glRun is one GitLab job run.
type glRun struct {
	result
	Dotenv     map[string]string
	DotenvText string
	Summary    string
}

func runGitLab(t *testing.T, env map[string]string, dotenvPath, summaryPath string, args ...string) glRun {
	t.Helper()
	res := runBinary(t, env, args...)
	out := glRun{result: res}
	b, err := os.ReadFile(dotenvPath)
	if err != nil {
		t.Fatalf("dotenv report: %v\n%s", err, res.Log())
	}
	out.DotenvText = string(b)
	if out.Dotenv, err = ciparse.Dotenv(b); err != nil {
		t.Fatalf("dotenv report does not parse: %v\n%s", err, b)
	}
	for k, v := range out.Dotenv {
		if !strings.HasPrefix(k, "REGSWEEP_OUT_") {
			t.Errorf("dotenv key %s would shadow a variable of later jobs", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			t.Errorf("dotenv %s carries a line break", k)
		}
	}
	s, err := os.ReadFile(summaryPath)
	if err != nil {
		t.Fatalf("summary artifact: %v", err)
	}
	out.Summary = string(s)
	return out
}

// TestGitLab runs a job with nothing but REGSWEEP_TAGS set: the project's
// own image repository is swept with the job's registry credentials (the
// registry accepts no others), outputs land in the dotenv report and the
// summary in regsweep-summary.md.
func TestGitLab(t *testing.T) {
	tests := []struct {
		name string
		// drop removes predefined variables (older GitLab or a job with
		// only CI_JOB_TOKEN).
		drop []string
	}{
		{name: "registry user and password"},
		{name: "job token only", drop: []string{"CI_REGISTRY_USER", "CI_REGISTRY_PASSWORD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := startRegistry(t, creds{User: "gitlab-ci-token", Pass: jobToken})
			repo := reg.Host + "/group/project"
			sub := reg.Host + "/group/project/other" // below the project: untouched
			reg.seedDemo(t, repo)
			reg.seedDemo(t, sub)
			before, subBefore := reg.state(t, repo), reg.state(t, sub)

			dir := t.TempDir()
			env := gitlabEnv(reg, dir)
			for _, k := range tt.drop {
				delete(env, k)
			}
			env["REGSWEEP_TAGS"] = "pr-*"
			r := runGitLab(t, env, filepath.Join(dir, "regsweep.env"), filepath.Join(dir, "regsweep-summary.md"))
			if r.Code != 0 {
				t.Fatalf("exit %d\n%s", r.Code, r.Log())
			}
			after := reg.state(t, repo)
			pr2Sig := "sha256-" + strings.TrimPrefix(before["pr-2"], "sha256:") + ".sig"
			checkFinal(t, before, after, []string{"pr-1", "pr-2", "pr-3", "pr-4", "pr-5", pr2Sig})
			checkFinal(t, subBefore, reg.state(t, sub), nil)
			if reg.Wrong() > 0 {
				t.Errorf("%d requests carried other credentials", reg.Wrong())
			}

			d := r.Dotenv
			if d["REGSWEEP_OUT_DELETED_COUNT"] != "5" || d["REGSWEEP_OUT_DRY_RUN"] != "false" || d["REGSWEEP_OUT_FAILED_COUNT"] != "0" {
				t.Errorf("dotenv report:\n%s", r.DotenvText)
			}
			// The lists are in the record file, an artifact the dotenv
			// report points at.
			recPath := filepath.Join(dir, "regsweep-record.json")
			if d["REGSWEEP_OUT_RECORD_FILE"] != recPath {
				t.Errorf("REGSWEEP_OUT_RECORD_FILE = %q, want %q", d["REGSWEEP_OUT_RECORD_FILE"], recPath)
			}
			rec := e2e.ReadRecord(t, recPath)
			sameStrings(t, "record deleted-tags", e2e.BareTags(t, rec.DeletedTags), removed(before, after))
			if !strings.Contains(r.Summary, "pr-3") || !strings.Contains(r.Stdout, r.Summary) {
				t.Errorf("summary artifact missing or not in the job log:\n%s", r.Summary)
			}
			checkNoSecret(t, jobToken, map[string]string{"stdout": r.Stdout, "stderr": r.Stderr, "dotenv": r.DotenvText, "summary": r.Summary})
			snaps.MatchSnapshot(t, normalize(r.DotenvText))
		})
	}
}

// TestGitLabCredentialsStayOnCIRegistry sweeps another registry from a
// GitLab job: the job's token must not be sent there.
func TestGitLabCredentialsStayOnCIRegistry(t *testing.T) {
	home := startRegistry(t, creds{User: "gitlab-ci-token", Pass: jobToken})
	other := startRegistry(t, creds{})
	repo := other.Host + "/team/app"
	other.seedDemo(t, repo)
	before := other.state(t, repo)

	dir := t.TempDir()
	env := gitlabEnv(home, dir)
	env["REGSWEEP_REPOSITORY"] = repo
	env["REGSWEEP_TAGS"] = "pr-1"
	r := runGitLab(t, env, filepath.Join(dir, "regsweep.env"), filepath.Join(dir, "regsweep-summary.md"))
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Log())
	}
	if u := other.Users(); len(u) > 0 {
		t.Errorf("the job's credentials (users %q) were sent to %s", u, other.Host)
	}
	checkFinal(t, before, other.state(t, repo), []string{"pr-1"})
	if !strings.Contains(r.Log(), "Not using the gitlab job's registry credentials") {
		t.Errorf("log does not say why the job's credentials were not used:\n%s", r.Log())
	}
	checkNoSecret(t, jobToken, map[string]string{"log": r.Log(), "dotenv": r.DotenvText, "summary": r.Summary})
}

// gitlabJob is the part of a GitLab job definition the template uses.
type gitlabJob struct {
	Extends   any               `yaml:"extends"`
	Variables map[string]string `yaml:"variables"`
	Script    []string          `yaml:"script"`
	// Image is "name" or {name, entrypoint}.
	Image     yaml.Node `yaml:"image"`
	Artifacts struct {
		Paths   []string `yaml:"paths"`
		Reports struct {
			Dotenv string `yaml:"dotenv"`
		} `yaml:"reports"`
	} `yaml:"artifacts"`
}

// readGitLabFile parses a GitLab CI file into its global variables and jobs
// (every other top-level key that is a mapping).
func readGitLabFile(t *testing.T, path string) (map[string]string, map[string]gitlabJob) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(b, &top); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	vars := map[string]string{}
	jobs := map[string]gitlabJob{}
	for k, n := range top {
		switch {
		case k == "variables":
			if err := n.Decode(&vars); err != nil {
				t.Fatalf("%s: variables: %v", path, err)
			}
		case k == "include" || k == "stages" || k == "default" || k == "workflow":
		case n.Kind == yaml.MappingNode:
			var j gitlabJob
			if err := n.Decode(&j); err != nil {
				t.Fatalf("%s: job %s: %v", path, k, err)
			}
			jobs[k] = j
		}
	}
	return vars, jobs
}

// TestGitLabTemplate runs the copyable example jobs of ci/gitlab/examples.yml
// through the include template ci/gitlab/regsweep.yml, as GitLab would:
// template variables, then the job's, expanded against the predefined
// ones; the template's script line run in the image; the artifacts it
// declares must exist afterwards. Only the job's own secrets are given.
func TestGitLabTemplate(t *testing.T) {
	tmplVars, tmplJobs := readGitLabFile(t, filepath.Join("..", "..", "..", "ci", "gitlab", "regsweep.yml"))
	_, examples := readGitLabFile(t, filepath.Join("..", "..", "..", "ci", "gitlab", "examples.yml"))
	base, ok := tmplJobs[".regsweep"]
	if !ok {
		t.Fatal("regsweep.yml defines no .regsweep job")
	}
	if len(base.Script) != 1 {
		t.Fatalf(".regsweep script = %q, want one command", base.Script)
	}
	script := strings.Fields(base.Script[0])
	if len(script) == 0 || script[0] != "/regsweep" {
		t.Fatalf(".regsweep script %q does not run /regsweep (where the image puts the binary)", base.Script[0])
	}
	var img struct {
		Name       string   `yaml:"name"`
		Entrypoint []string `yaml:"entrypoint"`
	}
	if err := base.Image.Decode(&img); err != nil {
		t.Fatalf(".regsweep image: %v", err)
	}
	if len(img.Entrypoint) != 1 || img.Entrypoint[0] != "" {
		t.Errorf(".regsweep image entrypoint = %q, want [\"\"] so GitLab can run script", img.Entrypoint)
	}

	day := time.Now().UTC().Truncate(24 * time.Hour)
	old, recent := day.AddDate(0, 0, -60), day.AddDate(0, 0, -1)
	tests := []struct {
		job      string
		vars     map[string]string // predefined variables of that pipeline
		images   []image
		wantGone []string
	}{
		{
			job:  "sweep-mr-images",
			vars: map[string]string{"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"},
			images: []image{
				{"mr-7", "mr-7", old}, {"mr-7-2", "mr-7-2", old}, {"mr-70", "mr-70", old},
				{"mr-8", "mr-8", old}, {"mr-7x", "mr-7x", old}, {"latest", "main", old},
			},
			wantGone: []string{"mr-7", "mr-7-2"},
		},
		{
			job:  "prune-releases",
			vars: map[string]string{"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": "v1.11.0"},
			images: func() []image {
				var im []image
				for i := 0; i <= 11; i++ {
					v := "v1." + strconv.Itoa(i) + ".0"
					im = append(im, image{v, v, old.AddDate(0, 0, i)})
				}
				return append(im, image{"latest", "v1.11.0", old.AddDate(0, 0, 11)})
			}(),
			wantGone: []string{"v1.0.0", "v1.1.0"},
		},
		{
			job:  "nightly-sweep",
			vars: map[string]string{"CI_PIPELINE_SOURCE": "schedule"},
			images: []image{
				{"mr-1", "mr-1", old}, {"mr-2", "mr-2", recent}, {"branch-x", "branch-x", old},
				{"sha-abc", "sha-abc", recent}, {"latest", "main", old}, {"v1.0.0", "v1", old},
			},
			wantGone: []string{"mr-1", "branch-x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.job, func(t *testing.T) {
			job, ok := examples[tt.job]
			if !ok {
				t.Fatalf("examples.yml has no job %s", tt.job)
			}
			if job.Extends != ".regsweep" {
				t.Fatalf("%s extends %v, want .regsweep", tt.job, job.Extends)
			}
			reg := startRegistry(t, creds{User: "gitlab-ci-token", Pass: jobToken})
			repo := reg.Host + "/group/project"
			reg.push(t, repo, tt.images)
			before := reg.state(t, repo)

			dir := t.TempDir()
			env := gitlabEnv(reg, dir)
			for k, v := range tt.vars {
				env[k] = v
			}
			// GitLab's order: global (template) variables, then the
			// job's, the job's own winning; each expanded against what is
			// already defined.
			for _, layer := range []map[string]string{tmplVars, base.Variables, job.Variables} {
				for k, v := range layer {
					env[k] = os.Expand(v, func(name string) string { return env[name] })
				}
			}
			res := runBinary(t, env, script[1:]...)
			if res.Code != 0 {
				t.Fatalf("exit %d\n%s", res.Code, res.Log())
			}
			checkFinal(t, before, reg.state(t, repo), tt.wantGone)
			for _, p := range append(base.Artifacts.Paths, base.Artifacts.Reports.Dotenv) {
				if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
					t.Errorf("artifact %s declared by the template was not written: %v", p, err)
				}
			}
			b, err := os.ReadFile(filepath.Join(dir, base.Artifacts.Reports.Dotenv))
			if err != nil {
				t.Fatal(err)
			}
			d, err := ciparse.Dotenv(b)
			if err != nil {
				t.Fatal(err)
			}
			if d["REGSWEEP_OUT_DELETED_COUNT"] != strconv.Itoa(len(tt.wantGone)) {
				t.Errorf("REGSWEEP_OUT_DELETED_COUNT = %q, want %d", d["REGSWEEP_OUT_DELETED_COUNT"], len(tt.wantGone))
			}
			checkNoSecret(t, jobToken, map[string]string{"log": res.Log(), "dotenv": string(b)})
		})
	}
}
