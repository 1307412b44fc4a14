package dockertest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/testkit/ciparse"
)

// Image names the tests build; act looks a local `uses: ./` action up as
// act-dockeraction:latest and, with --rebuild=false, runs it as it is.
const (
	actionImage    = "regsweep-e2e:action"
	shellImage     = "regsweep-e2e:shell"
	actLocalImage  = "act-dockeraction:latest"
	jobImage       = "busybox:1.37-musl" // made by .ci/docker-engine; the job container
	buildVersion   = "v9.9.9-e2e"
	buildRevision  = "e2erev0"
	buildTimeLimit = 20 * time.Minute
	actTimeLimit   = 10 * time.Minute
)

// TestContainerAction builds the image from the project's Dockerfile and
// runs it every way a user does, in order: the image itself; a workflow
// with `uses: ./` under act (sweep, dry run, bad input, outputs read by a
// later step, job summary); the released action.yml pinned by digest, its
// image pulled from a registry; the `shell` image as a GitLab job.
func TestContainerAction(t *testing.T) {
	tl := needEngine(t)

	t.Run("Dockerfile builds", func(t *testing.T) {
		d := build(t, tl, actionImage, "")
		t.Logf("docker build (action image): %s", d.Round(100*time.Millisecond))
		d = build(t, tl, shellImage, "shell")
		t.Logf("docker build --target shell, after the action image: %s", d.Round(100*time.Millisecond))
		run(t, time.Minute, "", nil, tl.docker, "tag", actionImage, actLocalImage)
		checkImage(t, tl)
	})
	if t.Failed() {
		t.FailNow()
	}
	t.Run("container start to first request", func(t *testing.T) { startToFirstRequest(t, tl) })
	t.Run("uses: ./ under act", func(t *testing.T) { usesLocal(t, tl) })
	t.Run("released action.yml under act", func(t *testing.T) { released(t, tl) })
	t.Run("GitLab job in the shell image", func(t *testing.T) { gitlabJob(t, tl) })
}

// build runs the legacy builder the way the runner setup does
// (BuildKit needs a network this engine does not have).
func build(t *testing.T, tl tools, tag, target string) time.Duration {
	t.Helper()
	args := []string{"build", "--network", "host", "--build-arg", "VERSION=" + buildVersion,
		"--build-arg", "REVISION=" + buildRevision, "-t", tag}
	if target != "" {
		args = append(args, "--target", target)
	}
	start := time.Now()
	out, err := try(t, buildTimeLimit, repoRoot, []string{"DOCKER_BUILDKIT=0"}, tl.docker, append(args, ".")...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, tail(out, 60))
	}
	return time.Since(start)
}

