package ci

import (
	"io"
	"strings"
)

// Detect picks the provider from the environment the CI sets:
// GITHUB_ACTIONS=true, GITLAB_CI=true, CI_SYSTEM_NAME=woodpecker (checked
// before DRONE, which Woodpecker also sets for compatibility), DRONE=true;
// anything else is a terminal.
func Detect(env func(string) string, stdout, stderr io.Writer) Provider {
	is := func(k, v string) bool { return strings.EqualFold(strings.TrimSpace(env(k)), v) }
	switch {
	case is("GITHUB_ACTIONS", "true"):
		return NewGitHub(env, stdout, stderr)
	case is("GITLAB_CI", "true"):
		return NewGitLab(env, stdout, stderr)
	case is("CI_SYSTEM_NAME", "woodpecker"), is("CI", "woodpecker"):
		return NewWoodpecker(env, stdout, stderr)
	case is("DRONE", "true"):
		return NewDrone(env, stdout, stderr)
	default:
		return NewTerminal(env, stdout, stderr)
	}
}
