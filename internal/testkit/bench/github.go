package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/regsweep/regsweep/internal/app"
	"github.com/regsweep/regsweep/internal/backend/ghpackages"
	fake "github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
	"github.com/regsweep/regsweep/internal/transport"
)

// GitHub is the GitHub Packages run against the fake API.
type GitHub struct {
	Versions, PRVersions int
	Delay                time.Duration
	Wall                 time.Duration
	Exit                 int
	Server               Counts
	ListRequests         int // GETs of .../versions
	DeleteRequests       int
	Refused              int // 403/429 answers (secondary limit hit)
	Client               transport.Stats
	// PacedRate is the rate regsweep paces DELETEs to (per second);
	// LimitPerMinute is the secondary limit the fake enforces.
	PacedRate      float64
	LimitPerMinute int
	Kept           bool
}

// ghDeletesPerMinute is GitHub's secondary limit for DELETE: about 900
// points a minute, 5 points a DELETE.
const ghDeletesPerMinute = 180

// RunGitHub seeds the fake with versions package versions, a fifth of them
// tagged pr-N and the rest releases, and sweeps `pr-*` through the GitHub
// Packages backend with every request delayed. The fake answers 403 +
// retry-after once more than 180 DELETEs land within a minute.
func RunGitHub(ctx context.Context, versions int, delay time.Duration) (*GitHub, error) {
	const owner, pkg, token = "bench-org", "app", "bench-token"
	f := fake.New(token)
	f.AddPackage(fake.Org, owner, pkg)
	res := &GitHub{Versions: versions, PRVersions: versions / 5, Delay: delay,
		PacedRate: ghpackages.DefaultDeleteRate, LimitPerMinute: ghDeletesPerMinute}
	for i := range versions {
		tag := ReleaseTag(i - res.PRVersions)
		if i < res.PRVersions {
			tag = PRTag(i)
		}
		f.AddImage(owner, pkg, "gh-"+tag, []string{tag}, created.Add(time.Duration(i)*time.Minute))
	}
	f.SetSecondaryLimitRate(ghDeletesPerMinute, time.Minute, "60")
	m := NewMeter()
	m.SetDelay(delay)
	srv := httptest.NewServer(m.Wrap(f))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	var out bytes.Buffer
	start := time.Now()
	res.Exit = app.Run(ctx, app.Env{
		Args: []string{"--repository", host + "/" + owner + "/" + pkg, "--backend", "github",
			"--github-token", token, "--tags", "pr-*"},
		Getenv: func(k string) string {
			if k == "GITHUB_API_URL" {
				return srv.URL
			}
			return ""
		},
		Stdout:  &out,
		Stderr:  &out,
		Version: "bench",
		Stats:   func(s transport.Stats) { res.Client = s },
	})
	res.Wall = time.Since(start)
	res.Server = m.Snapshot()
	if res.Exit != 0 {
		return res, fmt.Errorf("regsweep (GitHub Packages) exited %d:\n%s", res.Exit, out.String())
	}
	for _, r := range f.Requests() {
		switch {
		case r.Method == "GET" && strings.HasSuffix(r.Path, "/versions"):
			res.ListRequests++
		case r.Method == "DELETE":
			res.DeleteRequests++
		}
		if r.Status == 403 || r.Status == 429 {
			res.Refused++
		}
	}
	tags := f.Tags(owner, pkg)
	res.Kept = len(tags) == versions-res.PRVersions
	for t := range tags {
		if strings.HasPrefix(t, "pr-") {
			res.Kept = false
		}
	}
	return res, nil
}
