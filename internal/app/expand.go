package app

import (
	"context"
	"fmt"
	"strings"
)

// expand turns the repository settings into the list of repositories to
// sweep, in the order given, without duplicates.
func (r *runner) expand(_ context.Context, repos []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, repo := range repos {
		if strings.HasSuffix(repo, "/*") {
			return nil, fmt.Errorf("repository %q: wildcards are not supported yet; list the repositories one per line", repo)
		}
		if !seen[repo] {
			seen[repo] = true
			out = append(out, repo)
		}
	}
	return out, nil
}
