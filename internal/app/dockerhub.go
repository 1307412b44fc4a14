package app

import (
	"context"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/dockerhub"
)

func newDockerHub(ctx context.Context, r *runner, repo string) (backend.Backend, error) {
	ns, name, err := dockerhub.ParseRepository(repo)
	if err != nil {
		return nil, err
	}
	return dockerhub.New(ctx, dockerhub.Options{
		Namespace:  ns,
		Repository: name,
		Username:   r.s.Username,
		Password:   r.s.Password,
		BaseURL:    r.env.DockerHubURL,
		Transport:  r.ts.get(familyDockerHub),
		Insecure:   r.s.Insecure,
	})
}
