package report

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/regsweep/regsweep/internal/apply"
	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
	"github.com/regsweep/regsweep/internal/transport"
)

func TestMain(m *testing.M) {
	v := m.Run()
	snaps.Clean(m, snaps.CleanOpts{Sort: true})
	os.Exit(v)
}

// dg is a real-looking digest, distinct in its first 12 hex digits.
func dg(n int) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(fmt.Sprint(n)))) }

const repoName = "registry.test:5000/team/app"

var (
	ociCaps    = graph.Capabilities{DeleteManifest: true, Untag: graph.Yes}
	oci28Caps  = graph.Capabilities{DeleteManifest: true, Untag: graph.No}
	githubCaps = graph.Capabilities{DeleteManifest: true, Untag: graph.No, ListUntagged: true}
)

// normalRun: pr-1 and pr-2 (an index with two children and a signature)
// deleted, pr-3 already gone, pr-4 shares its digest with latest and is
// untagged, v1 kept by keep-latest.
func normalRun(dry bool) Repository {
	td := func(tag, d string, matched bool, a plan.Action, rule plan.Rule, reason string) plan.TagDecision {
		return plan.TagDecision{Tag: tag, Digest: d, Matched: matched, Action: a, Rule: rule, Reason: reason}
	}
	p := &plan.Plan{
		Repository: repoName, Backend: "oci", Capabilities: ociCaps,
		Tags: []plan.TagDecision{
			td("latest", dg(5), false, plan.Keep, plan.RuleNoMatch, "matches no pattern"),
			td("pr-1", dg(1), true, plan.Delete, plan.RuleMatch, "matched pr-*"),
			td("pr-2", dg(2), true, plan.Delete, plan.RuleMatch, "matched pr-*"),
			td("pr-3", dg(3), true, plan.Delete, plan.RuleMatch, "matched pr-*"),
			td("pr-4", dg(5), true, plan.Untag, plan.RuleSharedDigest, "shares its manifest with latest"),
			td("pr-9", dg(9), true, plan.Keep, plan.RuleKeepLatest, "among the newest 1 matching tags"),
		},
		Manifests: []plan.ManifestDecision{
			{Digest: dg(1), Kind: graph.KindImage, Tags: []string{"pr-1"}, Action: plan.Delete},
			{Digest: dg(2), Kind: graph.KindIndex, Tags: []string{"pr-2"}, Action: plan.Delete, Phase: 1},
			{Digest: dg(3), Kind: graph.KindImage, Tags: []string{"pr-3"}, Action: plan.Delete},
			{Digest: dg(4), Kind: graph.KindReferrer, Action: plan.Delete},
			{Digest: dg(21), Kind: graph.KindImage, Action: plan.Delete, Phase: 2},
			{Digest: dg(22), Kind: graph.KindImage, Action: plan.Delete, Phase: 2},
		},
		Phases: [][]plan.Op{
			{{Kind: plan.OpUntag, Digest: dg(5), Tag: "pr-4"}},
			{{Kind: plan.OpDelete, Digest: dg(4)}, {Kind: plan.OpDelete, Digest: dg(1)}, {Kind: plan.OpDelete, Digest: dg(3)}},
			{{Kind: plan.OpDelete, Digest: dg(2)}},
			{{Kind: plan.OpDelete, Digest: dg(21)}, {Kind: plan.OpDelete, Digest: dg(22)}},
		},
		Warnings: []string{"the registry has no referrers API; signatures were found through fallback tags"},
	}
	rec := func(op plan.Op, o apply.Outcome, tags ...string) apply.Record {
		r := apply.Record{Op: op, Outcome: o, Tags: tags}
		if o == apply.AlreadyGone {
			r.Reason = "already gone (another run got there first)"
		}
		return r
	}
	res := &apply.Result{DryRun: dry, Duration: 2 * time.Second, Records: []apply.Record{
		rec(p.Phases[0][0], apply.Untagged, "pr-4"),
		rec(p.Phases[1][0], apply.Deleted),
		rec(p.Phases[1][1], apply.Deleted, "pr-1"),
		rec(p.Phases[1][2], apply.AlreadyGone, "pr-3"),
		rec(p.Phases[2][0], apply.Deleted, "pr-2"),
		rec(p.Phases[3][0], apply.Deleted),
		rec(p.Phases[3][1], apply.Deleted),
	}}
	if dry {
		res.Records[3] = rec(p.Phases[1][2], apply.Deleted, "pr-3")
	}
	return Repository{Name: repoName, Backend: "oci", Capabilities: ociCaps, Plan: p, Result: res,
		Warnings: []string{"tag bad/tag violates the OCI tag grammar and was ignored"}}
}

