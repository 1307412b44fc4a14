package apply

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
)

// rawOCI is the smallest OCI backend apply needs: DELETE by digest or tag,
// status codes mapped to the backend sentinels.
type rawOCI struct {
	base, repo string
	client     *http.Client
}

func (r *rawOCI) Name() string { return "raw" }
func (r *rawOCI) Discover(context.Context, backend.DiscoverOptions) (*graph.Graph, error) {
	return nil, errors.New("not used")
}
func (r *rawOCI) ProbeUntag(context.Context) (graph.Tri, error) { return graph.Unknown, nil }
func (r *rawOCI) ListTags(context.Context) (map[string]string, error) {
	return nil, errors.New("not used")
}
func (r *rawOCI) DeleteManifest(ctx context.Context, m *graph.Manifest) error {
	return r.del(ctx, m.Digest)
}
func (r *rawOCI) Untag(ctx context.Context, tag string, _ *graph.Manifest) error {
	return r.del(ctx, tag)
}

func (r *rawOCI) del(ctx context.Context, ref string) error {
	u := r.base + "/v2/" + r.repo + "/manifests/" + ref
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	resp.Body.Close()
	herr := &backend.HTTPError{Method: "DELETE", URL: u, StatusCode: resp.StatusCode}
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK:
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", herr, backend.ErrNotFound)
	case http.StatusMethodNotAllowed:
		return fmt.Errorf("%w: %w", herr, backend.ErrDeleteDisabled)
	case http.StatusBadRequest:
		return fmt.Errorf("%w: %w", herr, backend.ErrUnsupported)
	}
	return herr
}

// pushed is a small repository on the embedded registry: an index (tag
// multi) with two children, pr-1 alone, pr-2 sharing latest's manifest.
type pushed struct {
	index, child1, child2, pr1, latest string
}

func push(t *testing.T, host, repo string) pushed {
	t.Helper()
	ref := func(tag string) name.Tag {
		r, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	img := func(tag string) v1.Image {
		i, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref(tag), i); err != nil {
			t.Fatalf("push %s: %v", tag, err)
		}
		return i
	}
	digest := func(d interface{ Digest() (v1.Hash, error) }) string {
		h, err := d.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return h.String()
	}
	var p pushed
	p.pr1 = digest(img("pr-1"))
	l := img("latest")
	p.latest = digest(l)
	if err := remote.Tag(ref("pr-2"), l); err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(64, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref("multi"), idx); err != nil {
		t.Fatal(err)
	}
	p.index = digest(idx)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	p.child1, p.child2 = im.Manifests[0].Digest.String(), im.Manifests[1].Digest.String()
	return p
}

func (p pushed) graphAndPlan(repo string) (*graph.Graph, *plan.Plan) {
	g := graph.New(repo, "raw", graph.Capabilities{DeleteManifest: true, Untag: graph.Yes})
	g.SetTag("pr-1", p.pr1)
	g.SetTag("pr-2", p.latest)
	g.SetTag("latest", p.latest)
	g.SetTag("multi", p.index)
	g.Manifest(p.index).Kind = graph.KindIndex
	g.Manifest(p.index).Children = []string{p.child1, p.child2}
	g.Finish()
	return g, &plan.Plan{Repository: repo, Phases: [][]plan.Op{
		{untag("pr-2", p.latest)},
		{del(p.pr1), del(p.index)},
		{del(p.child1), del(p.child2)},
	}}
}

func status(t *testing.T, base, repo, ref string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodHead, base+"/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRunDist3(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const repo = "team/app"

	t.Run("deletes in order, keeps latest", func(t *testing.T) {
		reg := dist3.Start(ctx, dist3.Options{})
		defer reg.Close()
		p := push(t, reg.Host, repo)
		g, pl := p.graphAndPlan(reg.Host + "/" + repo)
		b := &rawOCI{base: reg.Server.URL, repo: repo, client: reg.Server.Client()}

		res := Run(ctx, b, g, pl, Options{Concurrency: 4})
		want := map[string]Outcome{
			"untag:pr-2": Untagged, "delete:" + p.pr1: Deleted, "delete:" + p.index: Deleted,
			"delete:" + p.child1: Deleted, "delete:" + p.child2: Deleted,
		}
		if got := outcomes(res); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
		for ref, code := range map[string]int{
			"latest": 200, p.latest: 200, "pr-2": 404, "pr-1": 404, p.pr1: 404,
			"multi": 404, p.index: 404, p.child1: 404, p.child2: 404,
		} {
			if got := status(t, reg.Server.URL, repo, ref); got != code {
				t.Errorf("HEAD %s = %d, want %d", ref, got, code)
			}
		}
		// A second run over the same plan finds everything gone: no failure.
		g2, pl2 := p.graphAndPlan(reg.Host + "/" + repo)
		pl2.Phases = pl2.Phases[1:]
		res2 := Run(ctx, b, g2, pl2, Options{})
		if n := countOutcome(res2, AlreadyGone); n != 4 || res2.Stopped != nil {
			t.Errorf("second run: %v, stopped %v", outcomes(res2), res2.Stopped)
		}
	})

	t.Run("deletion disabled stops the run", func(t *testing.T) {
		reg := dist3.Start(ctx, dist3.Options{DeleteDisabled: true})
		defer reg.Close()
		p := push(t, reg.Host, repo)
		g, pl := p.graphAndPlan(reg.Host + "/" + repo)
		pl.Phases = pl.Phases[1:] // digest deletes only
		b := &rawOCI{base: reg.Server.URL, repo: repo, client: reg.Server.Client()}

		res := Run(ctx, b, g, pl, Options{Concurrency: 1})
		if !errors.Is(res.Stopped, backend.ErrDeleteDisabled) {
			t.Fatalf("Stopped = %v", res.Stopped)
		}
		want := map[string]Outcome{
			"delete:" + p.pr1: Failed, "delete:" + p.index: NotAttempted,
			"delete:" + p.child1: NotAttempted, "delete:" + p.child2: NotAttempted,
		}
		if got := outcomes(res); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
		for _, ref := range []string{"pr-1", "multi", p.child1} {
			if got := status(t, reg.Server.URL, repo, ref); got != 200 {
				t.Errorf("HEAD %s = %d, want 200", ref, got)
			}
		}
	})
}