// checkImage checks what the runner relies on: the entrypoint, root, no
// WORKDIR (the runner sets it), the version built in, a static binary that
// runs in an image without libc.
func checkImage(t *testing.T, tl tools) {
	t.Helper()
	var inspect []struct {
		Size   int64
		Config struct {
			Entrypoint []string
			User       string
			WorkingDir string
			Labels     map[string]string
		}
	}
	if err := json.Unmarshal([]byte(run(t, time.Minute, "", nil, tl.docker, "image", "inspect", actionImage)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("docker image inspect: %v", err)
	}
	c := inspect[0].Config
	if !slices.Equal(c.Entrypoint, []string{"/regsweep"}) || (c.User != "" && c.User != "root" && c.User != "0") || c.WorkingDir != "" {
		t.Errorf("image config: entrypoint %q, user %q, workdir %q; the runner needs /regsweep, root and no WORKDIR", c.Entrypoint, c.User, c.WorkingDir)
	}
	if c.Labels["org.opencontainers.image.version"] != buildVersion {
		t.Errorf("version label %q, want %q", c.Labels["org.opencontainers.image.version"], buildVersion)
	}
	t.Logf("action image size: %.1f MiB", float64(inspect[0].Size)/(1<<20))
	out := run(t, time.Minute, "", nil, tl.docker, "run", "--rm", "--network", "host", actionImage, "--version")
	if !strings.Contains(out, buildVersion) || !strings.Contains(out, buildRevision) {
		t.Errorf("--version in the image printed %q, want %s and %s", out, buildVersion, buildRevision)
	}
}

// startToFirstRequest times `docker run` of the action image until the
// registry sees its first request, three times.
func startToFirstRequest(t *testing.T, tl tools) {
	var took []time.Duration
	for range 3 {
		reg := startRegistry(t)
		start := time.Now()
		// A named repository the registry does not know is a failure
		// (exit 1, named), which also proves that path in the real image.
		out, err := try(t, time.Minute, "", nil, tl.docker, "run", "--rm", "--network", "host", actionImage,
			"--repository", reg.Host+"/octo/none", "--tags", "pr-*", "--dry-run")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(out, "does not exist") {
			t.Fatalf("a run on a missing repository: %v, want exit 1 saying the repository does not exist\n%s", err, out)
		}
		first := reg.firstRequest()
		if first.IsZero() {
			t.Fatal("the container made no request to the registry")
		}
		took = append(took, first.Sub(start).Round(time.Millisecond))
	}
	t.Logf("docker run to the registry's first request: %v", took)
}

// actJob is what one act run left: its log lines and the job's result.
type actJob struct {
	log   string
	lines []map[string]any
	err   error
}

// runAct runs one workflow file with act in workdir, with the settings
// this engine needs (no image pulls, the action image prebuilt, host
// network, no socket mounted into the job).
func runAct(t *testing.T, tl tools, workdir, workflow string, extra ...string) actJob {
	t.Helper()
	home := t.TempDir()
	args := append([]string{"push", "-W", workflow,
		"-P", "ubuntu-latest=" + jobImage, "--pull=false", "--rebuild=false",
		"--container-options", "--network host", "--network", "host",
		"--container-daemon-socket", "-", "--no-cache-server", "--rm",
		"--artifact-server-addr", "127.0.0.1", "--cache-server-addr", "127.0.0.1",
		"--json"}, extra...)
	out, err := try(t, actTimeLimit, workdir,
		[]string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache")},
		tl.act, args...)
	j := actJob{log: out, err: err}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			j.lines = append(j.lines, m)
		}
	}
	return j
}

// summaries are the job summaries act read after each step, by step id.
func (j actJob) summaries() map[string]string {
	out := map[string]string{}
	for _, l := range j.lines {
		if l["command"] == "summary" {
			out[stepID(l)] += fmt.Sprint(l["content"])
		}
	}
	return out
}

// stepID is the id of the step a log line belongs to.
func stepID(l map[string]any) string {
	if ids, ok := l["stepID"].([]any); ok && len(ids) > 0 {
		return fmt.Sprint(ids[0])
	}
	return ""
}

// stepResults are the steps' results (success, failure), by step id.
func (j actJob) stepResults() map[string]string {
	out := map[string]string{}
	for _, l := range j.lines {
		if r, ok := l["stepResult"].(string); ok {
			out[stepID(l)] = r
		}
	}
	return out
}

// marked returns the `name=value` pairs that steps printed after marker.
func (j actJob) marked(marker string) map[string]string {
	out := map[string]string{}
	for _, l := range j.lines {
		msg, _ := l["msg"].(string)
		for _, line := range strings.Split(msg, "\n") {
			rest, ok := strings.CutPrefix(strings.TrimSpace(line), marker+" ")
			if !ok {
				continue
			}
			if k, v, ok := strings.Cut(rest, "="); ok {
				out[k] = v
			}
		}
	}
	return out
}

// stepLines returns what follows prefix in the log lines of one step.
func (j actJob) stepLines(id, prefix string) []string {
	var out []string
	for _, l := range j.lines {
		msg, _ := l["msg"].(string)
		if stepID(l) != id {
			continue
		}
		if _, rest, ok := strings.Cut(msg, prefix); ok {
			out = append(out, strings.TrimSpace(rest))
		}
	}
	return out
}

// jobSucceeded says whether act reported the job as a success.
func (j actJob) jobSucceeded() bool {
	for _, l := range j.lines {
		if l["jobResult"] == "success" {
			return j.err == nil
		}
	}
	return false
}

