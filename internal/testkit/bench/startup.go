package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Startup is what building and starting the shipped binary showed.
type Startup struct {
	// BinarySize is the static binary's size in bytes
	// (CGO_ENABLED=0 go build -trimpath -ldflags "-s -w").
	BinarySize int64
	// FirstRequest is the median, over Runs starts, of the time from
	// exec to the first request reaching a local listener.
	FirstRequest time.Duration
	Min, Max     time.Duration
	Runs         int
}

// ModuleRoot is the directory of the main module's go.mod.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the regsweep module")
	}
	return filepath.Dir(gomod), nil
}

// BuildBinary builds the shipped binary the way the image does into dir.
func BuildBinary(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "regsweep")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// MeasureStartup starts bin runs times against a listener that records when
// the first request arrives (it answers the ping and an empty tag list, so
// each run ends at once).
func MeasureStartup(ctx context.Context, bin string, runs int) (Startup, error) {
	var res Startup
	fi, err := os.Stat(bin)
	if err != nil {
		return res, err
	}
	res.BinarySize = fi.Size()

	var mu sync.Mutex
	var first time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if first.IsZero() {
			first = time.Now()
		}
		mu.Unlock()
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		// An empty repository: a named repository the registry does not
		// know is an error (exit 1), which would hide the timing.
		if strings.HasSuffix(r.URL.Path, "/tags/list") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"name":"bench/startup","tags":[]}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
	}))
	defer srv.Close()
	home, err := os.MkdirTemp("", "sweepbench-home")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(home)

	var times []time.Duration
	for range runs {
		mu.Lock()
		first = time.Time{}
		mu.Unlock()
		cmd := exec.CommandContext(ctx, bin, "--repository", strings.TrimPrefix(srv.URL, "http://")+"/bench/startup", "--tags", "pr-*")
		// A clean environment: no CI detected, no docker config to read.
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return res, fmt.Errorf("run %s: %w\n%s", bin, err, out)
		}
		mu.Lock()
		f := first
		mu.Unlock()
		if f.IsZero() {
			return res, fmt.Errorf("run %s: it sent no request\n%s", bin, out)
		}
		times = append(times, f.Sub(start))
	}
	slices.Sort(times)
	res.Runs = len(times)
	res.FirstRequest = times[len(times)/2]
	res.Min, res.Max = times[0], times[len(times)-1]
	return res, nil
}
