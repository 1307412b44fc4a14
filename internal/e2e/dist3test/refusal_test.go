// The refusal tests: OCI registries refusing one DELETE by their own rules
// (Harbor tag immutability, GitLab protected and immutable tags), modelled
// by the fault handler in front of an embedded distribution 3. The run goes
// on, keeps and names what was refused, keeps what a refused manifest
// needs, warns, counts refused-count and exits 0.

package dist3test

import (
	"context"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/regsweep/regsweep/internal/report"
	"github.com/regsweep/regsweep/internal/testkit/e2e"
	"github.com/regsweep/regsweep/internal/testkit/faults"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

type repo struct {
	t    *testing.T
	name string // host/path
	path string
	p    *seed.Pusher
	inj  *faults.Injector
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	inj := faults.New(1)
	r := dist3.Start(t.Context(), dist3.Options{Wrap: inj.Wrap})
	t.Cleanup(r.Close)
	p, err := seed.NewPusher(context.Background(), r.Host+"/app", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &repo{t: t, name: r.Host + "/app", path: "app", p: p, inj: inj}
}

func (r *repo) image(tag, id string) string {
	r.t.Helper()
	d, err := r.p.Image(context.Background(), tag, seed.Image(id, day0))
	if err != nil {
		r.t.Fatal(err)
	}
	return d.String()
}

func (r *repo) index(tag, id string) (string, []string) {
	r.t.Helper()
	amd, arm := seed.ImagePlatform(id, day0, "linux", "amd64"), seed.ImagePlatform(id, day0, "linux", "arm64")
	d, err := r.p.Index(context.Background(), tag, seed.Index(amd, arm))
	if err != nil {
		r.t.Fatal(err)
	}
	var children []string
	for _, img := range []v1.Image{amd, arm} {
		h, _ := img.Digest()
		children = append(children, h.String())
	}
	return d.String(), children
}

func (r *repo) sign(subject string) (tag, digest string) {
	r.t.Helper()
	h, err := v1.NewHash(subject)
	if err != nil {
		r.t.Fatal(err)
	}
	d, err := r.p.Sign(context.Background(), h)
	if err != nil {
		r.t.Fatal(err)
	}
	return seed.SignatureTag(h), d.String()
}

// sweep runs the action and checks what every refusal has in common.
func (r *repo) sweep(refused int) e2e.Result {
	r.t.Helper()
	return r.check(e2e.RunAction(r.t, map[string]string{"repository": r.name, "tags": "pr-*"}), refused)
}

// check checks what every refusal has in common.
func (r *repo) check(res e2e.Result, refused int) e2e.Result {
	t := r.t
	t.Helper()
	if res.Code != 0 {
		t.Fatalf("exit %d, want 0 (refusals are not failures)\n%s", res.Code, res.Log)
	}
	if got := res.Outputs["refused-count"]; got != strconv.Itoa(refused) || res.Outputs["failed-count"] != "0" {
		t.Errorf("refused-count = %s, failed-count = %s; want %d and 0\n%s", got, res.Outputs["failed-count"], refused, res.Log)
	}
	if n := strings.Count(res.Log, "::warning::refused"); n != refused {
		t.Errorf("%d refusal warnings, want %d:\n%s", n, refused, res.Log)
	}
	if strings.Contains(res.Log, "::error::") {
		t.Errorf("a refusal was reported as an error:\n%s", res.Log)
	}
	return res
}

func (r *repo) present(want map[string]bool) {
	r.t.Helper()
	for d, keep := range want {
		if got := e2e.Exists(r.t, r.name, d); got != keep {
			r.t.Errorf("%s exists = %v, want %v", d, got, keep)
		}
	}
}

func wantKept(t *testing.T, res e2e.Result, tag, reason string) {
	t.Helper()
	wantKeptAs(t, res, tag, "refused", reason)
}

func wantKeptAs(t *testing.T, res e2e.Result, tag, rule, reason string) {
	t.Helper()
	var kept []struct{ Tag, Rule, Reason string }
	res.JSON(t, "kept-tags", &kept)
	for _, k := range kept {
		if k.Tag == tag && k.Rule == rule && strings.Contains(k.Reason, reason) {
			return
		}
	}
	t.Errorf("kept-tags does not name %s as %s with %q: %+v", tag, rule, reason, kept)
}

// TestRefusals: one refusal kind each, and what it must keep.
func TestRefusals(t *testing.T) {
	t.Run("harbor-immutable-image", func(t *testing.T) {
		r := newRepo(t)
		pr1, pr2 := r.image("pr-1", "pr-1"), r.image("pr-2", "pr-2")
		idx, children := r.index("pr-3", "pr-3")
		latest := r.image("latest", "main")
		r.inj.Add(faults.Refuse(faults.HarborImmutable, r.path, pr1))
		res := r.sweep(1)
		r.present(map[string]bool{pr1: true, latest: true, pr2: false, idx: false, children[0]: false, children[1]: false})
		if got := e2e.State(t, r.name); !reflect.DeepEqual(got, map[string]string{"pr-1": pr1, "latest": latest}) {
			t.Errorf("tags after the run = %v, want pr-1 (refused) and latest", got)
		}
		wantKept(t, res, "pr-1", "immutable")
	})

	t.Run("gitlab-protected-index-keeps-children", func(t *testing.T) {
		r := newRepo(t)
		idx, children := r.index("pr-1", "pr-1")
		pr2 := r.image("pr-2", "pr-2")
		r.inj.Add(faults.Refuse(faults.GitLabProtected, r.path, idx))
		res := r.sweep(1)
		r.present(map[string]bool{idx: true, children[0]: true, children[1]: true, pr2: false})
		wantKept(t, res, "pr-1", "protected")
	})

	t.Run("gitlab-protected-referrer-keeps-subject", func(t *testing.T) {
		r := newRepo(t)
		pr1 := r.image("pr-1", "pr-1")
		_, sig := r.sign(pr1)
		pr2 := r.image("pr-2", "pr-2")
		r.inj.Add(faults.Refuse(faults.GitLabProtected, r.path, sig))
		r.sweep(1)
		// The signature goes first; refused, it stays, and so does the
		// image it signs: a signature never outlives what it signs here.
		r.present(map[string]bool{sig: true, pr1: true, pr2: false})
	})

	t.Run("gitlab-immutable-untag", func(t *testing.T) {
		r := newRepo(t)
		shared := r.image("pr-7", "main")
		r.image("latest", "main")
		pr8 := r.image("pr-8", "pr-8")
		r.inj.Add(faults.Refuse(faults.GitLabImmutable, r.path, "pr-7"))
		res := r.sweep(1)
		r.present(map[string]bool{shared: true, pr8: false})
		if got := e2e.State(t, r.name); got["pr-7"] != shared || got["latest"] != shared {
			t.Errorf("tags after the run = %v, want pr-7 (refused) and latest on %s", got, shared)
		}
		wantKept(t, res, "pr-7", "immutable")
	})
}

// TestRefusalKeepsImageWhole: a refusal learned when the registry is asked
// comes after what depends on the refused manifest was deleted (signatures
// before their image, an index before its children). For each refusal kind,
// a refused signed image keeps its signature and a refused platform
// manifest keeps its index and the other platform manifests: what was
// deleted of the image is put back, tags included, and nothing else is
// lost.
func TestRefusalKeepsImageWhole(t *testing.T) {
	for _, kind := range []faults.Refusal{faults.HarborImmutable, faults.GitLabProtected, faults.GitLabImmutable} {
		t.Run(kind.Name+"-subject-keeps-signature", func(t *testing.T) {
			r := newRepo(t)
			pr1 := r.image("pr-1", "pr-1")
			sigTag, sig := r.sign(pr1)
			pr2 := r.image("pr-2", "pr-2")
			_, sig2 := r.sign(pr2)
			latest := r.image("latest", "main")
			r.inj.Add(faults.Refuse(kind, r.path, pr1))
			res := r.sweep(1)
			r.present(map[string]bool{pr1: true, sig: true, latest: true, pr2: false, sig2: false})
			want := map[string]string{"pr-1": pr1, sigTag: sig, "latest": latest}
			if got := e2e.State(t, r.name); !reflect.DeepEqual(got, want) {
				t.Errorf("tags after the run = %v, want %v\n%s", got, want, res.Log)
			}
			wantKept(t, res, "pr-1", kind.Code)
			wantDeleted(t, res, pr2, sig2)
		})
		t.Run(kind.Name+"-child-keeps-index", func(t *testing.T) {
			r := newRepo(t)
			idx, children := r.index("pr-1", "pr-1")
			_, idxSig := r.sign(idx)
			other, otherChildren := r.index("pr-3", "pr-3")
			pr2 := r.image("pr-2", "pr-2")
			latest := r.image("latest", "main")
			r.inj.Add(faults.Refuse(kind, r.path, children[1]))
			res := r.sweep(1)
			r.present(map[string]bool{idx: true, children[0]: true, children[1]: true, idxSig: true, latest: true,
				other: false, otherChildren[0]: false, otherChildren[1]: false, pr2: false})
			if got := e2e.State(t, r.name); got["pr-1"] != idx || got["latest"] != latest || len(got) != 3 {
				t.Errorf("tags after the run = %v, want pr-1 on %s, its signature and latest\n%s", got, idx, res.Log)
			}
			wantKeptAs(t, res, "pr-1", "restored", "refused to delete "+children[1])
			wantDeleted(t, res, other, otherChildren[0], otherChildren[1], pr2)
		})
	}
}

// wantDeleted checks deleted-digests: exactly these, and none of what was
// put back.
func wantDeleted(t *testing.T, res e2e.Result, digests ...string) {
	t.Helper()
	got := res.Strings(t, "deleted-digests")
	sort.Strings(got)
	sort.Strings(digests)
	if !reflect.DeepEqual(got, digests) {
		t.Errorf("deleted-digests = %v, want %v\n%s", got, digests, res.Log)
	}
}

// TestRefusalUntagFirst: on the untag-first schedule the tags of every
// doomed manifest go before any DELETE by digest, so a refusal comes after
// the refused manifest lost its tags. They are put back on it (and the
// rest of its image is put back as above), and the outputs and the record
// file say what the registry holds: the tags put back are kept (rule
// restored), never in deleted-tags, and nothing is left untagged.
func TestRefusalUntagFirst(t *testing.T) {
	type tc struct {
		name string
		kind faults.Refusal
		// seed pushes the repository and says what the registry refuses,
		// what must stay and what must go (besides latest, always kept).
		seed func(r *repo) (refuse string, kept []string, gone []string)
	}
	cases := []tc{
		{name: "image", kind: faults.HarborImmutable, seed: func(r *repo) (string, []string, []string) {
			pr1 := r.image("pr-1", "pr-1")
			r.image("pr-1b", "pr-1") // a second tag on the refused image
			pr2 := r.image("pr-2", "pr-2")
			return pr1, []string{pr1}, []string{pr2}
		}},
		{name: "signed-image", kind: faults.GitLabProtected, seed: func(r *repo) (string, []string, []string) {
			pr1 := r.image("pr-1", "pr-1")
			_, sig := r.sign(pr1)
			pr2 := r.image("pr-2", "pr-2")
			return pr1, []string{pr1, sig}, []string{pr2}
		}},
		{name: "signature-keeps-subject", kind: faults.GitLabImmutable, seed: func(r *repo) (string, []string, []string) {
			pr1 := r.image("pr-1", "pr-1")
			_, sig := r.sign(pr1)
			pr2 := r.image("pr-2", "pr-2")
			return sig, []string{pr1, sig}, []string{pr2}
		}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			refuse, kept, gone := tt.seed(r)
			latest := r.image("latest", "main")
			before := e2e.State(t, r.name)
			r.inj.Add(faults.Refuse(tt.kind, r.path, refuse))
			recPath := filepath.Join(t.TempDir(), "record.json")
			res := r.sweepWith(e2e.Options{UntagFirstAt: 1}, map[string]string{"record": recPath}, 1)
			// The schedule was untag-first: the refusal's warning says the
			// tags removed ahead of it are back.
			if !strings.Contains(res.Log, "removed ahead of the deletion are put back") {
				t.Errorf("the refusal's warning does not say its tags were put back:\n%s", res.Log)
			}
			want := map[string]bool{latest: true}
			for _, d := range kept {
				want[d] = true
			}
			for _, d := range gone {
				want[d] = false
			}
			r.present(want)
			after := e2e.State(t, r.name)
			// Every tag of what stays is back on the same digest.
			for tag, d := range before {
				if want[d] && after[tag] != d {
					t.Errorf("tag %s: %q after the run, want it back on %s\n%s", tag, after[tag], d, res.Log)
				}
			}
			agrees(t, res, e2e.ReadRecord(t, recPath), before, after)
			for tag, d := range after {
				if d == refuse && strings.HasPrefix(tag, "pr-") {
					wantKeptAs(t, res, tag, "restored", "put back because the registry refused to delete it")
				}
			}
		})
	}
}

// sweepWith is sweep with run options and more inputs.
func (r *repo) sweepWith(o e2e.Options, inputs map[string]string, refused int) e2e.Result {
	r.t.Helper()
	in := map[string]string{"repository": r.name, "tags": "pr-*"}
	for k, v := range inputs {
		in[k] = v
	}
	return r.check(e2e.RunWith(r.t, o, in), refused)
}

// agrees checks that the outputs and the record file say what the registry
// did: deleted-tags are exactly the tags gone, kept-tags name every
// matching tag still there, and nothing is reported left untagged while
// every manifest present has a tag or was never tagged.
func agrees(t *testing.T, res e2e.Result, rec report.Record, before, after map[string]string) {
	t.Helper()
	var removed, stay []string
	for tag := range before {
		if _, ok := after[tag]; !ok {
			removed = append(removed, tag)
		} else if strings.HasPrefix(tag, "pr-") {
			stay = append(stay, tag)
		}
	}
	sort.Strings(removed)
	sort.Strings(stay)
	if got := res.Tags(t, "deleted-tags"); !reflect.DeepEqual(got, removed) && !(len(got) == 0 && len(removed) == 0) {
		t.Errorf("deleted-tags = %v, want the tags gone from the registry %v\n%s", got, removed, res.Log)
	}
	if got := e2e.BareTags(t, rec.DeletedTags); !reflect.DeepEqual(got, removed) && !(len(got) == 0 && len(removed) == 0) {
		t.Errorf("record deleted-tags = %v, want %v", got, removed)
	}
	var kept []struct{ Tag string }
	res.JSON(t, "kept-tags", &kept)
	var keptTags []string
	for _, k := range kept {
		keptTags = append(keptTags, k.Tag)
	}
	sort.Strings(keptTags)
	if !reflect.DeepEqual(keptTags, stay) && !(len(keptTags) == 0 && len(stay) == 0) {
		t.Errorf("kept-tags = %v, want the matching tags still in the registry %v", keptTags, stay)
	}
	for _, rp := range rec.Repositories {
		if len(rp.LeftUntagged) > 0 {
			t.Errorf("record left-untagged = %v, but every tag was put back", rp.LeftUntagged)
		}
	}
	if strings.Contains(res.Summary, "Left untagged") {
		t.Errorf("the summary reports manifests left untagged:\n%s", res.Summary)
	}
}
