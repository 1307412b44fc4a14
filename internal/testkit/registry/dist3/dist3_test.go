package dist3

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	r := Start(ctx, Options{})
	defer r.Close()
	img, _ := random.Image(100, 1)
	for _, tg := range []string{"a", "b"} {
		ref, _ := name.ParseReference(r.Host + "/app:" + tg)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest("DELETE", r.Server.URL+"/v2/app/manifests/a", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("delete by tag: %d", resp.StatusCode)
	repo, _ := name.NewRepository(r.Host + "/app")
	tags, _ := remote.List(repo)
	t.Logf("tags: %v", tags)
	d, _ := img.Digest()
	req, _ = http.NewRequest("DELETE", r.Server.URL+"/v2/app/manifests/"+d.String(), nil)
	resp, _ = http.DefaultClient.Do(req)
	t.Logf("delete by digest: %d", resp.StatusCode)
	tags, err = remote.List(repo)
	t.Logf("tags: %v %v", tags, err)
	resp, _ = http.Head(r.Server.URL + "/v2/app/manifests/b")
	t.Logf("head b: %d", resp.StatusCode)
}
