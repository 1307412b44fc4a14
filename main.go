// Command regsweep deletes container images from registries by policy.
// It is a GitHub container action, a CLI and a plugin for other CI systems;
// all the work is in internal/app.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/regsweep/regsweep/internal/app"
)

// Set at build time with -ldflags "-X main.version=... -X main.revision=...".
var (
	version  = "dev"
	revision = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Run(ctx, app.Env{
		Args:     os.Args[1:],
		Getenv:   os.Getenv,
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Version:  version,
		Revision: revision,
	})
	stop()
	os.Exit(code)
}
