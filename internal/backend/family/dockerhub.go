package family

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/backend/dockerhub"
)

// dockerHubFamily is Docker Hub: the registry for reads, the Hub API for
// listing and deleting tags.
func dockerHubFamily() Family {
	return Family{
		Name:  "dockerhub",
		Hosts: dockerhub.Hosts,
		Check: checkDockerHub,
		New: func(ctx context.Context, c Config, repo string) (backend.Backend, error) {
			ns, name, err := dockerhub.ParseRepository(repo)
			if err != nil {
				return nil, err
			}
			return dockerhub.New(ctx, dockerhub.Options{
				Namespace:  ns,
				Repository: name,
				Username:   c.Username,
				Password:   c.Password,
				BaseURL:    c.DockerHubURL,
				Transport:  c.Transport,
				Insecure:   c.Insecure,
			})
		},
		List: func(ctx context.Context, c Config, base string) ([]string, error) {
			_, ns, _ := strings.Cut(base, "/")
			names, err := dockerhub.ListRepositories(ctx, dockerhub.Options{
				Namespace: ns,
				Username:  c.Username,
				Password:  c.Password,
				BaseURL:   c.DockerHubURL,
				Transport: c.Transport,
				Insecure:  c.Insecure,
			})
			if err != nil {
				return nil, err
			}
			out := make([]string, 0, len(names))
			for _, n := range names {
				out = append(out, dockerhub.Hosts[0]+"/"+ns+"/"+n)
			}
			return out, nil
		},
		Hints: func(c Config, _ string) Hints {
			if c.Username == "" && c.Password == "" {
				return Hints{
					Unauthorized: "Docker Hub refused anonymous access: set the `username` and `password` inputs (a personal access token).",
					Forbidden:    "Anonymous access to Docker Hub may not do this: set the `username` and `password` inputs (a personal access token with the Read, Write & Delete scope).",
				}
			}
			creds := firstNonEmpty(c.Credentials, "the `username` and `password`")
			return Hints{
				Unauthorized: fmt.Sprintf("Docker Hub rejected %s: check them (the password is a personal access token).", creds),
				Forbidden:    fmt.Sprintf("Docker Hub accepted %s, but the account may not do this: use a personal access token with the Read, Write & Delete scope of an account that can administer the repository.", creds),
			}
		},
	}
}

// checkDockerHub refuses a wildcard that is not one namespace, before any
// request.
func checkDockerHub(_ Config, repo string) error {
	base, ok := strings.CutSuffix(repo, "/*")
	if !ok {
		if _, _, err := dockerhub.ParseRepository(repo); err != nil {
			return fmt.Errorf("a Docker Hub repository is %s/NAMESPACE/NAME (backend dockerhub)", dockerhub.Hosts[0])
		}
		return nil
	}
	if _, ns, _ := strings.Cut(base, "/"); ns == "" || strings.Contains(ns, "/") {
		return errors.New("a Docker Hub wildcard names one namespace: write docker.io/NAMESPACE/*")
	}
	return nil
}
