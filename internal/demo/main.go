// Command demo shows regsweep doing its main job with nothing installed: it
// starts a CNCF distribution v3 registry in-process, seeds it with PR preview
// and release images (one PR tag shares its image with `latest`, a release
// is multi-arch and signed), sweeps `pr-*` for real, and prints the job
// summary and the registry's tags before and after.
//
//	go run ./internal/demo
//
// It lives under internal/ so the shipped binary and image never carry it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/regsweep/regsweep/internal/app"
	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

func main() {
	dry := flag.Bool("dry-run", false, "plan and report, delete nothing")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code, err := run(ctx, os.Stdout, *dry)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(ctx context.Context, out io.Writer, dry bool) (int, error) {
	reg := dist3.Start(ctx, dist3.Options{})
	defer reg.Close()
	repo := reg.Host + "/demo/app"
	if err := seed.Demo(ctx, repo); err != nil {
		return 0, err
	}
	before, err := tags(ctx, repo)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "Embedded registry %s, repository demo/app\nTags before: %v\n\n", reg.Host, before)

	args := []string{"--repository", repo, "--tags", "pr-*"}
	if dry {
		args = append(args, "--dry-run")
	}
	fmt.Fprintf(out, "$ regsweep %s\n\n", join(args))
	code := app.Run(ctx, app.Env{
		Args:    args,
		Getenv:  func(string) string { return "" }, // a plain terminal, whatever CI runs this
		Stdout:  out,
		Stderr:  out,
		Version: "demo",
	})

	after, err := tags(ctx, repo)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "\nTags after: %v\n", after)
	return code, nil
}

func tags(ctx context.Context, repo string) ([]string, error) {
	r, err := name.NewRepository(repo, name.Insecure)
	if err != nil {
		return nil, err
	}
	ts, err := remote.List(r, remote.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	sort.Strings(ts)
	return ts, nil
}

func join(args []string) string {
	s := ""
	for i, a := range args {
		if i > 0 {
			s += " "
		}
		if a == "pr-*" {
			a = "'pr-*'"
		}
		s += a
	}
	return s
}