// localWorkflow exercises `uses: ./` as the README shows it: a dry run, the
// sweep, a bad input whose step fails, and a later step reading outputs.
const localWorkflow = `name: e2e
on: push
defaults:
  run:
    shell: sh # the job image is busybox: no bash
jobs:
  sweep:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: dry
        uses: ./
        with:
          repository: %[1]s
          tags: pr-*
          dry-run: true
      - id: sweep
        uses: ./
        with:
          repository: %[1]s
          tags: |
            pr-*
          plan-out: regsweep-plan.json
      - id: expand
        uses: ./
        with:
          repository: %[4]s
          expand-only: true
          shards: 2
      - id: bad
        uses: ./
        continue-on-error: true
        with:
          repository: %[1]s
          tags: pr-*
          older-than: yesterday
      - name: read the outputs
        env:
          DRY_COUNT: ${{ steps.dry.outputs.deleted-count }}
          DRY_RUN: ${{ steps.dry.outputs.dry-run }}
          BAD: ${{ steps.bad.outcome }}
%[2]s        run: |
          echo "e2e-dry count=$DRY_COUNT"
          echo "e2e-dry dry-run=$DRY_RUN"
          echo "e2e-bad outcome=$BAD"
%[3]s          test "$OUT_DELETED_COUNT" -ge 1
`

// readOutputs is the env and run lines of a step that prints every output
// action.yml declares, as the sweep step set it (an expand-only output: as
// the expand step set it): `e2e-out NAME=VALUE`.
func readOutputs(t *testing.T) (names []string, env, script string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Outputs map[string]any `yaml:"outputs"`
	}
	if err := yaml.Unmarshal(b, &action); err != nil || len(action.Outputs) == 0 {
		t.Fatalf("action.yml declares no outputs: %v", err)
	}
	for n := range action.Outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	expandOnly := map[string]bool{}
	for _, d := range report.OutputDefinitions() {
		expandOnly[d.Name] = d.ExpandOnly()
	}
	var e, r strings.Builder
	for _, n := range names {
		v := "OUT_" + strings.ToUpper(strings.ReplaceAll(n, "-", "_"))
		step := "sweep"
		if expandOnly[n] {
			step = "expand"
		}
		fmt.Fprintf(&e, "          %s: ${{ steps.%s.outputs.%s }}\n", v, step, n)
		fmt.Fprintf(&r, "          echo \"e2e-out %s=$%s\"\n", n, v)
	}
	return names, e.String(), r.String()
}

