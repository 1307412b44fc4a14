package settings

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v2"
)

// -update rewrites action.yml's generated inputs and README.md's input table
// from Definitions:  go test ./internal/settings -run 'TestActionYML|TestREADME' -update
var update = flag.Bool("update", false, "rewrite action.yml inputs and the README input table from Definitions")

const (
	actionBegin = "# BEGIN generated inputs\n"
	actionEnd   = "# END generated inputs\n"
	readmeBegin = "<!-- inputs:start -->\n"
	readmeEnd   = "<!-- inputs:end -->"
)

// replaceBetween replaces the text between two markers, keeping them.
func replaceBetween(t *testing.T, text, begin, end, with string) string {
	t.Helper()
	i := strings.Index(text, begin)
	j := strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("markers %q and %q not found in order", strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	return text[:i+len(begin)] + with + text[j:]
}

func TestActionYML(t *testing.T) {
	path := filepath.Join("..", "..", "action.yml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		data = []byte(replaceBetween(t, string(data), actionBegin, actionEnd, ActionInputsYAML()))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var action struct {
		Name        string
		Description string
		Author      string
		Branding    struct{ Icon, Color string }
		Inputs      map[string]struct {
			Description string
			Required    bool
			Default     *string
		}
		Outputs map[string]struct{ Description string }
		Runs    struct{ Using, Image string }
	}
	if err := yaml.UnmarshalStrict(data, &action); err != nil {
		t.Fatalf("parse action.yml: %v", err)
	}
	if action.Name != "regsweep" || action.Description == "" || action.Author == "" || action.Branding.Icon != "trash-2" || action.Runs.Using != "docker" || action.Runs.Image == "" {
		t.Errorf("action.yml header: %+v", action)
	}
	want := map[string]bool{}
	for _, d := range Definitions() {
		if d.CLIOnly {
			if _, ok := action.Inputs[d.Name]; ok {
				t.Errorf("action.yml has CLI-only input %q", d.Name)
			}
			continue
		}
		want[d.Name] = true
		in, ok := action.Inputs[d.Name]
		if !ok {
			t.Errorf("action.yml lacks input %q (run with -update)", d.Name)
			continue
		}
		if in.Required != d.Required {
			t.Errorf("input %q: required %v, definition says %v", d.Name, in.Required, d.Required)
		}
		got := ""
		if in.Default != nil {
			got = *in.Default
		}
		if got != d.actionDefault() {
			t.Errorf("input %q: default %q, definition says %q", d.Name, got, d.actionDefault())
		}
		if in.Description != d.Help {
			t.Errorf("input %q: description differs from the definition's help (run with -update)", d.Name)
		}
	}
	for name := range action.Inputs {
		if !want[name] {
			t.Errorf("action.yml input %q has no definition", name)
		}
	}
	for _, o := range []string{"deleted-digests", "deleted-tags", "deleted-count", "kept-tags", "deleted-images", "dry-run"} {
		if _, ok := action.Outputs[o]; !ok {
			t.Errorf("action.yml lacks output %q", o)
		}
	}
}

func TestREADME(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skip("README.md does not exist yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		data = []byte(replaceBetween(t, string(data), readmeBegin, readmeEnd, MarkdownTable()))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := string(data)
	i, j := strings.Index(text, readmeBegin), strings.Index(text, readmeEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers around the input table", strings.TrimSpace(readmeBegin), readmeEnd)
	}
	if got := text[i+len(readmeBegin) : j]; got != MarkdownTable() {
		t.Errorf("README.md input table differs from Definitions; run: go test ./internal/settings -run TestREADME -update\ngot:\n%s\nwant:\n%s", got, MarkdownTable())
	}
}

// TestDefinitionsMatchSettings: every definition fills a Settings field of
// the right type, every field but Policy and Sources has a definition, and
// names are unique kebab-case.
func TestDefinitionsMatchSettings(t *testing.T) {
	st := reflect.TypeFor[Settings]()
	kindType := map[Kind]reflect.Type{
		KindString: reflect.TypeFor[string](), KindEnum: reflect.TypeFor[string](),
		KindList: reflect.TypeFor[[]string](), KindBool: reflect.TypeFor[bool](),
		KindInt: reflect.TypeFor[int](), KindDuration: st.Field(0).Type,
	}
	if f, ok := st.FieldByName("OlderThan"); ok {
		kindType[KindDuration] = f.Type
	}
	seen := map[string]bool{}
	fields := map[string]bool{}
	for _, d := range Definitions() {
		if seen[d.Name] {
			t.Errorf("duplicate definition %q", d.Name)
		}
		seen[d.Name] = true
		if d.Name != strings.ToLower(d.Name) || strings.ContainsAny(d.Name, "_ ") {
			t.Errorf("%q is not kebab-case", d.Name)
		}
		f, ok := st.FieldByName(d.Field)
		if !ok {
			t.Errorf("%q: Settings has no field %s", d.Name, d.Field)
			continue
		}
		fields[d.Field] = true
		if f.Type != kindType[d.Kind] {
			t.Errorf("%q: field %s is %s, kind %s wants %s", d.Name, d.Field, f.Type, d.Kind, kindType[d.Kind])
		}
		if d.Help == "" || !strings.HasSuffix(d.Help, ".") {
			t.Errorf("%q: help must be a sentence", d.Name)
		}
		if d.Required && d.Default != "" {
			t.Errorf("%q: required with a default", d.Name)
		}
		if d.Default != "" {
			if err := assign(reflect.New(f.Type).Elem(), d, d.Default, false); err != nil {
				t.Errorf("%q: default %q does not parse: %v", d.Name, d.Default, err)
			}
		}
	}
	for i := 0; i < st.NumField(); i++ {
		name := st.Field(i).Name
		if name != "Policy" && name != "Sources" && name != "Expansion" && !fields[name] {
			t.Errorf("Settings.%s has no definition", name)
		}
	}
}
