package plan

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestEveryRuleDocumented: the README's rules table names every rule the
// plan can give, so a user reading "kept by X" in the summary finds X.
func TestEveryRuleDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Rule" {
			return true
		}
		for _, v := range vs.Values {
			if lit, ok := v.(*ast.BasicLit); ok {
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				rules = append(rules, s)
			}
		}
		return true
	})
	if len(rules) < 20 {
		t.Fatalf("found only %d Rule constants in types.go: %q", len(rules), rules)
	}
	for _, r := range rules {
		if !strings.Contains(string(readme), "| `"+r+"` |") {
			t.Errorf("rule %q has no row in the README's rules table", r)
		}
	}
}
