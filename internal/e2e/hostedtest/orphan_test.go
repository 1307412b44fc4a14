package hostedtest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/fakes/ghpackages"
)

// TestGitHubPackagesOrphans: the versions listing names every manifest of
// the package, so a subject it does not name is proven absent. An SBOM
// whose subject field names such a digest is an orphan and goes (the spec
// keeps a referrer with its subject); a cosign signature of a digest not
// here stays unproven (cosign's COSIGN_REPOSITORY keeps signatures apart
// from their images), and so does an SBOM whose subject is a version here,
// and one whose own tag the sweep keeps.
func TestGitHubPackagesOrphans(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "app")
	latest := f.AddImage("acme", "app", "main", []string{"latest"}, day)
	untaggedImage := f.AddImage("acme", "app", "old", nil, day)
	f.AddImage("acme", "app", "pr-1", []string{"pr-1"}, day)
	gone := "sha256:" + strings.Repeat("ab", 32) // deleted long ago: no version has it
	orphan := f.AddReferrer("acme", "app", gone, nil, day)
	taggedOrphan := f.AddReferrer("acme", "app", "sha256:"+strings.Repeat("cd", 32), []string{"sbom-old"}, day)
	keptSBOM := f.AddReferrer("acme", "app", untaggedImage, nil, day)
	sig := f.AddSignature("acme", "app", gone, day)
	res := e2e.RunWith(t, e2e.Options{Env: env}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "tags": "pr-*", "github-token": token,
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got, want := f.Digests("acme", "app"), sorted(latest, untaggedImage, keptSBOM, sig, taggedOrphan); !reflect.DeepEqual(got, want) {
		t.Fatalf("versions left %v, want latest, the untagged image, its SBOM, the unproven signature and the SBOM tagged sbom-old %v\n%s", got, want, res.Log)
	}
	if del := res.Strings(t, "deleted-digests"); len(del) != 2 || !strings.Contains(strings.Join(del, " "), orphan) {
		t.Errorf("deleted-digests %v, want pr-1 and the orphan SBOM %s", del, orphan)
	}
	if !strings.Contains(res.Log, "1 name no repository") {
		t.Errorf("the unproven signature is not reported:\n%s", res.Log)
	}
}

// A subject pushed while the run looks again before deleting is a version
// by then: its SBOM, an orphan at discovery, stays.
func TestGitHubPackagesOrphanSubjectPushedDuringRun(t *testing.T) {
	t.Parallel() // own fakes; it waits on paced requests, not on the CPU
	f, host, env := github(t)
	f.AddPackage(ghpackages.Org, "acme", "app")
	scratch := ghpackages.New(token)
	scratch.AddPackage(ghpackages.Org, "acme", "scratch")
	subject := scratch.AddImage("acme", "scratch", "late", nil, day)
	v := scratch.Versions("acme", "scratch")[0]
	pr := f.AddImage("acme", "app", "pr-1", []string{"pr-1"}, day)
	main := f.AddImage("acme", "app", "main", []string{"latest"}, day) // pr-1 is not the last tagged version
	sbom := f.AddReferrer("acme", "app", subject, nil, day)
	base := &onSecondListing{change: func() {
		f.AddVersion("acme", "app", subject, nil, day, v.Manifest, v.MediaType)
	}}
	res := e2e.RunWith(t, e2e.Options{Env: env, Base: base}, map[string]string{
		"repository": host + "/acme/app", "backend": "github", "tags": "pr-*", "github-token": token,
	})
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Log)
	}
	if got, want := f.Digests("acme", "app"), sorted(subject, sbom, main); !reflect.DeepEqual(got, want) {
		t.Fatalf("versions left %v, want the subject pushed during the run, its SBOM and latest %v\n%s", got, want, res.Log)
	}
	if got := res.Strings(t, "deleted-digests"); !reflect.DeepEqual(got, []string{pr}) {
		t.Errorf("deleted-digests = %v, want only pr-1 %s", got, pr)
	}
	if !strings.Contains(res.Log, "skipped delete "+sbom) {
		t.Errorf("the SBOM was not planned as an orphan first, so this test proves nothing:\n%s", res.Log)
	}
}
