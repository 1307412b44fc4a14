package dockertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// tools are the programs the tests drive.
type tools struct {
	docker string
	act    string
}

// needEngine returns the docker and act commands, or skips the test when
// the Docker end-to-end tests were not asked for outside CI. In CI, or when
// asked for, a missing engine or act fails the test.
func needEngine(t *testing.T) tools {
	t.Helper()
	asked := os.Getenv("REGSWEEP_DOCKER_E2E") != ""
	if !asked {
		msg := "the Docker end-to-end tests need a Docker engine and act: run `eval \"$(.ci/docker-engine up)\"`, " +
			"then `REGSWEEP_DOCKER_E2E=1 go test -timeout 30m ./internal/e2e/dockertest` (.ci/run does both)"
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but REGSWEEP_DOCKER_E2E is not set, so the container action would go untested: " + msg)
		}
		t.Skip(msg)
	}
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Fatalf("REGSWEEP_DOCKER_E2E is set but there is no docker command: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, docker, "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Fatalf("REGSWEEP_DOCKER_E2E is set but no Docker engine answers (DOCKER_HOST=%q): %v\n%s\nstart one with .ci/docker-engine up",
			os.Getenv("DOCKER_HOST"), err, out)
	}
	act := os.Getenv("REGSWEEP_ACT")
	if act == "" {
		act = "act"
	}
	if act, err = exec.LookPath(act); err != nil {
		t.Fatalf("REGSWEEP_DOCKER_E2E is set but act is not installed (.ci/docker-engine up installs it): %v", err)
	}
	return tools{docker: docker, act: act}
}
