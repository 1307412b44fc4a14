// Package dockertest runs the container action the way GitHub and GitLab
// run it, with nothing emulated: the project's Dockerfile built by a real
// Docker engine, workflows with `uses: ./` and the released action.yml run
// by a real Actions runner (nektos/act), the `shell` image run as a GitLab
// job, each against an embedded registry on 127.0.0.1.
//
// It needs a Docker engine and act: .ci/docker-engine up brings both and
// .ci/run sets REGSWEEP_DOCKER_E2E=1. Without that variable the tests skip
// with a message, unless CI=true: CI must never skip them silently.
package dockertest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = "../../.."

// run runs a command with a deadline and returns its combined output; it
// fails the test on a non-zero exit.
func run(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := try(t, timeout, dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// try is run that returns the error instead of failing.
func try(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return out.String(), err
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
