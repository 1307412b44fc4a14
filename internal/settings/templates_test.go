package settings

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v2"
)

// providerVars are REGSWEEP_* variables the CI providers read that are not
// settings.
var providerVars = map[string]bool{"REGSWEEP_IMAGE": true, "REGSWEEP_DOTENV": true, "REGSWEEP_SUMMARY_FILE": true, "REGSWEEP_OUTPUT_FILE": true}

// checkSetting fails when name is not a setting or a literal value for it
// does not parse (values with $VARIABLES are left to the CI).
func checkSetting(t *testing.T, where, name string, value any) {
	t.Helper()
	d, ok := definition(Definitions(), name)
	if !ok {
		t.Errorf("%s: %q is not a regsweep setting", where, name)
		return
	}
	var text string
	switch v := value.(type) {
	case []any:
		var parts []string
		for _, p := range v {
			parts = append(parts, fmt.Sprint(p))
		}
		text = strings.Join(parts, ",") // as Woodpecker and Drone pass lists
	case map[any]any:
		return // from_secret
	default:
		text = fmt.Sprint(v)
	}
	if strings.Contains(text, "$") {
		return
	}
	f := reflect.New(reflect.TypeFor[Settings]()).Elem().FieldByName(d.Field)
	if err := assign(f, d, text, false); err != nil {
		t.Errorf("%s: %s: %v", where, name, err)
	}
}

func readYAML(t *testing.T, path string) map[any]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[any]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

// TestGitLabTemplates: every REGSWEEP_ variable in the template and the
// examples is a setting with a valid value, and every example job extends
// the template's job.
func TestGitLabTemplates(t *testing.T) {
	dir := filepath.Join("..", "..", "ci", "gitlab")
	tmpl := readYAML(t, filepath.Join(dir, "regsweep.yml"))
	job, ok := tmpl[".regsweep"].(map[any]any)
	if !ok || job["script"] == nil || job["artifacts"] == nil {
		t.Fatalf("regsweep.yml lacks the .regsweep job: %v", tmpl)
	}
	ex := readYAML(t, filepath.Join(dir, "examples.yml"))
	extends := 0
	for _, doc := range []map[any]any{tmpl, ex} {
		for jobName, j := range doc {
			jm, ok := j.(map[any]any)
			if !ok {
				continue
			}
			if jm["extends"] == ".regsweep" {
				extends++
			}
			vars, _ := jm["variables"].(map[any]any)
			if jobName == "variables" {
				vars = jm
			}
			for k, v := range vars {
				key := fmt.Sprint(k)
				name, ok := strings.CutPrefix(key, "REGSWEEP_")
				if !ok || providerVars[key] {
					continue
				}
				checkSetting(t, fmt.Sprintf("%v", jobName), strings.ToLower(strings.ReplaceAll(name, "_", "-")), v)
			}
		}
	}
	if extends != 3 {
		t.Errorf("examples.yml: %d jobs extend .regsweep, want 3 (merge request, releases, schedule)", extends)
	}
}

// TestWoodpeckerExample: every step's settings are regsweep settings.
func TestWoodpeckerExample(t *testing.T) {
	doc := readYAML(t, filepath.Join("..", "..", "ci", "woodpecker", "regsweep.yml"))
	steps, _ := doc["steps"].([]any)
	if len(steps) == 0 {
		t.Fatal("no steps")
	}
	for _, s := range steps {
		sm := s.(map[any]any)
		settings, _ := sm["settings"].(map[any]any)
		if len(settings) == 0 {
			t.Errorf("step %v has no settings", sm["name"])
		}
		if _, ok := settings["repository"]; !ok {
			t.Errorf("step %v has no repository", sm["name"])
		}
		for k, v := range settings {
			checkSetting(t, fmt.Sprint(sm["name"]), fmt.Sprint(k), v)
		}
	}
}
