package graph

import "testing"

// TestRefer: a referrer is marked with its subject, placed in the graph's
// own repository (an orphan is deleted only when that is said).
func TestRefer(t *testing.T) {
	g := New("r.example/team/app", "oci", Capabilities{})
	m := g.Manifest("sha256:aa")
	g.Refer(m, "sha256:bb")
	if m.Kind != KindReferrer || m.Subject != "sha256:bb" || m.SubjectRepository != "r.example/team/app" {
		t.Errorf("after Refer: kind %s, subject %s in %q", m.Kind, m.Subject, m.SubjectRepository)
	}
}