// stoppedRun: deletion disabled on the first delete; the rest not attempted.
func stoppedRun() Repository {
	var ops []plan.Op
	var tags []plan.TagDecision
	var recs []apply.Record
	for i := 1; i <= 4; i++ {
		tag := fmt.Sprintf("pr-%d", i)
		op := plan.Op{Kind: plan.OpDelete, Digest: dg(i)}
		ops = append(ops, op)
		tags = append(tags, plan.TagDecision{Tag: tag, Digest: dg(i), Matched: true, Action: plan.Delete, Rule: plan.RuleMatch})
		r := apply.Record{Op: op, Outcome: apply.NotAttempted, Reason: "the run stopped before this operation: " + errDisabled.Error()}
		switch i {
		case 1:
			r = apply.Record{Op: op, Outcome: apply.Deleted, Tags: []string{tag}}
		case 2:
			r = apply.Record{Op: op, Outcome: apply.Failed, Err: errDisabled, Reason: errDisabled.Error()}
		}
		recs = append(recs, r)
	}
	p := &plan.Plan{Repository: repoName, Backend: "oci", Capabilities: oci28Caps, Tags: tags, Phases: [][]plan.Op{ops}}
	for i, op := range ops {
		p.Manifests = append(p.Manifests, plan.ManifestDecision{Digest: op.Digest, Kind: graph.KindImage, Tags: []string{tags[i].Tag}, Action: plan.Delete})
	}
	return Repository{Name: repoName, Backend: "oci", Capabilities: oci28Caps, Plan: p,
		Result: &apply.Result{Records: recs, Stopped: errDisabled, Duration: time.Second}}
}

var errDisabled = fmt.Errorf("DELETE http://registry.test:5000/v2/team/app/manifests/%s: Method Not Allowed (UNSUPPORTED): %w", dg(2), backend.ErrDeleteDisabled)

// sharedRun: on distribution 2.8, pr-7 shares its digest with latest and
// cannot be untagged; pr-8 shares with stable and the untag came back 400.
func sharedRun() Repository {
	p := &plan.Plan{
		Repository: repoName, Backend: "oci", Capabilities: oci28Caps,
		Tags: []plan.TagDecision{
			{Tag: "latest", Digest: dg(7), Action: plan.Keep, Rule: plan.RuleNoMatch},
			{Tag: "pr-7", Digest: dg(7), Matched: true, Action: plan.Keep, Rule: plan.RuleCannotUntag,
				Reason: "shares its manifest with latest, and the registry cannot remove a tag alone"},
			{Tag: "pr-8", Digest: dg(8), Matched: true, Action: plan.Untag, Rule: plan.RuleSharedDigest},
			{Tag: "stable", Digest: dg(8), Action: plan.Keep, Rule: plan.RuleNoMatch},
		},
		Manifests: []plan.ManifestDecision{
			{Digest: dg(7), Kind: graph.KindImage, Tags: []string{"latest", "pr-7"}, Action: plan.Keep, Rule: plan.RuleReferencedByTag},
			{Digest: dg(8), Kind: graph.KindImage, Tags: []string{"pr-8", "stable"}, Action: plan.Keep, Rule: plan.RuleReferencedByTag},
		},
		Phases: [][]plan.Op{{{Kind: plan.OpUntag, Digest: dg(8), Tag: "pr-8"}}},
	}
	errU := fmt.Errorf("DELETE tag pr-8: %w", backend.ErrUnsupported)
	return Repository{Name: repoName, Backend: "oci", Capabilities: oci28Caps, Plan: p, Result: &apply.Result{
		Records: []apply.Record{{Op: p.Phases[0][0], Outcome: apply.KeptNoUntag, Err: errU,
			Reason: "the registry cannot remove a tag alone; the tag stays"}},
	}}
}

