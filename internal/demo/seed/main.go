// Command seed pushes the demo's PR and release images to a registry, for
// the workflow that runs the action against a registry service container.
//
//	go run ./internal/demo/seed -repository localhost:5000/app
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/regsweep/regsweep/internal/testkit/registry/seed"
)

func main() {
	repo := flag.String("repository", "localhost:5000/app", "host[:port]/path to push to")
	flag.Parse()
	if err := seed.Demo(context.Background(), *repo); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
	fmt.Println("seeded", *repo)
}
