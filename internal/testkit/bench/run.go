package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/regsweep/regsweep/internal/app"
	"github.com/regsweep/regsweep/internal/settings"
	"github.com/regsweep/regsweep/internal/transport"
)

// DefaultConcurrency is regsweep's default `concurrency` setting, read from
// the setting definitions so the bound follows the product.
func DefaultConcurrency() int {
	for _, d := range settings.Definitions() {
		if d.Name == "concurrency" {
			if n, err := strconv.Atoi(d.Default); err == nil {
				return n
			}
		}
	}
	return 1
}

// Heap is the Go heap of this process during a run, sampled every 10 ms
// through runtime/metrics (no stop-the-world), after a GC before the start.
type Heap struct {
	Before    uint64 // live heap objects after the GC before the run
	PeakAlloc uint64 // peak bytes in heap objects (~ MemStats.HeapAlloc)
	PeakInuse uint64 // peak bytes in in-use heap spans (~ MemStats.HeapInuse)
	Samples   int
}

// heapSampler samples the heap until stopped.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	h    Heap
}

func startHeap() *heapSampler {
	runtime.GC()
	runtime.GC()
	s := &heapSampler{stop: make(chan struct{})}
	s.h.Before, _ = readHeap()
	s.sample()
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *heapSampler) sample() {
	alloc, inuse := readHeap()
	s.h.PeakAlloc = max(s.h.PeakAlloc, alloc)
	s.h.PeakInuse = max(s.h.PeakInuse, inuse)
	s.h.Samples++
}

func (s *heapSampler) Stop() Heap {
	close(s.stop)
	s.done.Wait()
	s.sample()
	return s.h
}

func readHeap() (alloc, inuse uint64) {
	m := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	metrics.Read(m)
	if m[0].Value.Kind() != metrics.KindUint64 || m[1].Value.Kind() != metrics.KindUint64 {
		return 0, 0
	}
	a := m[0].Value.Uint64()
	return a, a + m[1].Value.Uint64()
}

type profileKey struct{}

// WithCPUProfile makes RunRegsweep write a CPU profile of the run to w.
func WithCPUProfile(ctx context.Context, w io.Writer) context.Context {
	return context.WithValue(ctx, profileKey{}, w)
}

func profileFrom(ctx context.Context) io.Writer {
	w, _ := ctx.Value(profileKey{}).(io.Writer)
	return w
}

// Sweep is one regsweep run.
type Sweep struct {
	Wall   time.Duration
	Exit   int
	Client transport.Stats // what regsweep's transport counted
	Heap   Heap
	Output string // regsweep's terminal output
}

// RunRegsweep runs regsweep in-process, as the CLI would with
// `--repository repo --tags 'pr-*'` on a plain terminal, and measures it.
// concurrency 0 keeps regsweep's default.
func RunRegsweep(ctx context.Context, repo string, concurrency int, extra ...string) Sweep {
	return runRegsweep(ctx, repo, concurrency, 0, extra...)
}

// runRegsweep is RunRegsweep with app.Env.UntagFirstAt (0: the default).
func runRegsweep(ctx context.Context, repo string, concurrency, untagFirstAt int, extra ...string) Sweep {
	args := []string{"--repository", repo, "--tags", "pr-*"}
	if concurrency > 0 {
		args = append(args, "--concurrency", strconv.Itoa(concurrency))
	}
	args = append(args, extra...)
	var out bytes.Buffer
	var res Sweep
	if prof := profileFrom(ctx); prof != nil {
		if err := pprof.StartCPUProfile(prof); err == nil {
			defer pprof.StopCPUProfile()
		}
	}
	h := startHeap()
	start := time.Now()
	res.Exit = app.Run(ctx, app.Env{
		Args:         args,
		Getenv:       func(string) string { return "" },
		Stdout:       &out,
		Stderr:       &out,
		Version:      "bench",
		Stats:        func(s transport.Stats) { res.Client = s },
		UntagFirstAt: untagFirstAt,
	})
	res.Wall = time.Since(start)
	res.Heap = h.Stop()
	res.Output = out.String()
	return res
}

// Baseline is one run of the sequential per-tag loop.
type Baseline struct {
	Wall             time.Duration
	Deleted, Skipped int
}

// RunBaseline is the script users write today: for each tag, one after
// another, HEAD it then DELETE its digest, through go-containerregistry's
// remote.Head and remote.Delete (each call does its own ping, as a loop of
// `crane digest` + `crane delete` does). A tag already gone with a digest
// deleted before (404) is skipped, as a careful script would.
func RunBaseline(ctx context.Context, repo string, tags []string) (Baseline, error) {
	var res Baseline
	r, err := name.NewRepository(repo, name.Insecure)
	if err != nil {
		return res, err
	}
	start := time.Now()
	for _, t := range tags {
		desc, err := remote.Head(r.Tag(t), remote.WithContext(ctx))
		if isNotFound(err) {
			res.Skipped++
			continue
		}
		if err != nil {
			return res, fmt.Errorf("baseline: head %s: %w", t, err)
		}
		err = remote.Delete(r.Digest(desc.Digest.String()), remote.WithContext(ctx))
		if isNotFound(err) {
			res.Skipped++
			continue
		}
		if err != nil {
			return res, fmt.Errorf("baseline: delete %s: %w", t, err)
		}
		res.Deleted++
	}
	res.Wall = time.Since(start)
	return res, nil
}

func isNotFound(err error) bool {
	var te *ggcrtransport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// ListTags returns a repository's tags, sorted.
func ListTags(ctx context.Context, repo string) ([]string, error) {
	r, err := name.NewRepository(repo, name.Insecure)
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(r, remote.WithContext(ctx))
	var te *ggcrtransport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", repo, err)
	}
	sort.Strings(tags)
	return tags, nil
}
