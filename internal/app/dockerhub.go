package app

import (
	"context"
	"errors"

	"github.com/regsweep/regsweep/internal/backend"
)

func newDockerHub(_ context.Context, _ *runner, _ string) (backend.Backend, error) {
	return nil, errors.New("docker hub backend: not wired yet")
}