// untagFirstStopped: the untag-first schedule stopped between its steps:
// pr-a's tag and image gone, pr-b's tag gone and its image left untagged,
// pr-c untouched.
func untagFirstStopped() Repository {
	td := func(tag, d string) plan.TagDecision {
		return plan.TagDecision{Tag: tag, Digest: d, Matched: true, Action: plan.Delete, Rule: plan.RuleMatch, Reason: "matched pr-*"}
	}
	first := func(tag, d string) plan.Op {
		return plan.Op{Kind: plan.OpUntag, Digest: d, Tag: tag, BeforeDelete: true}
	}
	del := func(d string) plan.Op { return plan.Op{Kind: plan.OpDelete, Digest: d} }
	p := &plan.Plan{
		Repository: repoName, Backend: "oci", Capabilities: ociCaps,
		Tags: []plan.TagDecision{
			{Tag: "latest", Digest: dg(5), Action: plan.Keep, Rule: plan.RuleNoMatch, Reason: "matches no pattern"},
			td("pr-a", dg(1)), td("pr-b", dg(2)), td("pr-c", dg(3)),
		},
		Manifests: []plan.ManifestDecision{
			{Digest: dg(1), Kind: graph.KindImage, Tags: []string{"pr-a"}, Action: plan.Delete, Phase: 1},
			{Digest: dg(2), Kind: graph.KindImage, Tags: []string{"pr-b"}, Action: plan.Delete, Phase: 1},
			{Digest: dg(3), Kind: graph.KindImage, Tags: []string{"pr-c"}, Action: plan.Delete, Phase: 1},
		},
		Phases: [][]plan.Op{{first("pr-a", dg(1)), first("pr-b", dg(2)), first("pr-c", dg(3))}, {del(dg(1)), del(dg(2)), del(dg(3))}},
	}
	stop := errors.New("context canceled")
	na := func(op plan.Op) apply.Record {
		return apply.Record{Op: op, Outcome: apply.NotAttempted, Reason: "the run stopped before this operation: context canceled"}
	}
	res := &apply.Result{
		Records: []apply.Record{
			{Op: p.Phases[0][0], Outcome: apply.Untagged, Tags: []string{"pr-a"}},
			{Op: p.Phases[0][1], Outcome: apply.Untagged, Tags: []string{"pr-b"}},
			na(p.Phases[0][2]),
			{Op: p.Phases[1][0], Outcome: apply.Deleted},
			na(p.Phases[1][1]), na(p.Phases[1][2]),
		},
		Stopped:      stop,
		LeftUntagged: []string{dg(2)},
	}
	return Repository{Name: repoName, Backend: "oci", Capabilities: ociCaps, Plan: p, Result: res}
}

// limitedRun: max-deletions-mode limit at 2 over three PR images (the
// oldest two go, pr-3 waits) and pr-4, which shares its image with latest
// and whose lone removal waits for the last batch; a dry run's records.
func limitedRun() Repository {
	day := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	g := graph.New(repoName, "oci", ociCaps)
	for i, age := range []int{90, 60, 30} {
		m := g.Manifest(dg(30 + i))
		m.Kind, m.Created = graph.KindImage, day.AddDate(0, 0, -age)
		g.SetTag(fmt.Sprintf("pr-%d", i+1), m.Digest)
	}
	g.Manifest(dg(40)).Kind = graph.KindImage
	g.SetTag("latest", dg(40))
	g.SetTag("pr-4", dg(40))
	g.Finish()
	pm, err := plan.CompilePatterns([]string{"pr-*"}, false)
	if err != nil {
		panic(err)
	}
	full := plan.Build(g, plan.Policy{Include: pm, UntagFirstAt: -1}, day)
	p := plan.Limit([]plan.Limited{{Plan: full, Graph: g}}, 2)[0]
	res := &apply.Result{DryRun: true}
	for _, ph := range p.Phases {
		for _, op := range ph {
			res.Records = append(res.Records, apply.Record{Op: op, Outcome: apply.Deleted, Tags: g.Manifests[op.Digest].Tags})
		}
	}
	return Repository{Name: repoName, Backend: "oci", Capabilities: ociCaps, Plan: p, Result: res}
}

