package settings

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCIRunsREADMETestCommand: the README promises two commands do
// everything, the second being the whole test suite as CI runs it. The go
// test line .ci/run runs must be the one the README gives, flags included.
func TestCIRunsREADMETestCommand(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	goTest := regexp.MustCompile(`(?m)^go test [^#\n]*\./\.\.\.`)
	var ci []string
	for _, m := range goTest.FindAllString(read(".ci/run"), -1) {
		ci = append(ci, strings.TrimSpace(m))
	}
	if len(ci) != 1 {
		t.Fatalf(".ci/run runs %d whole-suite go test commands (%q), want 1", len(ci), ci)
	}
	readme := read("README.md")
	_, try, ok := strings.Cut(readme, "## Try it")
	if !ok {
		t.Fatal(`README.md has no "Try it" section`)
	}
	try, _, _ = strings.Cut(try, "\n## ")
	want := goTest.FindString(try)
	if want == "" {
		t.Fatal(`README's "Try it" section gives no go test command`)
	}
	if got := ci[0]; strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(want), " ") {
		t.Errorf(".ci/run runs %q, the README's test command is %q", got, want)
	}
}
