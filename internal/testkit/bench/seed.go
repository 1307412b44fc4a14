package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// Shape is a benchmark repository: PRTags `pr-NNNNN` tags spread over
// PRDigests images (consecutive tags share an image, as several pushes of
// one PR build do), and Releases `v1.0.N` tags on images of their own.
type Shape struct {
	PRTags, PRDigests, Releases int
}

// ShapeFor returns the proportions for n tags: 90 % PR tags, three
// per image, 10 % releases (n = 1000 gives 900 over 300, and 100).
func ShapeFor(n int) Shape {
	rel := n / 10
	pr := n - rel
	return Shape{PRTags: pr, PRDigests: (pr + 2) / 3, Releases: rel}
}

// Tags is the total number of tags.
func (s Shape) Tags() int { return s.PRTags + s.Releases }

// PRTag is the name of the i-th PR tag.
func PRTag(i int) string { return fmt.Sprintf("pr-%05d", i) }

// ReleaseTag is the name of the i-th release tag.
func ReleaseTag(i int) string { return fmt.Sprintf("v1.0.%d", i) }

// prDigestOf is the image index of PR tag i.
func (s Shape) prDigestOf(i int) int { return i * s.PRDigests / s.PRTags }

// seedConcurrency bounds the seeding pool; seeding is not measured.
const seedConcurrency = 16

var created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Seed pushes the shape to repo (host:port/path) on a plain-HTTP registry:
// every distinct image once through go-containerregistry, then each extra
// tag as one manifest PUT.
func Seed(ctx context.Context, repo string, s Shape) error {
	ht := http.DefaultTransport.(*http.Transport).Clone()
	ht.MaxIdleConnsPerHost = seedConcurrency
	defer ht.CloseIdleConnections()

	type extra struct {
		tag string
		img v1.Image
	}
	var images []extra // first tag of each image, pushed fully
	var tags []extra   // further tags: manifest PUT only
	prImgs := make([]v1.Image, s.PRDigests)
	for i := range s.PRTags {
		k := s.prDigestOf(i)
		if prImgs[k] == nil {
			prImgs[k] = seed.Image(fmt.Sprintf("pr-image-%d", k), created.Add(time.Duration(k)*time.Minute))
			images = append(images, extra{PRTag(i), prImgs[k]})
			continue
		}
		tags = append(tags, extra{PRTag(i), prImgs[k]})
	}
	for i := range s.Releases {
		images = append(images, extra{ReleaseTag(i), seed.Image(fmt.Sprintf("release-%d", i), created.Add(-time.Duration(i)*time.Hour))})
	}

	pushers := make(chan *seed.Pusher, seedConcurrency)
	for range seedConcurrency {
		p, err := seed.NewPusher(ctx, repo, ht)
		if err != nil {
			return fmt.Errorf("seed %s: %w", repo, err)
		}
		pushers <- p
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(seedConcurrency)
	for _, e := range images {
		g.Go(func() error {
			p := <-pushers
			defer func() { pushers <- p }()
			_, err := p.Image(gctx, e.tag, e.img)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("seed %s: %w", repo, err)
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(seedConcurrency)
	client := &http.Client{Transport: ht}
	for _, e := range tags {
		g.Go(func() error { return putManifest(gctx, client, repo, e.tag, e.img) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("seed %s: %w", repo, err)
	}
	return nil
}

// putManifest points tag at an image whose blobs are already pushed.
func putManifest(ctx context.Context, c *http.Client, repo, tag string, img v1.Image) error {
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	host, path, _ := cutHost(repo)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+host+"/v2/"+path+"/manifests/"+tag, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", string(mt))
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("tag %s: %w", tag, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("tag %s: %s", tag, resp.Status)
	}
	return nil
}

func cutHost(repo string) (host, path string, ok bool) {
	for i := 0; i < len(repo); i++ {
		if repo[i] == '/' {
			return repo[:i], repo[i+1:], true
		}
	}
	return repo, "", false
}