func baseReport(dry bool, repos ...Repository) *Report {
	return &Report{
		Version: "v0.0.0-test", DryRun: dry, Duration: 3500 * time.Millisecond,
		Stats:        transport.Stats{Requests: map[string]int{"GET": 10, "HEAD": 7, "DELETE": 6}, Retries: 2, Waited: 1500 * time.Millisecond},
		Repositories: repos,
	}
}

func reports() []struct {
	name string
	r    *Report
} {
	other := normalRun(false)
	other.Name = "ghcr.io/acme/tool"
	other.Backend = "github"
	other.Capabilities = githubCaps
	other.Plan.Repository = other.Name
	broken := Repository{Name: "registry.test:5000/team/private", Backend: "oci", Capabilities: ociCaps,
		Err: fmt.Errorf("list tags: %w", backend.ErrForbidden)}
	return []struct {
		name string
		r    *Report
	}{
		{"normal", baseReport(false, normalRun(false))},
		{"dry run", baseReport(true, normalRun(true))},
		{"stopped by deletion disabled", baseReport(false, stoppedRun())},
		{"kept shared-digest tags", baseReport(false, sharedRun())},
		{"untag-first stopped between the steps", baseReport(false, untagFirstStopped())},
		{"multi-repository", baseReport(false, normalRun(false), other, broken)},
		{"limit mode leaves the youngest for the next run", baseReport(true, limitedRun())},
		{"nothing to do", baseReport(false, Repository{Name: repoName, Backend: "oci", Capabilities: ociCaps,
			Plan: &plan.Plan{Repository: repoName}, Result: &apply.Result{}})},
	}
}

func outputsMap(outs []Output) map[string]string {
	m := map[string]string{}
	for _, o := range outs {
		m[o.Name] = o.Value
	}
	return m
}

func TestSnapshots(t *testing.T) {
	for _, tt := range reports() {
		t.Run(tt.name, func(t *testing.T) {
			md := Markdown(tt.r)
			outs := Outputs(Build(tt.r))
			var ob strings.Builder
			for _, o := range outs {
				fmt.Fprintf(&ob, "%s=%s\n", o.Name, o.Value)
				if strings.ContainsAny(o.Value, "\r\n") {
					t.Errorf("output %s has a line break: %q", o.Name, o.Value)
				}
			}
			snaps.MatchSnapshot(t, md, ob.String(), Text(tt.r))
		})
	}
}

func TestOutputs(t *testing.T) {
	get := func(r *Report) map[string]string { return outputsMap(Outputs(Build(r))) }
	var arr []string
	tests := []struct {
		name string
		r    *Report
		key  string
		want any
	}{
		// pr-3 was absent already: not deleted by this run, counted apart.
		{"deleted digests leave out the already absent", baseReport(false, normalRun(false)), "deleted-digests",
			[]string{dg(4), dg(1), dg(2), dg(21), dg(22)}},
		{"deleted count leaves out the already absent", baseReport(false, normalRun(false)), "deleted-count", "5"},
		{"deleted tags include untagged", baseReport(false, normalRun(false)), "deleted-tags",
			[]string{repoName + ":pr-1", repoName + ":pr-2", repoName + ":pr-3", repoName + ":pr-4"}},
		{"deleted count in a dry run", baseReport(true, normalRun(true)), "deleted-count", "6"},
		{"dry run flag", baseReport(true, normalRun(true)), "dry-run", "true"},
		{"stopped: only what was deleted", baseReport(false, stoppedRun()), "deleted-digests", []string{dg(1)}},
		{"stopped: failed count", baseReport(false, stoppedRun()), "failed-count", "1"},
		{"multi: tags prefixed", baseReport(false, stoppedRun(), sharedRun()), "deleted-tags", []string{repoName + ":pr-1"}},
		{"images are full references", baseReport(false, stoppedRun()), "deleted-images", []string{repoName + "@" + dg(1)}},
		{"empty arrays are [] not null", baseReport(false, sharedRun()), "deleted-digests", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := get(tt.r)[tt.key]
			switch want := tt.want.(type) {
			case string:
				if v != want {
					t.Errorf("%s = %q, want %q", tt.key, v, want)
				}
			case []string:
				arr = nil
				if err := json.Unmarshal([]byte(v), &arr); err != nil {
					t.Fatalf("%s = %q: %v", tt.key, v, err)
				}
				if arr == nil {
					arr = []string{}
				}
				if !reflect.DeepEqual(arr, want) {
					t.Errorf("%s = %v, want %v", tt.key, arr, want)
				}
			}
		})
	}
}

