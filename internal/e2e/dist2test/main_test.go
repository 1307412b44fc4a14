package dist2test

import (
	"os"
	"testing"

	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

func TestMain(m *testing.M) {
	e2e.TuneGC()
	os.Exit(m.Run())
}
