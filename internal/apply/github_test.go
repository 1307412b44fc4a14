package apply_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/regsweep/regsweep/internal/apply"
	"github.com/regsweep/regsweep/internal/backend"
	gh "github.com/regsweep/regsweep/internal/backend/ghpackages"
	"github.com/regsweep/regsweep/internal/plan"
	fake "github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
	"github.com/regsweep/regsweep/internal/transport"
)

// These tests run the GitHub Packages backend and its pacing against the
// fake on a scaled clock: the transport and the fake both read it, so a
// minute of pacing takes a fraction of a second and the figures are the
// ones a real run would see (network time aside).

const ghToken = "ghp_apply-test-token"

// scaledClock runs `factor` times faster than the wall clock.
type scaledClock struct {
	factor     float64
	start, at0 time.Time
}

func newScaledClock(factor float64) *scaledClock {
	return &scaledClock{factor: factor, start: time.Now(), at0: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *scaledClock) Now() time.Time {
	return c.at0.Add(time.Duration(float64(time.Since(c.start)) * c.factor))
}

func (c *scaledClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(time.Duration(float64(d) / c.factor))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ghSweep is one `pr-*` sweep of a package with n PR versions (and one
// release), through discovery, the plan and apply.
type ghSweep struct {
	fake  *fake.Fake
	clock *scaledClock
	rate  float64
	opts  apply.Options
	n     int
	tr    *transport.Transport
	// pace, if set, replaces gh.Pace (the pacing before GitHub's points
	// were counted, for the measurement's baseline).
	pace func(*transport.Options)
}

func newGHSweep(t *testing.T, n int, rate, factor float64) *ghSweep {
	t.Helper()
	s := &ghSweep{fake: fake.New(ghToken), clock: newScaledClock(factor), rate: rate, n: n}
	s.fake.SetClock(s.clock.Now)
	s.fake.AddPackage(fake.Org, "acme", "app")
	for i := range n {
		s.fake.AddImage("acme", "app", fmt.Sprint("pr-", i), []string{fmt.Sprint("pr-", i)}, s.clock.at0.Add(-time.Hour))
	}
	s.fake.AddImage("acme", "app", "release", []string{"v1"}, s.clock.at0.Add(-time.Hour))
	return s
}

func (s *ghSweep) run(t *testing.T, ctx context.Context) *apply.Result {
	t.Helper()
	srv := httptest.NewServer(s.fake)
	t.Cleanup(srv.Close)
	o := transport.Options{Now: s.clock.Now, Sleep: s.clock.Sleep, MaxConcurrent: 64}
	gh.Pace(&o, s.rate)
	if s.pace != nil {
		s.pace(&o)
	}
	s.tr = transport.New(o)
	t.Cleanup(s.tr.CloseIdleConnections)
	host := strings.TrimPrefix(srv.URL, "http://")
	b, err := gh.New(ctx, gh.Options{Registry: host, Owner: "acme", Package: "app", Token: ghToken, APIURL: srv.URL, Transport: s.tr})
	if err != nil {
		t.Fatal(err)
	}
	inc, err := plan.CompilePatterns([]string{"pr-*"}, false)
	if err != nil {
		t.Fatal(err)
	}
	pol := plan.Policy{Include: inc, DeleteReferrers: true}
	g, err := b.Discover(ctx, backend.DiscoverOptions{Match: inc.Match})
	if err != nil {
		t.Fatal(err)
	}
	p := plan.Build(g, pol, s.clock.Now())
	if got := len(p.DeletedDigests()); got != s.n {
		t.Fatalf("plan deletes %d, want %d", got, s.n)
	}
	return apply.Run(ctx, b, g, p, s.opts)
}

// outcomes counts the records by outcome.
func outcomes(res *apply.Result) map[apply.Outcome]int {
	n := map[apply.Outcome]int{}
	for _, rec := range res.Records {
		n[rec.Outcome]++
	}
	return n
}

func count(res *apply.Result) string {
	n := outcomes(res)
	return fmt.Sprintf("deleted %d, failed %d, not attempted %d", n[apply.Deleted], n[apply.Failed], n[apply.NotAttempted])
}

// 45 deletions at concurrency 64 and 3 a second, no rate limit in sight:
// the last ones queue 15 s behind the pacer, which is no reason to fail.
// The grace is scaled like the clock (10 s).
func TestGitHubQueuedBehindPacerDoesNotFail(t *testing.T) {
	s := newGHSweep(t, 45, 3, 50)
	s.fake.SetPointsBudget(0, "")
	s.opts = apply.Options{Concurrency: 64, InFlightGrace: 200 * time.Millisecond}
	res := s.run(t, t.Context())
	if outcomes(res)[apply.Deleted] != 45 || res.Stopped != nil {
		t.Fatalf("%s, stopped %v; want 45 deleted", count(res), res.Stopped)
	}
}

// GitHub's secondary limit answered with retry-after: 55 holds every
// DELETE 55 s; they wait and all go.
func TestGitHubRetryAfter55IsWaited(t *testing.T) {
	s := newGHSweep(t, 12, 3, 50)
	s.fake.SetSecondaryLimitEvery(5, "55")
	s.opts = apply.Options{Concurrency: 16, InFlightGrace: 200 * time.Millisecond}
	res := s.run(t, t.Context())
	if outcomes(res)[apply.Deleted] != 12 || res.Stopped != nil {
		t.Fatalf("%s, stopped %v; want 12 deleted", count(res), res.Stopped)
	}
	if w := s.tr.Stats().Waited; w < 55*time.Second {
		t.Fatalf("waited %v, want at least the 55 s GitHub asked for", w)
	}
}

// A primary limit whose window resets 50 minutes from now: the run stops
// before its next request, says when to come back, and the record is
// exact: what was deleted is, the rest was not attempted, nothing failed.
func TestGitHubPrimaryResetFarAwayStops(t *testing.T) {
	s := newGHSweep(t, 10, 3, 50)
	s.fake.SetPrimaryLimit(7, 50*time.Minute) // 1 to find the package, 1 to list, 5 DELETEs
	s.opts = apply.Options{Concurrency: 16}
	res := s.run(t, t.Context())
	reset := s.clock.at0.Add(50*time.Minute + time.Second).Format("15:04")
	if res.Stopped == nil || !strings.Contains(res.Stopped.Error(), "run again after "+reset) {
		t.Fatalf("stopped = %v, want the reset time %s", res.Stopped, reset)
	}
	if outcomes(res)[apply.Failed] != 0 || outcomes(res)[apply.Deleted] != 5 || outcomes(res)[apply.NotAttempted] != 5 {
		t.Fatalf("%s; want 5 deleted, 5 not attempted, 0 failed", count(res))
	}
	left := len(s.fake.Digests("acme", "app"))
	if left != 6 {
		t.Fatalf("%d versions left, want 6: the record must match the registry", left)
	}
	if n := s.fake.PrimaryDenied(); n != 0 {
		t.Fatalf("%d requests refused: the spent window should have held them", n)
	}
}

// The default pace (1 deletion a second) and the fastest (3) both finish
// with no request refused by a fake that counts GitHub's points. With
// REGSWEEP_GH_MEASURE=1 it runs 1,000 versions at each rate and logs the
// time (on the scaled clock) for the README.
func TestGitHubPacingNoRefusals(t *testing.T) {
	n, factor := 60, 50.0
	if os.Getenv("REGSWEEP_GH_MEASURE") != "" {
		n, factor = 1000, 20
	}
	for _, rate := range []float64{1, 3} {
		t.Run(fmt.Sprint("rate-", rate), func(t *testing.T) {
			s := newGHSweep(t, n, rate, factor)
			s.opts = apply.Options{Concurrency: 16}
			start := s.clock.Now()
			res := s.run(t, t.Context())
			took := s.clock.Now().Sub(start)
			if outcomes(res)[apply.Deleted] != n || res.Stopped != nil {
				t.Fatalf("%s, stopped %v", count(res), res.Stopped)
			}
			if d := s.fake.SecondaryDenied(); d != 0 {
				t.Fatalf("%d requests refused by the secondary limit", d)
			}
			st := s.tr.Stats()
			t.Logf("%d versions at github-delete-rate %g: %s (%.2f deletions/s), %d requests, 0 refused",
				n, rate, took.Round(time.Second), float64(n)/took.Seconds(), st.Total())
			if min := time.Duration(float64(n-1)/rate) * time.Second; took < min {
				t.Fatalf("took %v, faster than the pace allows (%v)", took, min)
			}
		})
	}
	if n < 1000 {
		return
	}
	// The baseline, same run: 3 DELETEs a second and nothing else paced, as
	// before GitHub's points were counted.
	s := newGHSweep(t, n, 3, factor)
	s.opts = apply.Options{Concurrency: 16}
	s.pace = func(o *transport.Options) {
		*o = transport.Options{Now: o.Now, Sleep: o.Sleep, MaxConcurrent: 64, DeleteRate: 3}
	}
	start := s.clock.Now()
	res := s.run(t, t.Context())
	t.Logf("baseline (3 DELETEs/s, GETs unpaced, concurrent): %d versions in %s, %s, %d requests refused by the secondary limit",
		n, s.clock.Now().Sub(start).Round(time.Second), count(res), s.fake.SecondaryDenied())
}

// The fake counts points like GitHub: a client that sends 181 DELETEs in
// a minute is refused once (900 points), whatever they delete.
func TestFakeCountsPoints(t *testing.T) {
	s := newGHSweep(t, 190, -1, 50) // no pacing at all
	s.opts = apply.Options{Concurrency: 4}
	res := s.run(t, t.Context())
	if s.fake.SecondaryDenied() == 0 {
		t.Fatalf("an unpaced client (%s) was never refused", count(res))
	}
}