// usesLocal runs localWorkflow against a seeded registry.
func usesLocal(t *testing.T, tl tools) {
	reg := startRegistry(t)
	repo := reg.Host + "/octo/app"
	before := reg.seedDemo(t, repo)
	work := scratchRepo(t)
	wf := filepath.Join(t.TempDir(), "e2e.yml")
	outNames, outEnv, outScript := readOutputs(t)
	if err := os.WriteFile(wf, fmt.Appendf(nil, localWorkflow, repo, outEnv, outScript, reg.Host+"/octo/*"), 0o644); err != nil {
		t.Fatal(err)
	}
	j := runAct(t, tl, work, wf, "--verbose") // the containers' exit codes are debug lines
	if !j.jobSucceeded() {
		t.Fatalf("the workflow failed: %v\n%s", j.err, tail(j.log, 80))
	}
	after := reg.state(t, repo)
	checkFinal(t, before, after, demoGone(before))

	// Every output action.yml declares is one the container set: a name
	// that differs from what regsweep writes reads as empty here.
	out := j.marked("e2e-out")
	for _, n := range outNames {
		if out[n] == "" {
			t.Errorf("output %s, declared in action.yml, is empty after the sweep", n)
		}
	}
	if dry := j.marked("e2e-dry"); dry["count"] != "5" || dry["dry-run"] != "true" {
		t.Errorf("dry run outputs: deleted-count %q, dry-run %q; want 5 planned and true", dry["count"], dry["dry-run"])
	}
	if out["deleted-count"] != "5" || out["failed-count"] != "0" || out["dry-run"] != "false" {
		t.Errorf("sweep outputs: deleted-count %q, failed-count %q, dry-run %q; want 5, 0, false",
			out["deleted-count"], out["failed-count"], out["dry-run"])
	}
	// deleted-tags names full references (host/repo:tag), whatever a
	// wildcard matches.
	want := removed(before, after)
	for i, tag := range want {
		want[i] = repo + ":" + tag
	}
	if got := jsonStrings(t, "deleted-tags", out["deleted-tags"]); !slices.Equal(got, want) {
		t.Errorf("deleted-tags = %q, want the tags gone from the registry %q", got, want)
	}
	if got := jsonStrings(t, "deleted-digests", out["deleted-digests"]); len(got) != 5 {
		t.Errorf("deleted-digests = %q, want 5", got)
	}
	// The expand-only step lists what the wildcard names: the one repository.
	if got := jsonStrings(t, "repositories", out["repositories"]); len(got) != 1 || !strings.HasSuffix(got[0], "octo/app") {
		t.Errorf("expand-only repositories = %q, want the one repository octo/app", got)
	}
	// latest shares pr-5's image: distribution 3 untags pr-5 alone, so no
	// matching tag is kept.
	if out["kept-tags"] != "[]" {
		t.Errorf("kept-tags = %q, want []", out["kept-tags"])
	}
	// Exit code 2 is a failed step; continue-on-error lets the job go on.
	if bad := j.marked("e2e-bad"); bad["outcome"] != "failure" {
		t.Errorf("the bad input step's outcome is %q, want failure", bad["outcome"])
	}
	if res := j.stepResults(); res["bad"] != "failure" || res["sweep"] != "success" || res["dry"] != "success" {
		t.Errorf("step results %v", res)
	}
	if got := j.stepLines("bad", "Return status: "); !slices.Equal(got, []string{"2"}) {
		t.Errorf("the bad input's container exited with %q, want 2", got)
	}
	if got := j.stepLines("bad", "::error::"); len(got) != 1 || !strings.Contains(got[0], "older-than") {
		t.Errorf("the bad input's step printed errors %q, want one naming older-than", got)
	}

	sums := j.summaries()
	if s := sums["sweep"]; !strings.Contains(s, "regsweep") || !strings.Contains(s, "pr-3") {
		t.Errorf("the sweep's job summary is missing or incomplete:\n%s", s)
	}
	if s := sums["dry"]; !strings.Contains(strings.ToLower(s), "dry run") {
		t.Errorf("the dry run's job summary does not say it is a dry run:\n%s", s)
	}
}

// removed is the sorted list of tags in before and not in after.
func removed(before, after map[string]string) []string {
	var out []string
	for tag := range before {
		if _, ok := after[tag]; !ok {
			out = append(out, tag)
		}
	}
	sort.Strings(out)
	return out
}

// releasedWorkflow uses the action as a user of a release does; act is
// told that regsweep/regsweep@v1.2.3 is the scratch repository at the
// release commit.
const releasedWorkflow = `name: released
on: push
defaults:
  run:
    shell: sh
jobs:
  sweep:
    runs-on: ubuntu-latest
    steps:
      - id: sweep
        uses: regsweep/regsweep@v1.2.3
        with:
          repository: %[1]s
          tags: pr-*
      - env:
          COUNT: ${{ steps.sweep.outputs.deleted-count }}
        run: echo "e2e-out count=$COUNT"
`

