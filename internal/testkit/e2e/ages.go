package e2e

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/report"
)

// pulledWithinUnreported: a registry that reports no pulls cannot check
// pulled-within. The run says so once and keeps every tag the rule covers;
// nothing is guessed, nothing deleted.
func pulledWithinUnreported(t *testing.T, reg *Registry, _ *snaps.Config) {
	repo := reg.Host + "/pulls"
	p := pusher(t, repo)
	a := push(t, p, "pr-1", "pulls-a")
	b := push(t, p, "pr-2", "pulls-b")
	res := RunActionAt(t, day0.Add(400*24*time.Hour), map[string]string{"repository": repo, "tags": "pr-*", "pulled-within": "30d"})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got := State(t, repo); !reflect.DeepEqual(got, map[string]string{"pr-1": a, "pr-2": b}) {
		t.Fatalf("registry after run = %v, want both images kept", got)
	}
	if got := res.Strings(t, "deleted-digests"); len(got) != 0 {
		t.Fatalf("deleted-digests = %v, want none", got)
	}
	var kept []report.KeptTag
	res.JSON(t, "kept-tags", &kept)
	if len(kept) != 2 {
		t.Fatalf("kept-tags = %+v, want pr-1 and pr-2", kept)
	}
	for _, k := range kept {
		if k.Rule != "pulls-unknown" {
			t.Errorf("%s kept by %s (%s), want pulls-unknown", k.Tag, k.Rule, k.Reason)
		}
	}
	const warn = "pulled-within: this registry does not report pulls"
	if n := strings.Count(res.Log, warn); n != 1 {
		t.Fatalf("the log says %q %d times, want once:\n%s", warn, n, res.Log)
	}
}
