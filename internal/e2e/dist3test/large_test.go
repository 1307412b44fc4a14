package dist3test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/app"
	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/testkit/ciparse"
	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// seedMany pushes n images tagged prefix0000.. into repo, plus latest, and
// returns the digests of the prefixed ones.
func seedMany(t *testing.T, repo, prefix string, n int, created time.Time) []string {
	t.Helper()
	ctx := context.Background()
	p, err := seed.NewPusher(ctx, repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	// latest's config and layer serve all: each image differs from it by a
	// manifest annotation alone, so it is one manifest PUT.
	base := seed.Image(repo+"/latest", created)
	if _, err := p.Image(ctx, "latest", base); err != nil {
		t.Fatal(err)
	}
	digests := make([]string, n)
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			img := mutate.Annotations(base, map[string]string{"regsweep.test/id": fmt.Sprint(i)}).(v1.Image)
			d, err := img.Digest()
			if err != nil {
				return err
			}
			digests[i] = d.String()
			return p.Tag(ctx, fmt.Sprintf("%s%04d", prefix, i), img)
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(digests)
	return digests
}

// utf16Bytes is the size GitHub counts outputs in.
func utf16Bytes(s string) int { return 2 * len(utf16.Encode([]rune(s))) }

// TestThousandsOfDeletions: 3,000 deletions in one run, over ten
// repositories of a wildcard (distribution's DELETE reads every tag of its
// repository, so one repository of 3,000 would time the registry, not
// regsweep). The --json dry run prints one native JSON object naming all
// 3,000 digests; the real run exits 0, its outputs stay under GitHub's 1 MB
// (UTF-16) with outputs-truncated set and exact counts, and its record
// file, in the workspace, names all 3,000 digests.
func TestThousandsOfDeletions(t *testing.T) {
	t.Parallel() // own registry; runs beside the package's other long tests
	const n, repos = 3000, 10
	r := dist3.Start(context.Background(), dist3.Options{})
	t.Cleanup(r.Close)
	var want []string
	for i := range repos {
		want = append(want, seedMany(t, fmt.Sprintf("%s/team/big%d", r.Host, i), "pr-", n/repos, day)...)
	}
	slices.Sort(want)
	repo := r.Host + "/team/*"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// The --json dry run, as `regsweep ... --json | jq` runs it.
	// Repositories are swept concurrently and each logs: the log writer
	// must be safe for that, as a process's stderr is.
	var stdout bytes.Buffer
	stderr := &lockedBuffer{}
	env := map[string]string{"HOME": t.TempDir(), "DOCKER_CONFIG": t.TempDir()}
	code := app.Run(ctx, app.Env{
		Args:   []string{"--repository", repo, "--tags", "pr-*", "--dry-run", "--json"},
		Getenv: func(k string) string { return env[k] },
		Stdout: &stdout, Stderr: stderr, Version: "test",
	})
	if code != 0 {
		t.Fatalf("--json exit %d\n%s", code, stderr.String())
	}
	var js map[string]any
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&js); err != nil {
		t.Fatalf("--json is not one JSON object: %v", err)
	}
	if dec.More() {
		t.Fatal("--json printed more than one value")
	}
	if c, ok := js["deleted-count"].(float64); !ok || c != n {
		t.Errorf("--json deleted-count = %#v, want the number %d", js["deleted-count"], n)
	}
	if d, ok := js["dry-run"].(bool); !ok || !d {
		t.Errorf("--json dry-run = %#v, want the boolean true", js["dry-run"])
	}
	if d, ok := js["deleted-digests"].([]any); !ok || len(d) != n {
		t.Errorf("--json deleted-digests is not an array of %d", n)
	}

	ws := t.TempDir()
	res := e2e.RunWith(t, e2e.Options{Ctx: ctx, Env: map[string]string{"GITHUB_WORKSPACE": ws}}, map[string]string{
		"repository": repo, "tags": "pr-*",
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	total := 0
	for k, v := range res.Outputs {
		total += utf16Bytes(k) + utf16Bytes(v)
		if len(v) > report.MaxListOutput {
			t.Errorf("output %s is %d bytes, over the cap of %d", k, len(v), report.MaxListOutput)
		}
	}
	if total >= 1_000_000 {
		t.Errorf("outputs are %d bytes in UTF-16, want under 1 MB", total)
	}
	t.Logf("outputs: %d bytes in UTF-16", total)
	if res.Outputs["deleted-count"] != fmt.Sprint(n) || res.Outputs["outputs-truncated"] != "true" || res.Outputs["failed-count"] != "0" {
		t.Errorf("deleted-count %s, outputs-truncated %s, failed-count %s", res.Outputs["deleted-count"], res.Outputs["outputs-truncated"], res.Outputs["failed-count"])
	}
	if got := res.Strings(t, "deleted-digests"); len(got) == 0 || len(got) >= n {
		t.Errorf("deleted-digests holds %d digests, want a cut list", len(got))
	}
	if res.Outputs["record-file"] != "regsweep-record.json" {
		t.Errorf("record-file = %q, want the workspace-relative path", res.Outputs["record-file"])
	}
	rec := e2e.ReadRecord(t, filepath.Join(ws, "regsweep-record.json"))
	got := slices.Clone(rec.DeletedDigests)
	slices.Sort(got)
	if !slices.Equal(got, want) || len(rec.DeletedImages) != n || len(rec.DeletedTags) != n {
		t.Errorf("record: %d digests (all seeded: %v), %d images, %d tags", len(got), slices.Equal(got, want), len(rec.DeletedImages), len(rec.DeletedTags))
	}
	if !rec.OutputsTruncated || rec.DeletedCount != n {
		t.Errorf("record: outputs-truncated %v, deleted-count %d", rec.OutputsTruncated, rec.DeletedCount)
	}
	// The counts come first, and the summary fits GitHub's 1 MiB.
	if i := strings.Index(res.Summary, "**3000** manifests deleted"); i < 0 || i > 200 || len(res.Summary) >= 1<<20 {
		t.Errorf("summary: counts at %d, %d bytes", i, len(res.Summary))
	}
	for i := range repos {
		if got := e2e.State(t, fmt.Sprintf("%s/team/big%d", r.Host, i)); len(got) != 1 {
			t.Errorf("big%d: %d tags left, want latest alone", i, len(got))
		}
	}
}

// TestGitLabDotenvAt500: the template's nightly example (max-deletions
// 500) deleting 500 manifests: the dotenv report stays within GitLab's
// limits (5,120 bytes, few variables, one line each) and points at the
// record file, which holds the lists.
func TestGitLabDotenvAt500(t *testing.T) {
	t.Parallel() // own registry; runs beside the package's other long tests
	const n = 500
	r := dist3.Start(context.Background(), dist3.Options{})
	t.Cleanup(r.Close)
	repo := r.Host + "/group/project"
	old := time.Now().Add(-60 * 24 * time.Hour)
	want := seedMany(t, repo, "mr-", n, old)
	dir := t.TempDir()
	env := map[string]string{
		"GITLAB_CI": "true", "CI_PROJECT_DIR": dir, "CI_REGISTRY": r.Host, "CI_REGISTRY_IMAGE": repo,
		"HOME": dir, "DOCKER_CONFIG": dir,
		// ci/gitlab/examples.yml, nightly-sweep
		"REGSWEEP_TAGS": "mr-*,branch-*,sha-*", "REGSWEEP_OLDER_THAN": "30d", "REGSWEEP_MAX_DELETIONS": "500", "REGSWEEP_DRY_RUN": "false",
		// ci/gitlab/regsweep.yml
		"REGSWEEP_DOTENV": filepath.Join(dir, "regsweep.env"), "REGSWEEP_SUMMARY_FILE": filepath.Join(dir, "regsweep-summary.md"),
	}
	log := &lockedBuffer{}
	code := app.Run(context.Background(), app.Env{Getenv: func(k string) string { return env[k] }, Stdout: log, Stderr: log, Version: "test"})
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, log.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, "regsweep.env"))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 5120 {
		t.Errorf("dotenv report is %d bytes, GitLab accepts at most 5,120", len(data))
	}
	d, err := ciparse.Dotenv(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) > 20 { // the smallest plan's cap
		t.Errorf("dotenv report has %d variables, want at most 20", len(d))
	}
	for k, v := range d {
		if strings.ContainsAny(v, "\r\n\"'") {
			t.Errorf("dotenv %s holds a line break or a quote: %q", k, v)
		}
	}
	if d["REGSWEEP_OUT_DELETED_COUNT"] != fmt.Sprint(n) {
		t.Errorf("REGSWEEP_OUT_DELETED_COUNT = %q", d["REGSWEEP_OUT_DELETED_COUNT"])
	}
	rec := e2e.ReadRecord(t, d["REGSWEEP_OUT_RECORD_FILE"])
	got := slices.Clone(rec.DeletedDigests)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the record names %d digests, want the %d seeded", len(got), n)
	}
	t.Logf("dotenv report: %d bytes, %d variables", len(data), len(d))
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
