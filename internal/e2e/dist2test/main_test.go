package dist2test

import (
	"os"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

func TestMain(m *testing.M) {
	os.Exit(e2e.Main(m, 0))
}