func TestKeptTags(t *testing.T) {
	tests := []struct {
		name string
		r    *Report
		want []KeptTag
	}{
		{"plan keeps and the untag that failed", baseReport(false, sharedRun()), []KeptTag{
			{Repository: repoName, Tag: "pr-7", Digest: dg(7), Rule: "cannot-untag", Reason: "shares its manifest with latest, and the registry cannot remove a tag alone"},
			{Repository: repoName, Tag: "pr-8", Digest: dg(8), Rule: "cannot-untag", Reason: "the registry cannot remove a tag alone; the tag stays"},
		}},
		{"failed and not attempted deletions keep their tags", baseReport(false, stoppedRun()), []KeptTag{
			{Repository: repoName, Tag: "pr-2", Digest: dg(2), Rule: "failed", Reason: errDisabled.Error()},
			{Repository: repoName, Tag: "pr-3", Digest: dg(3), Rule: "not-attempted", Reason: "the run stopped before this operation: " + errDisabled.Error()},
			{Repository: repoName, Tag: "pr-4", Digest: dg(4), Rule: "not-attempted", Reason: "the run stopped before this operation: " + errDisabled.Error()},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []KeptTag
			if err := json.Unmarshal([]byte(outputsMap(Outputs(Build(tt.r)))["kept-tags"]), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("kept-tags:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestNotRun: a plan without a result (the app refused to apply) reports
// every planned op as not attempted, and nothing as deleted.
func TestNotRun(t *testing.T) {
	rp := stoppedRun()
	rp.Result = nil
	rp.Err = errors.New("the plan deletes 4 manifests, more than max-deletions (2)")
	r := baseReport(false, rp)
	o := outputsMap(Outputs(Build(r)))
	if o["deleted-digests"] != "[]" || o["deleted-count"] != "0" {
		t.Errorf("outputs claim deletions: %v", o)
	}
	md := Markdown(r)
	if !strings.Contains(md, "max-deletions") || !strings.Contains(md, "Not attempted") {
		t.Errorf("summary does not explain:\n%s", md)
	}
}

func hostileRepo(tags []string) Repository {
	p := &plan.Plan{Repository: repoName, Backend: "oci", Capabilities: ociCaps}
	res := &apply.Result{}
	for i, tag := range tags {
		d := dg(1000 + i)
		p.Tags = append(p.Tags, plan.TagDecision{Tag: tag, Digest: d, Matched: true, Action: plan.Delete, Rule: plan.RuleMatch, Reason: "reason " + tag})
		op := plan.Op{Kind: plan.OpDelete, Digest: d}
		p.Phases = append(p.Phases, []plan.Op{op})
		// Half deleted, half failed with the tag in the error, so the tag
		// goes through every table.
		if i%2 == 0 {
			res.Records = append(res.Records, apply.Record{Op: op, Outcome: apply.Deleted, Tags: []string{tag}})
		} else {
			err := fmt.Errorf("delete %s: boom", tag)
			res.Records = append(res.Records, apply.Record{Op: op, Outcome: apply.Failed, Err: err, Reason: err.Error(), Tags: []string{tag}})
		}
	}
	return Repository{Name: repoName, Backend: "oci", Capabilities: ociCaps, Plan: p, Result: res,
		Warnings: []string{"warning with <img src=x onerror=alert(1)> and\n| a | row |"}}
}

func TestInjection(t *testing.T) {
	hostile := []string{
		"a|b|c",
		"<script>alert(1)</script>",
		"x`y`z",
		"line\nbreak",
		"ghadelimiter_1234\nINJECTED=1\nghadelimiter_1234",
		"EOF\n::set-output name=x::y",
		"[link](https://evil.example)",
		"<!--",
		"**bold** _em_ ~~s~~ &amp; \\",
		"@octocat #1",
		"\r\n| x | y |\r\n",
		"\u2028sep",
	}
	r := baseReport(false, hostileRepo(hostile))
	md := Markdown(r)
	for _, bad := range []string{"<script", "<img", "<!--", "](", "a|b", "`y`", "INJECTED=1\n", "\n| x | y |", "@octocat", "\u2028"} {
		if strings.Contains(md, bad) {
			t.Errorf("markdown contains %q", bad)
		}
	}
	// Every table row has exactly as many unescaped pipes as its header.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "|") {
			if n := strings.Count(line, "|"); n < 3 || n > 5 {
				t.Errorf("table row with %d pipes: %q", n, line)
			}
		}
		if strings.HasPrefix(line, "INJECTED") || strings.HasPrefix(line, "::") || strings.HasPrefix(line, "ghadelimiter") {
			t.Errorf("injected line: %q", line)
		}
	}
	// Only the template's own HTML: <sub>, <code> and their closing tags.
	rest := md
	for _, ok := range []string{"<sub>", "</sub>", "<code>", "</code>"} {
		rest = strings.ReplaceAll(rest, ok, "")
	}
	if strings.ContainsAny(rest, "<>") {
		t.Errorf("markdown has raw < or > outside the template's tags")
	}
	for _, o := range Outputs(Build(r)) {
		if strings.ContainsAny(o.Value, "\r\n\u2028\u2029") || strings.Contains(o.Value, "<") {
			t.Errorf("output %s not single-line/escaped: %q", o.Name, o.Value)
		}
		if strings.HasPrefix(o.Value, "[") || strings.HasPrefix(o.Value, "{") {
			var v any
			if err := json.Unmarshal([]byte(o.Value), &v); err != nil {
				t.Errorf("output %s is not JSON: %v", o.Name, err)
			}
		}
	}
	// The tags round-trip exactly through the outputs.
	var tags []string
	if err := json.Unmarshal([]byte(outputsMap(Outputs(Build(r)))["deleted-tags"]), &tags); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < len(hostile); i += 2 {
		want = append(want, repoName+":"+hostile[i])
	}
	slices.Sort(want) // deleted-tags is sorted
	if !slices.Equal(tags, want) {
		t.Errorf("deleted-tags = %q, want %q", tags, want)
	}
	for _, line := range strings.Split(Text(r), "\n") {
		if strings.HasPrefix(line, "INJECTED") || strings.HasPrefix(line, "::") {
			t.Errorf("text has an injected line: %q", line)
		}
	}
}

func TestEsc(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain words", "plain words"},
		{"a|b", "a&#124;b"},
		{"<b>&", "&lt;b&gt;&amp;"},
		{"`x`", "&#96;x&#96;"},
		{"a\nb\r\nc", "a b  c"},
		{"bell\x07", "bell"},
	}
	for _, tt := range tests {
		if got := esc(tt.in); got != tt.want {
			t.Errorf("esc(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for in, want := range map[string]string{
		"pr-1":            "`pr-1`",
		"v1.2.3_rc+build": "`v1.2.3_rc+build`",
		"a`b":             "a&#96;b",
		"":                "",
	} {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLargeRun: 12,000 tags (long names, many errors) stay under 1 MiB, and
// the truncation says how many rows were left out.
func TestLargeRun(t *testing.T) {
	const n = 12000
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("feature-%05d-%s", i, strings.Repeat("x", 110))
	}
	rp := hostileRepo(tags)
	for i := 0; i < 2000; i++ {
		rp.Warnings = append(rp.Warnings, fmt.Sprintf("warning %d %s", i, strings.Repeat("w", 400)))
	}
	for _, repos := range [][]Repository{{rp}, {rp, rp, rp, rp, rp, rp, rp, rp}} {
		r := baseReport(false, repos...)
		md := Markdown(r)
		if len(md) >= 1<<20 {
			t.Errorf("%d repositories: summary is %d bytes, want < 1 MiB", len(repos), len(md))
		}
		if !strings.Contains(md, "more: see the record file") {
			t.Errorf("%d repositories: no truncation count in the summary", len(repos))
		}
		if !strings.Contains(md, "garbage-collect") {
			t.Errorf("%d repositories: the garbage collection reminder was cut", len(repos))
		}
	}
	r := baseReport(false, rp)
	if got := outputsMap(Outputs(Build(r)))["deleted-count"]; got != fmt.Sprint(n/2) {
		t.Errorf("deleted-count = %s, want %d", got, n/2)
	}
}

// TestRankingLine: the summary says how keep-latest ranked and which tags
// a version ranking could not read.
func TestRankingLine(t *testing.T) {
	rp := normalRun(false)
	rp.Plan.Ranking, rp.Plan.IgnoredTags = plan.RankVersion, []string{"nightly", "sha-abc"}
	md := Markdown(baseReport(false, rp))
	if want := "keep-latest ranked images by version; not versions, so not ranked: `nightly` `sha-abc`."; !strings.Contains(md, want) {
		t.Errorf("summary lacks %q:\n%s", want, md)
	}
	rp.Plan.Ranking, rp.Plan.IgnoredTags = "", nil
	if md := Markdown(baseReport(false, rp)); strings.Contains(md, "ranked images") {
		t.Errorf("keep-latest off, yet the summary speaks of a ranking:\n%s", md)
	}
}

// Text renders the lines as plain text, one per line (the terminal form),
// for snapshots.
func Text(r *Report) string {
	var b strings.Builder
	for _, l := range Lines(r, Build(r)) {
		switch l.Level {
		case Error:
			b.WriteString("error: ")
		case Warning:
			b.WriteString("warning: ")
		}
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestPlanFile: the plan file of a small run, one repository limited by
// max-deletions and one that failed, as plan-out writes it.
func TestPlanFile(t *testing.T) {
	broken := Repository{Name: "registry.test:5000/team/private", Err: fmt.Errorf("list tags: %w", backend.ErrForbidden)}
	r := baseReport(true, limitedRun(), broken)
	f := NewPlanFile(r, 2, "limit")
	if f.DeleteCount != 2 || f.DeferredCount != 1 {
		t.Errorf("delete-count %d, deferred-count %d; want 2 and 1", f.DeleteCount, f.DeferredCount)
	}
	// A plan held by max-deletions in stop mode is written, and says so;
	// what it would delete is not counted as deleted next.
	held := stoppedRun()
	held.Name, held.Result, held.Held = "registry.test:5000/team/held", nil, errors.New("the plan deletes 4 manifests, more than max-deletions (2); nothing was deleted anywhere")
	hf := NewPlanFile(baseReport(false, held), 2, "stop")
	if hr := hf.Repositories[0]; hf.DeleteCount != 0 || hr.Status != PlanHeld || hr.DeleteCount != 4 || hr.Error == "" {
		t.Errorf("held: delete-count %d, repository %s with %d and error %q", hf.DeleteCount, hr.Status, hr.DeleteCount, hr.Error)
	}
	// A decision of a policy rule names it.
	ruled := limitedRun()
	ruled.Plan.Tags[1].RuleRef = plan.RuleRef{RuleIndex: 2, RuleName: "previews"}
	if pt := NewPlanFile(baseReport(true, ruled), 2, "limit").Repositories[0].Tags[1]; pt.Index != 2 || pt.Name != "previews" {
		t.Errorf("tag %s: policy rule %d %q, want 2 previews", pt.Tag, pt.Index, pt.Name)
	}
	// The plan file and the record agree on what goes.
	rec := Build(r)
	if f.DeleteCount != rec.DeletedCount || f.DeferredCount != rec.DeferredCount {
		t.Errorf("plan file %d/%d, record %d/%d", f.DeleteCount, f.DeferredCount, rec.DeletedCount, rec.DeferredCount)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	snaps.MatchSnapshot(t, string(data))
}
