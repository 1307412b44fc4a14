package dockertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// releaseDigest is a well-formed digest for the procedure test; no image
// needs to exist for the git side of the release.
const releaseDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// release runs .ci/release-action in a scratch repository whose main is
// tagged version, as release.yml does after pushing the image.
func release(t *testing.T, dir, version, ref string) (string, error) {
	t.Helper()
	git(t, dir, "tag", "-a", "-m", "regsweep "+version, version)
	git(t, dir, "checkout", "-q", version) // what actions/checkout of a tag gives: a detached HEAD
	script, err := filepath.Abs(filepath.Join(repoRoot, ".ci", "release-action"))
	if err != nil {
		t.Fatal(err)
	}
	return try(t, time.Minute, dir, gitEnv(), "bash", script, version, ref)
}

// imageLine is the runs.image line of action.yml at a ref.
func imageLine(t *testing.T, dir, ref string) string {
	t.Helper()
	for _, l := range strings.Split(git(t, dir, "show", ref+":action.yml"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "image:") {
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("action.yml at %s has no image line", ref)
	return ""
}

// TestReleaseProcedure runs the release rewrite on a scratch copy of the
// repository: the release tag and the moving major tag both name a commit
// whose action.yml runs the image pinned by digest, that commit changes
// nothing but that line, and main keeps the Dockerfile for `uses: ./`.
// It needs git and bash, not Docker.
func TestReleaseProcedure(t *testing.T) {
	dir := scratchRepo(t)
	if got := imageLine(t, dir, "main"); got != "image: Dockerfile" {
		t.Fatalf("main's action.yml says %q; it must build the Dockerfile for uses: ./", got)
	}
	mainBefore := git(t, dir, "rev-parse", "main")
	ref := "ghcr.io/regsweep/regsweep@" + releaseDigest
	if out, err := release(t, dir, "v1.4.2", ref); err != nil {
		t.Fatalf("release-action: %v\n%s", err, out)
	}
	want := "image: docker://" + ref
	for _, tag := range []string{"v1.4.2", "v1"} {
		if got := imageLine(t, dir, tag); got != want {
			t.Errorf("%s: action.yml says %q, want %q", tag, got, want)
		}
	}
	if a, b := git(t, dir, "rev-parse", "v1.4.2^{commit}"), git(t, dir, "rev-parse", "v1^{commit}"); a != b {
		t.Errorf("v1.4.2 names %s, the major tag v1 names %s", a, b)
	}
	if got := git(t, dir, "rev-parse", "main"); got != mainBefore {
		t.Errorf("main moved from %s to %s", mainBefore, got)
	}
	if got := imageLine(t, dir, "main"); got != "image: Dockerfile" {
		t.Errorf("main's action.yml now says %q", got)
	}
	if got := git(t, dir, "diff", "--name-only", "main", "v1.4.2"); got != "action.yml" {
		t.Errorf("the release commit changes %q, want only action.yml", got)
	}
	if got := git(t, dir, "rev-parse", "v1.4.2^{commit}^"); got != mainBefore {
		t.Errorf("the release commit's parent is %s, want the tagged commit %s", got, mainBefore)
	}
	if got := git(t, dir, "cat-file", "-t", "v1.4.2"); got != "tag" {
		t.Errorf("v1.4.2 is a %s; the annotated release tag must stay annotated", got)
	}
	if got := git(t, dir, "tag", "-l", "--format=%(contents)", "v1.4.2"); got != "regsweep v1.4.2" {
		t.Errorf("v1.4.2's message is %q, want the original tag's", got)
	}

	// Running it again on the rewritten commit is refused: the release is
	// already pinned.
	out, err := try(t, time.Minute, dir, gitEnv(), "bash", filepath.Join(mustAbs(t, repoRoot), ".ci", "release-action"), "v1.4.2", ref)
	if err == nil || !strings.Contains(out, "exactly once") {
		t.Errorf("a second rewrite was not refused: %v\n%s", err, out)
	}
}

// TestReleaseProcedureRefuses checks that the rewrite takes only a pinned
// digest and a vX.Y.Z version, and leaves the tags alone when it refuses.
func TestReleaseProcedureRefuses(t *testing.T) {
	for _, tc := range []struct{ name, version, ref string }{
		{"a tag, not a digest", "v1.0.0", "ghcr.io/regsweep/regsweep:v1.0.0"},
		{"a short digest", "v1.0.0", "ghcr.io/regsweep/regsweep@sha256:0123"},
		{"not a version", "1.0", "ghcr.io/regsweep/regsweep@" + releaseDigest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := scratchRepo(t)
			tagged := git(t, dir, "rev-parse", "main")
			out, err := release(t, dir, tc.version, tc.ref)
			if err == nil {
				t.Fatalf("release-action accepted %s %s:\n%s", tc.version, tc.ref, out)
			}
			if got := git(t, dir, "rev-parse", tc.version+"^{commit}"); got != tagged {
				t.Errorf("the tag moved to %s after a refusal", got)
			}
			b, err := os.ReadFile(filepath.Join(dir, "action.yml"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "\n  image: Dockerfile\n") {
				t.Errorf("action.yml changed after a refusal")
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// scratchRepo copies the repository's tracked files, as they are in the
// work tree, into a new git repository with one commit on main: what a
// release tag would name, without touching the real repository.
func scratchRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	list := run(t, time.Minute, repoRoot, nil, "git", "ls-files", "-z")
	for _, f := range strings.Split(strings.TrimRight(list, "\x00"), "\x00") {
		src := filepath.Join(repoRoot, f)
		fi, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "scratch copy")
	return dir
}

// gitEnv keeps the user's git configuration out and names a committer.
func gitEnv() []string {
	return []string{
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.invalid",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.invalid",
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(run(t, time.Minute, dir, gitEnv(), "git", args...))
}
