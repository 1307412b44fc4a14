package dist3test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/testkit/ciparse"
	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

// ghToken stands in for ${{ github.token }}, which the runner always sends
// as INPUT_GITHUB-TOKEN (action.yml's default).
const ghToken = "ghs_FAKEt0kenForProviderTest0001"

// ghRun is one GitHub Actions step run.
type ghRun struct {
	result
	Outputs map[string]string
	Summary string
	Files   map[string]string // GITHUB_OUTPUT and GITHUB_STEP_SUMMARY as written
}

// runGitHub runs the binary as the runner runs a container action: every
// declared input as INPUT_<NAME> (upper-cased, dashes kept), the runner's
// file commands, and nothing else of the machine.
func runGitHub(t *testing.T, inputs map[string]string) ghRun {
	t.Helper()
	return runGitHubIn(t, t.TempDir(), inputs)
}

// runGitHubIn is runGitHub with dir as the workspace and working directory.
func runGitHubIn(t *testing.T, dir string, inputs map[string]string) ghRun {
	t.Helper()
	files := map[string]string{}
	for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE"} {
		files[f] = filepath.Join(dir, strings.ToLower(f))
		if err := os.WriteFile(files[f], nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"CI":                "true",
		"GITHUB_ACTIONS":    "true",
		"GITHUB_WORKSPACE":  dir,
		"RUNNER_TEMP":       dir,
		"RUNNER_OS":         "Linux",
		"GITHUB_REPOSITORY": "octo/app",
		"GITHUB_EVENT_NAME": "pull_request",
		"GITHUB_SERVER_URL": "https://github.com",
		// Unroutable: nothing here may call the GitHub API.
		"GITHUB_API_URL": "http://127.0.0.1:1",
	}
	for k, v := range files {
		env[k] = v
	}
	all := e2e.ActionInputs(t, ghToken)
	for k, v := range inputs {
		if _, ok := all[k]; !ok {
			t.Fatalf("input %q is not declared in action.yml", k)
		}
		all[k] = v
	}
	for k, v := range all {
		env["INPUT_"+strings.ToUpper(strings.ReplaceAll(k, " ", "_"))] = v
	}
	res := runBinaryIn(t, dir, env)
	out := ghRun{result: res, Files: map[string]string{}}
	for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE"} {
		b, err := os.ReadFile(files[f])
		if err != nil {
			t.Fatal(err)
		}
		out.Files[f] = string(b)
	}
	for _, f := range []string{"GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE"} {
		if out.Files[f] != "" {
			t.Errorf("%s written: %q", f, out.Files[f])
		}
	}
	outs, err := ciparse.GitHubEnvFile([]byte(out.Files["GITHUB_OUTPUT"]))
	if err != nil {
		t.Fatalf("GITHUB_OUTPUT does not parse as the runner reads it: %v\n%s", err, out.Files["GITHUB_OUTPUT"])
	}
	out.Outputs = outs
	out.Summary = out.Files["GITHUB_STEP_SUMMARY"]
	return out
}

// checkGitHubSecrets checks that every secret is registered with
// ::add-mask:: before anything else is logged, and appears nowhere else.
func checkGitHubSecrets(t *testing.T, r ghRun, secrets ...string) {
	t.Helper()
	lines := strings.Split(r.Stdout, "\n")
	masked := map[string]bool{}
	first := -1 // first line that is not a mask
	for i, l := range lines {
		if s, ok := strings.CutPrefix(l, "::add-mask::"); ok {
			if first >= 0 {
				t.Errorf("::add-mask:: on line %d after other output on line %d (%q)", i+1, first+1, lines[first])
			}
			masked[s] = true
			continue
		}
		if first < 0 && l != "" {
			first = i
		}
	}
	var rest []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "::add-mask::") {
			rest = append(rest, l)
		}
	}
	for _, s := range secrets {
		if !masked[s] {
			t.Errorf("secret %q never masked; stdout:\n%s", s, r.Stdout)
		}
		checkNoSecret(t, s, map[string]string{
			"stdout (besides ::add-mask::)": strings.Join(rest, "\n"),
			"stderr":                        r.Stderr,
			"GITHUB_OUTPUT":                 r.Files["GITHUB_OUTPUT"],
			"GITHUB_STEP_SUMMARY":           r.Summary,
		})
	}
}

