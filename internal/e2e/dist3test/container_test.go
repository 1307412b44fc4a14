package dist3test

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/ciparse"
	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

// dockerfile is the parts of the Dockerfile the container action depends
// on: the build command, and the final stage's files and entrypoint.
type dockerfile struct {
	build      []string          // RUN of the build stage that writes the binary
	copies     map[string]string // final stage: destination -> source in the build stage
	entrypoint []string
}

// readDockerfile reads ../../../Dockerfile: the `go build` RUN of the build
// stage and the COPY and ENTRYPOINT lines of the `action` stage (the image
// action.yml runs).
func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := dockerfile{copies: map[string]string{}}
	stage := ""
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch {
		case f[0] == "FROM":
			stage = ""
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				stage = f[3]
			}
		case stage == "build" && f[0] == "RUN" && strings.Contains(line, "go build"):
			df.build = shellWords(t, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "RUN")))
		case stage == "action" && f[0] == "COPY" && len(f) == 4 && f[1] == "--from=build":
			df.copies[f[3]] = f[2]
		case stage == "action" && f[0] == "ENTRYPOINT":
			if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "ENTRYPOINT"))), &df.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT is not an exec-form JSON array: %v", err)
			}
		}
	}
	if len(df.build) == 0 || len(df.copies) == 0 || len(df.entrypoint) == 0 {
		t.Fatalf("the Dockerfile's build RUN, action-stage COPY or ENTRYPOINT not found: %+v", df)
	}
	return df
}

// shellWords splits a shell command line with double quotes and ${VAR}
// (VERSION and REVISION as the build arguments give them), which is all the
// Dockerfile's build line uses.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	s = strings.NewReplacer("${VERSION}", binVersion, "${REVISION}", binRevision).Replace(s)
	if strings.ContainsAny(s, "'$`\\|&;<>") {
		t.Fatalf("the build line uses shell syntax this test does not read: %s", s)
	}
	var words []string
	var cur strings.Builder
	in, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			in, have = !in, true
		case r == ' ' && !in:
			if have {
				words = append(words, cur.String())
			}
			cur.Reset()
			have = false
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		words = append(words, cur.String())
	}
	return words
}

// TestContainerAction runs the action the way the runner runs a container
// action, as far as this machine allows without a Docker engine: the binary
// built by the Dockerfile's own build command, put by the final stage's
// COPY lines into an otherwise empty root (what FROM scratch gives: no
// shell, no libc, no /tmp), started through its ENTRYPOINT inside that root
// (chroot), in /github/workspace, with the runner's container environment
// (INPUT_*, /github/file_commands/...). It then checks the outputs, the
// summary and the registry's real state.
func TestContainerAction(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root; this machine's CI runs as root")
	}
	df := readDockerfile(t)

	// RUN CGO_ENABLED=0 go build ... -o /out/regsweep .
	dir := t.TempDir()
	out := filepath.Join(dir, "out-regsweep")
	var env []string
	args := df.build
	for len(args) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(args[0]) {
		env = append(env, args[0])
		args = args[1:]
	}
	built := ""
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			built, args[i+1] = args[i+1], out
		}
	}
	if len(args) < 2 || args[0] != "go" || built == "" {
		t.Fatalf("unexpected build line %q", df.build)
	}
	cmd := exec.Command("go", args[1:]...)
	cmd.Dir = filepath.Join("..", "..", "..")
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", df.build, err, b)
	}
	checkStatic(t, out)

	// FROM scratch + COPY --from=build: the binary from the build, the CA
	// bundle from the build image (Debian, as this machine).
	root := filepath.Join(dir, "root")
	for dst, src := range df.copies {
		from := src
		if src == built {
			from = out
		}
		b, err := os.ReadFile(from)
		if err != nil {
			t.Skipf("the build image's %s is not on this machine: %v", src, err)
		}
		mode := os.FileMode(0o644)
		if src == built {
			mode = 0o755
		}
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(dst)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dst), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	// The runner's mounts: the workspace (the working directory), the file
	// commands and HOME.
	for _, d := range []string{"github/workspace", "github/file_commands", "github/home"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"GITHUB_OUTPUT":       "/github/file_commands/set_output_0d2c",
		"GITHUB_STEP_SUMMARY": "/github/file_commands/step_summary_0d2c",
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}

	c := creds{User: "ctr-user", Pass: "ctr-S3cret-PASS"}
	reg := startRegistry(t, c)
	repo := reg.Host + "/octo/app"
	reg.seedDemo(t, repo)
	before := reg.state(t, repo)

	inputs := e2e.ActionInputs(t, ghToken)
	for k, v := range map[string]string{"repository": repo, "tags": "pr-*", "username": c.User, "password": c.Pass} {
		inputs[k] = v
	}
	cenv := []string{
		"HOME=/github/home", "CI=true", "GITHUB_ACTIONS=true", "GITHUB_WORKSPACE=/github/workspace",
		"RUNNER_OS=Linux", "RUNNER_TEMP=/home/runner/work/_temp", "GITHUB_REPOSITORY=octo/app",
		"GITHUB_EVENT_NAME=pull_request", "GITHUB_API_URL=http://127.0.0.1:1",
	}
	for k, v := range files {
		cenv = append(cenv, k+"="+v)
	}
	for k, v := range inputs {
		cenv = append(cenv, "INPUT_"+strings.ToUpper(strings.ReplaceAll(k, " ", "_"))+"="+v)
	}
	sort.Strings(cenv)
	run := exec.Command(df.entrypoint[0], df.entrypoint[1:]...)
	run.Path = df.entrypoint[0] // resolved inside the root, not on this PATH
	run.Dir = "/github/workspace"
	run.Env = cenv
	run.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("the entrypoint in the scratch root: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}

	rawOut, err := os.ReadFile(filepath.Join(root, files["GITHUB_OUTPUT"]))
	if err != nil {
		t.Fatal(err)
	}
	outs, err := ciparse.GitHubEnvFile(rawOut)
	if err != nil {
		t.Fatalf("GITHUB_OUTPUT does not parse: %v\n%s", err, rawOut)
	}
	summary, err := os.ReadFile(filepath.Join(root, files["GITHUB_STEP_SUMMARY"]))
	if err != nil {
		t.Fatal(err)
	}
	after := reg.state(t, repo)
	pr2Sig := "sha256-" + strings.TrimPrefix(before["pr-2"], "sha256:") + ".sig"
	checkFinal(t, before, after, []string{"pr-1", "pr-2", "pr-3", "pr-4", "pr-5", pr2Sig})
	sameStrings(t, "deleted-tags", e2e.BareTags(t, jsonStrings(t, "deleted-tags", outs["deleted-tags"])), removed(before, after))
	if outs["deleted-count"] != "5" || !strings.Contains(string(summary), "regsweep") {
		t.Fatalf("deleted-count %q, summary:\n%s", outs["deleted-count"], summary)
	}
	checkGitHubSecrets(t, ghRun{
		result:  result{Stdout: stdout.String(), Stderr: stderr.String()},
		Files:   map[string]string{"GITHUB_OUTPUT": string(rawOut), "GITHUB_STEP_SUMMARY": string(summary)},
		Outputs: outs, Summary: string(summary),
	}, c.Pass, ghToken)
}

// checkStatic fails unless the binary needs no dynamic loader or library:
// FROM scratch has none.
func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary asks for a dynamic loader; a scratch image has none")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Fatalf("the binary needs libraries %v (%v); a scratch image has none", libs, err)
	}
}
