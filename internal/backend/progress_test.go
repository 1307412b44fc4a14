package backend

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	var (
		mu    sync.Mutex
		lines []string
		done  atomic.Int64
	)
	logf := func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(f, a...))
	}
	waited := atomic.Int64{}
	stop := Progress(logf, 5*time.Millisecond, "reg/app", "tags resolved", 40, &done, func() time.Duration { return time.Duration(waited.Load()) })
	done.Store(10)
	waited.Store(int64(1500 * time.Millisecond))
	// Wait (bounded) for a tick that saw both: machines here are slow and
	// noisy, so no fixed sleep.
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		if len(lines) > 0 {
			last = lines[len(lines)-1]
		}
		mu.Unlock()
		if strings.Contains(last, "1.5s waiting") {
			break
		}
	}
	stop()
	if !strings.HasPrefix(last, "reg/app: 10/40 tags resolved, ") || !strings.HasSuffix(last, "/s, 1.5s waiting on rate limits") {
		t.Fatalf("line %q", last)
	}
	mu.Lock()
	n := len(lines)
	mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != n {
		t.Fatalf("lines after stop: %q", lines[n:])
	}
}
