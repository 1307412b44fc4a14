package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/regsweep/regsweep/internal/testkit/registry/dist3"
)

// StartRegistry starts a metered distribution v3 registry in this process,
// with in-memory storage, or with the filesystem driver under root when
// root is not empty.
func StartRegistry(ctx context.Context, root ...string) (*dist3.Registry, *Meter) {
	m := NewMeter()
	o := dist3.Options{Wrap: m.Wrap}
	if len(root) > 0 {
		o.RootDirectory = root[0]
	}
	return dist3.Start(ctx, o), m
}

// childAddrPrefix starts the line a child registry prints its address on.
const childAddrPrefix = "REGISTRY "

// ServeChild runs a metered registry until ctx ends or stdin closes (the
// parent died or is done), after printing "REGISTRY host:port" on out.
// With root set, the registry stores in that directory (filesystem driver).
func ServeChild(ctx context.Context, stdin io.Reader, out io.Writer, root string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var reg *dist3.Registry
	if root != "" {
		reg, _ = StartRegistry(ctx, root)
	} else {
		reg, _ = StartRegistry(ctx)
	}
	defer reg.Close()
	if _, err := fmt.Fprintf(out, "%s%s\n", childAddrPrefix, reg.Host); err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	<-ctx.Done()
	return nil
}

// Child is a registry running in a child process.
type Child struct {
	Host  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// StartChild runs exe with args (which must end up in ServeChild) and waits
// for its address.
func StartChild(ctx context.Context, exe string, args ...string) (*Child, error) {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start registry child: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, childAddrPrefix) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("registry child: no address (read %q): %w", line, err)
	}
	return &Child{Host: strings.TrimSpace(strings.TrimPrefix(line, childAddrPrefix)), cmd: cmd, stdin: stdin}, nil
}

// Close stops the child and waits for it.
func (c *Child) Close() error {
	_ = c.stdin.Close()
	return c.cmd.Wait()
}
