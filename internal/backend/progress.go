package backend

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultProgressEvery is how often a long step says how far it is; the
// apply phase uses the same period.
const DefaultProgressEvery = 5 * time.Second

// Progress logs "<label>: done/total <unit>, rate/s, wait" every period
// (DefaultProgressEvery when not positive) until the returned stop is
// called. A step shorter than one period logs nothing. waited is the run's
// total time spent on rate limits; the line shows what this step added.
func Progress(logf func(string, ...any), every time.Duration, label, unit string, total int, done *atomic.Int64, waited func() time.Duration) (stop func()) {
	if every <= 0 {
		every = DefaultProgressEvery
	}
	start, waited0 := time.Now(), waited()
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				n := done.Load()
				logf("%s: %d/%d %s, %.0f/s, %s waiting on rate limits", label, n, total, unit,
					float64(n)/time.Since(start).Seconds(), (waited() - waited0).Round(time.Millisecond))
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}