// TestGitHub runs the action's inputs (as the runner sends them) against a
// registry that wants the username/password inputs: a dry run, then the
// real run, which must delete exactly what the dry run planned.
func TestGitHub(t *testing.T) {
	c := creds{User: "gh-user", Pass: "gh-S3cret-PASS-for-registry"}
	reg := startRegistry(t, c)
	repo := reg.Host + "/octo/app"
	reg.seedDemo(t, repo)
	before := reg.state(t, repo)
	inputs := map[string]string{
		"repository": repo,
		"tags":       "pr-*",
		"username":   c.User,
		"password":   c.Pass,
	}

	inputs["dry-run"] = "true"
	dry := runGitHub(t, inputs)
	if dry.Code != 0 {
		t.Fatalf("dry run exit %d\n%s", dry.Code, dry.Log())
	}
	checkFinal(t, before, reg.state(t, repo), nil)
	checkGitHubSecrets(t, dry, c.Pass, ghToken)
	if dry.Outputs["dry-run"] != "true" {
		t.Errorf("dry run: output dry-run = %q", dry.Outputs["dry-run"])
	}

	inputs["dry-run"] = "false"
	real := runGitHub(t, inputs)
	if real.Code != 0 {
		t.Fatalf("real run exit %d\n%s", real.Code, real.Log())
	}
	checkGitHubSecrets(t, real, c.Pass, ghToken)
	after := reg.state(t, repo)
	// pr-1..pr-5 go (pr-5 by untagging: it shares latest's digest) and so
	// does pr-2's signature; latest and the releases stay.
	pr2Sig := "sha256-" + strings.TrimPrefix(before["pr-2"], "sha256:") + ".sig"
	checkFinal(t, before, after, []string{"pr-1", "pr-2", "pr-3", "pr-4", "pr-5", pr2Sig})
	if reg.Wrong() > 0 {
		t.Errorf("%d requests carried other credentials than the inputs", reg.Wrong())
	}

	if real.Outputs["dry-run"] != "false" {
		t.Errorf("output dry-run = %q", real.Outputs["dry-run"])
	}
	sameStrings(t, "deleted-tags", e2e.BareTags(t, jsonStrings(t, "deleted-tags", real.Outputs["deleted-tags"])), removed(before, after))
	for _, o := range []string{"deleted-tags", "deleted-digests", "deleted-images", "deleted-count"} {
		if dry.Outputs[o] != real.Outputs[o] {
			t.Errorf("output %s: dry run planned %s, real run did %s", o, dry.Outputs[o], real.Outputs[o])
		}
	}
	for _, d := range jsonStrings(t, "deleted-digests", real.Outputs["deleted-digests"]) {
		for tag, td := range after {
			if td == d {
				t.Errorf("deleted digest %s is still tagged %s", d, tag)
			}
		}
	}
	for _, tag := range []string{"pr-1", "pr-3", "pr-5"} {
		if !strings.Contains(real.Summary, tag) {
			t.Errorf("job summary does not name %s:\n%s", tag, real.Summary)
		}
	}
	snaps.MatchJSON(t, normalizeOutputs(real.Outputs))
}

// normalizeOutputs makes outputs snapshot-stable.
func normalizeOutputs(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = normalize(v)
	}
	return out
}

// TestGitHubRunStep runs the CLI in a workflow `run:` step: GITHUB_ACTIONS
// is set (every step has it) but no INPUT_*; the settings come from the
// step's `env:` as REGSWEEP_* and flags, as the README documents, and the
// outputs still go to GITHUB_OUTPUT for later steps.
func TestGitHubRunStep(t *testing.T) {
	reg := startRegistry(t, creds{})
	repo := reg.Host + "/octo/app"
	reg.seedDemo(t, repo)
	before := reg.state(t, repo)
	dir := t.TempDir()
	outFile := filepath.Join(dir, "output")
	env := map[string]string{
		"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": outFile,
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		"REGSWEEP_TAGS":       "pr-*",
		"REGSWEEP_DRY_RUN":    "true",
	}
	r := runBinary(t, env, "--repository", repo)
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Log())
	}
	// REGSWEEP_DRY_RUN=true was set: ignoring it would delete.
	checkFinal(t, before, reg.state(t, repo), nil)
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := ciparse.GitHubEnvFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if outs["dry-run"] != "true" || outs["deleted-count"] != "5" {
		t.Errorf("outputs: %v", outs)
	}
}

// `regsweep --json | jq` in a GitHub run step: stdout is one JSON object,
// not mixed with workflow commands.
func TestGitHubRunStepJSON(t *testing.T) {
	reg := startRegistry(t, creds{})
	repo := reg.Host + "/octo/json"
	reg.seedDemo(t, repo)
	dir := t.TempDir()
	env := map[string]string{
		"CI": "true", "GITHUB_ACTIONS": "true",
		"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
	}
	r := runBinary(t, env, "--repository", repo, "--tags", "pr-*", "--dry-run", "--json")
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Log())
	}
	rec := decodeOneObject(t, r.Stdout)
	if !rec.DryRun || rec.DeletedCount != 5 {
		t.Errorf("--json record: %+v", rec)
	}
}
