package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

// SeedStorage writes the shape straight into a filesystem-driver registry's
// storage under root, through distribution's own storage API (the layout
// the registry serving root reads): no HTTP, so 10,000 images take seconds
// instead of minutes. path is the repository name without host.
func SeedStorage(ctx context.Context, root, path string, s Shape) error {
	drv := filesystem.New(filesystem.DriverParameters{RootDirectory: root, MaxThreads: 100})
	ns, err := storage.NewRegistry(ctx, drv, storage.EnableDelete)
	if err != nil {
		return err
	}
	named, err := reference.WithName(path)
	if err != nil {
		return err
	}
	repo, err := ns.Repository(ctx, named)
	if err != nil {
		return err
	}
	mans, err := repo.Manifests(ctx)
	if err != nil {
		return err
	}
	type one struct {
		tag string
		img v1.Image
	}
	var all []one
	for i := range s.PRTags {
		// Single-tag images only: the filesystem scenario's shape.
		all = append(all, one{PRTag(i), seed.Image(fmt.Sprintf("pr-image-%d", s.prDigestOf(i)), created.Add(time.Duration(i)*time.Minute))})
	}
	for i := range s.Releases {
		all = append(all, one{ReleaseTag(i), seed.Image(fmt.Sprintf("release-%d", i), created.Add(-time.Duration(i)*time.Hour))})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(seedConcurrency)
	for _, e := range all {
		g.Go(func() error {
			if err := putImage(gctx, repo, mans, e.tag, e.img); err != nil {
				return fmt.Errorf("seed %s:%s: %w", path, e.tag, err)
			}
			return nil
		})
	}
	return g.Wait()
}

func putImage(ctx context.Context, repo distribution.Repository, mans distribution.ManifestService, tag string, img v1.Image) error {
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cmt, err := img.MediaType()
	if err != nil {
		return err
	}
	mf, err := img.Manifest()
	if err != nil {
		return err
	}
	if _, err := repo.Blobs(ctx).Put(ctx, string(mf.Config.MediaType), cfg); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		mt, err := l.MediaType()
		if err != nil {
			return err
		}
		if _, err := repo.Blobs(ctx).Put(ctx, string(mt), b); err != nil {
			return err
		}
	}
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	m, desc, err := distribution.UnmarshalManifest(string(cmt), raw)
	if err != nil {
		return err
	}
	if _, err := mans.Put(ctx, m); err != nil {
		return err
	}
	return repo.Tags(ctx).Tag(ctx, tag, desc)
}