// released pushes the built image to a registry, rewrites action.yml with
// the release script on a scratch copy, and runs the release commit's
// action under act: the runner must pull the image by its digest. A
// release naming a digest the registry does not have must fail the job.
func released(t *testing.T, tl tools) {
	images := startRegistry(t) // stands in for ghcr.io
	pushed := images.Host + "/regsweep/regsweep:v1.2.3"
	run(t, time.Minute, "", nil, tl.docker, "tag", actionImage, pushed)
	out := run(t, 5*time.Minute, "", nil, tl.docker, "push", pushed)
	digest := regexp.MustCompile(`digest: (sha256:[0-9a-f]{64})`).FindStringSubmatch(out)
	if digest == nil {
		t.Fatalf("docker push printed no digest:\n%s", out)
	}
	pinned := images.Host + "/regsweep/regsweep@" + digest[1]
	// t.Context is over by cleanup time.
	t.Cleanup(func() { _ = exec.Command(tl.docker, "rmi", pinned).Run() })
	// Only the registry has the image under that name now: act must pull it.
	run(t, time.Minute, "", nil, tl.docker, "rmi", pushed)
	if _, err := try(t, time.Minute, "", nil, tl.docker, "image", "inspect", pinned); err == nil {
		t.Fatalf("%s still resolves locally after docker rmi; the pull would not be tested", pinned)
	}

	for _, tc := range []struct {
		name, ref string
		ok        bool
	}{
		{"the pushed image by digest", pinned, true},
		{"a digest the registry does not have", images.Host + "/regsweep/regsweep@sha256:" + strings.Repeat("0", 64), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := startRegistry(t)
			repo := reg.Host + "/octo/app"
			before := reg.seedDemo(t, repo)
			work := scratchRepo(t)
			if out, err := release(t, work, "v1.2.3", tc.ref); err != nil {
				t.Fatalf("release-action: %v\n%s", err, out)
			}
			if got := imageLine(t, work, "HEAD"); got != "image: docker://"+tc.ref {
				t.Fatalf("the release commit's action.yml says %q", got)
			}
			wf := filepath.Join(t.TempDir(), "released.yml")
			if err := os.WriteFile(wf, fmt.Appendf(nil, releasedWorkflow, repo), 0o644); err != nil {
				t.Fatal(err)
			}
			j := runAct(t, tl, t.TempDir(), wf, "--local-repository", "regsweep/regsweep@v1.2.3="+work)
			if !tc.ok {
				if j.jobSucceeded() {
					t.Fatalf("a release naming a missing image ran:\n%s", tail(j.log, 40))
				}
				if !strings.Contains(j.log, "manifest unknown") {
					t.Errorf("the job failed, but not because the image is missing:\n%s", tail(j.log, 20))
				}
				checkFinal(t, before, reg.state(t, repo), nil)
				return
			}
			if !j.jobSucceeded() {
				t.Fatalf("the released action failed: %v\n%s", j.err, tail(j.log, 80))
			}
			// It was not here before the job: the runner pulled it.
			if _, err := try(t, time.Minute, "", nil, tl.docker, "image", "inspect", tc.ref); err != nil {
				t.Errorf("%s is not in the engine after the job: it was not pulled by digest", tc.ref)
			}
			checkFinal(t, before, reg.state(t, repo), demoGone(before))
			if got := j.marked("e2e-out")["count"]; got != "5" {
				t.Errorf("deleted-count read by the next step = %q, want 5", got)
			}
		})
	}
}

