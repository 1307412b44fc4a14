package hostedtest

import (
	"flag"
	"os"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

func TestMain(m *testing.M) {
	e2e.TuneGC()
	// The tests wait on paced requests (GitHub's second between deletions,
	// rate-limit resets), not on the CPU: eight run at once unless
	// -parallel says otherwise (its default is the CPU count).
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}
