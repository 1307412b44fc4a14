package hostedtest

import (
	"os"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

func TestMain(m *testing.M) {
	// The tests wait on paced requests (GitHub's second between
	// deletions, rate-limit resets), not on the CPU.
	os.Exit(e2e.Main(m, 8))
}