// gitlabJob runs the `shell` image as GitLab's Docker executor runs a job
// that extends the template's .regsweep: the entrypoint overridden, the
// script run by sh in the project directory, CI_* variables set, then the
// dotenv report and the summary artifact read back.
func gitlabJob(t *testing.T, tl tools) {
	var tmpl struct {
		Variables map[string]string `yaml:"variables"`
		Job       struct {
			Image struct {
				Entrypoint []string `yaml:"entrypoint"`
			} `yaml:"image"`
			Variables map[string]string `yaml:"variables"`
			Script    []string          `yaml:"script"`
			Artifacts struct {
				Paths   []string `yaml:"paths"`
				Reports struct {
					Dotenv string `yaml:"dotenv"`
				} `yaml:"reports"`
			} `yaml:"artifacts"`
		} `yaml:".regsweep"`
	}
	b, err := os.ReadFile(filepath.Join(repoRoot, "ci", "gitlab", "regsweep.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &tmpl); err != nil {
		t.Fatalf("ci/gitlab/regsweep.yml: %v", err)
	}
	if len(tmpl.Job.Script) == 0 || len(tmpl.Job.Image.Entrypoint) != 1 || tmpl.Job.Image.Entrypoint[0] != "" {
		t.Fatalf("the template's .regsweep job has script %q and entrypoint %q", tmpl.Job.Script, tmpl.Job.Image.Entrypoint)
	}

	reg := startRegistry(t)
	repo := reg.Host + "/group/project"
	before := reg.seedDemo(t, repo)
	project := t.TempDir()
	if err := os.Chmod(project, 0o777); err != nil {
		t.Fatal(err)
	}
	const dir = "/builds/group/project"
	env := map[string]string{
		"CI": "true", "GITLAB_CI": "true", "CI_SERVER": "yes", "CI_JOB_ID": "4242", "CI_PIPELINE_ID": "77",
		"CI_PROJECT_PATH": "group/project", "CI_PROJECT_DIR": dir, "CI_REGISTRY": reg.Host,
		"CI_REGISTRY_IMAGE": repo, "CI_SERVER_URL": "http://127.0.0.1:1",
		"REGSWEEP_TAGS": "pr-*", // what a job extending .regsweep sets
	}
	// GitLab's order: global variables, then the job's, each expanded
	// against what is already defined.
	for _, layer := range []map[string]string{tmpl.Variables, tmpl.Job.Variables} {
		keys := make([]string, 0, len(layer))
		for k := range layer {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			env[k] = os.Expand(layer[k], func(name string) string { return env[name] })
		}
	}
	args := []string{"run", "--rm", "--network", "host", "--entrypoint", "", "-v", project + ":" + dir, "-w", dir}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-e", k+"="+env[k])
	}
	args = append(args, shellImage, "sh", "-c", strings.Join(tmpl.Job.Script, "\n"))
	log := run(t, 2*time.Minute, "", nil, tl.docker, args...)

	checkFinal(t, before, reg.state(t, repo), demoGone(before))
	for _, p := range append(slices.Clone(tmpl.Job.Artifacts.Paths), tmpl.Job.Artifacts.Reports.Dotenv) {
		if _, err := os.Stat(filepath.Join(project, p)); err != nil {
			t.Errorf("artifact %s was not written: %v\n%s", p, err, log)
		}
	}
	raw, err := os.ReadFile(filepath.Join(project, tmpl.Job.Artifacts.Reports.Dotenv))
	if err != nil {
		t.Fatal(err)
	}
	dotenv, err := ciparse.Dotenv(raw)
	if err != nil {
		t.Fatalf("the dotenv report does not parse: %v\n%s", err, raw)
	}
	if dotenv["REGSWEEP_OUT_DELETED_COUNT"] != "5" || dotenv["REGSWEEP_OUT_FAILED_COUNT"] != "0" {
		t.Errorf("dotenv report:\n%s", raw)
	}
	// The dotenv report carries counts and a pointer to the record; the
	// lists are in the record file, an artifact beside it.
	if _, listed := dotenv["REGSWEEP_OUT_DELETED_DIGESTS"]; listed {
		t.Errorf("the dotenv report carries a list, which GitLab's size limit cannot hold at scale:\n%s", raw)
	}
	recPath := dotenv["REGSWEEP_OUT_RECORD_FILE"]
	if rel, err := filepath.Rel(dir, recPath); filepath.IsAbs(recPath) && err == nil {
		recPath = rel
	}
	recRaw, err := os.ReadFile(filepath.Join(project, recPath))
	if err != nil {
		t.Fatalf("record file %q named by the dotenv report: %v\n%s", dotenv["REGSWEEP_OUT_RECORD_FILE"], err, raw)
	}
	var rec struct {
		DeletedDigests []string `json:"deleted-digests"`
	}
	if err := json.Unmarshal(recRaw, &rec); err != nil {
		t.Fatalf("record file: %v", err)
	}
	if n, err := strconv.Atoi(dotenv["REGSWEEP_OUT_DELETED_COUNT"]); err != nil || n != len(rec.DeletedDigests) {
		t.Errorf("REGSWEEP_OUT_DELETED_COUNT does not match the record's deleted-digests %q:\n%s", rec.DeletedDigests, raw)
	}
	for _, p := range tmpl.Job.Artifacts.Paths {
		s, err := os.ReadFile(filepath.Join(project, p))
		if err != nil {
			continue // reported above
		}
		first, _, _ := strings.Cut(strings.TrimSpace(string(s)), "\n")
		if strings.HasSuffix(p, ".md") && (!strings.Contains(string(s), "pr-3") || first == "" || !strings.Contains(log, first)) {
			t.Errorf("summary artifact %s is incomplete or not in the job log:\n%s", p, s)
		}
	}
}
