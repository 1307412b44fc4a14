package plan

import (
	"iter"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// propertySeeds gives a property test its n seeds for this run: base+1 to
// base+n, with the base drawn anew on every run (as the randomized trials
// draw theirs), so that runs add up to far more cases than one run checks.
// REGSWEEP_PROPERTY_SEED=<base> replays a run; 0 gives seeds 1 to n. A
// failure prints its seed: REGSWEEP_PROPERTY_SEED=<seed-1> with -run and
// the test's name starts at it.
// drawPropertySeeds: while false, a run checks seeds 1 to n unless
// REGSWEEP_PROPERTY_SEED=random asks for a drawn base.
const drawPropertySeeds = false

func propertySeeds(t *testing.T, n uint64) iter.Seq[uint64] {
	t.Helper()
	base := rand.Uint64() >> 1 // room for +n
	if !drawPropertySeeds {
		base = 0
	}
	if s := os.Getenv("REGSWEEP_PROPERTY_SEED"); s == "random" {
		base = rand.Uint64() >> 1
	} else if s != "" {
		b, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("REGSWEEP_PROPERTY_SEED=%q: %v", s, err)
		}
		base = b
	}
	t.Logf("seeds %d to %d (replay: REGSWEEP_PROPERTY_SEED=%d go test -run '^%s$' ./internal/plan)", base+1, base+n, base, t.Name())
	return func(yield func(uint64) bool) {
		for i := uint64(1); i <= n; i++ {
			if !yield(base + i) {
				return
			}
		}
	}
}
