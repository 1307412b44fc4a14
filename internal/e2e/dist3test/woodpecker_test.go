package dist3test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/regsweep/regsweep/internal/testkit/ciparse"
	"github.com/regsweep/regsweep/internal/testkit/e2e"
)

// The example's from_secret names and the values this test gives them.
var pluginSecrets = map[string]string{
	"registry_username": "wp-robot",
	"registry_password": "wp-S3cret-registry-PASS",
}

// exampleRegistry is the placeholder registry in the example pipeline.
const exampleRegistry = "registry.example.com"

// pluginEnv turns a step's `settings:` into environment variables the way
// Woodpecker and Drone do: PLUGIN_ + the key upper-cased with '-' and '.'
// as '_'; scalars as text, a list of scalars comma-joined, from_secret
// replaced by the secret, other maps as JSON.
func pluginEnv(t *testing.T, settings map[string]any, secrets map[string]string, host string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for k, v := range settings {
		key := "PLUGIN_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(k))
		var s string
		switch v := v.(type) {
		case map[string]any:
			if name, ok := v["from_secret"].(string); ok && len(v) == 1 {
				sv, ok := secrets[name]
				if !ok {
					t.Fatalf("setting %s: unknown secret %s", k, name)
				}
				s = sv
				break
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			s = string(b)
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				parts[i] = fmt.Sprint(e)
			}
			s = strings.Join(parts, ",")
		default:
			s = fmt.Sprint(v)
		}
		// The example names a placeholder registry: the only edit a user
		// makes besides their secrets.
		env[key] = strings.ReplaceAll(s, exampleRegistry, host)
	}
	return env
}

// pluginOutputs reads the one-line JSON objects the plugin prints for its
// outputs.
func pluginOutputs(t *testing.T, stdout string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(l), &m); err != nil || len(m) != 1 {
			continue
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestPlugin runs both steps of ci/woodpecker/regsweep.yml with the
// settings it shows, under Woodpecker and under Drone, against a registry
// that accepts only the step's secrets.
func TestPlugin(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "ci", "woodpecker", "regsweep.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var pipeline struct {
		Steps []struct {
			Name     string         `yaml:"name"`
			Image    string         `yaml:"image"`
			Settings map[string]any `yaml:"settings"`
		} `yaml:"steps"`
	}
	if err := yaml.Unmarshal(b, &pipeline); err != nil {
		t.Fatalf("parse regsweep.yml: %v", err)
	}
	steps := map[string]map[string]any{}
	for _, s := range pipeline.Steps {
		if !strings.HasPrefix(s.Image, "ghcr.io/regsweep/regsweep:") {
			t.Errorf("step %s image %s is not the released image", s.Name, s.Image)
		}
		steps[s.Name] = s.Settings
	}

	day := time.Now().UTC().Truncate(24 * time.Hour)
	old, recent := day.AddDate(0, 0, -60), day.AddDate(0, 0, -1)
	releases := func() []image {
		var im []image
		for i := 0; i <= 11; i++ {
			v := "v1." + strconv.Itoa(i) + ".0"
			im = append(im, image{v, v, old.AddDate(0, 0, i)})
		}
		return append(im, image{"latest", "v1.11.0", old.AddDate(0, 0, 11)})
	}()
	cases := []struct {
		step     string
		images   []image
		wantGone []string
		deleted  int // manifests
	}{
		{
			step:    "sweep-preview-images",
			deleted: 2,
			images: []image{
				{"pr-1", "pr-1", old}, {"pr-2", "pr-2", recent}, {"branch-main", "branch-main", old},
				{"branch-dev", "branch-dev", recent}, {"v1.0.0", "v1", old},
				// latest (excluded) is the same image as an old PR: the PR
				// tag goes, the image and latest stay.
				{"latest", "pr-9", old}, {"pr-9", "pr-9", old},
			},
			wantGone: []string{"pr-1", "branch-main", "pr-9"},
		},
		{step: "prune-releases", images: releases, wantGone: []string{"v1.0.0", "v1.1.0"}, deleted: 2},
	}
	ciEnvs := []struct {
		name string
		env  map[string]string
	}{
		{"woodpecker", map[string]string{
			"CI": "woodpecker", "CI_SYSTEM_NAME": "woodpecker", "CI_PIPELINE_EVENT": "cron",
			"CI_REPO": "team/app", "CI_WORKSPACE": "/woodpecker/src",
		}},
		{"drone", map[string]string{
			"CI": "true", "DRONE": "true", "DRONE_BUILD_EVENT": "cron", "DRONE_REPO": "team/app",
			"DRONE_WORKSPACE": "/drone/src",
		}},
	}
	for _, ce := range ciEnvs {
		for _, tc := range cases {
			t.Run(ce.name+"/"+tc.step, func(t *testing.T) {
				settings, ok := steps[tc.step]
				if !ok {
					t.Fatalf("regsweep.yml has no step %s", tc.step)
				}
				reg := startRegistry(t, creds{User: pluginSecrets["registry_username"], Pass: pluginSecrets["registry_password"]})
				env := pluginEnv(t, settings, pluginSecrets, reg.Host)
				repo := env["PLUGIN_REPOSITORY"]
				if !strings.HasPrefix(repo, reg.Host+"/") {
					t.Fatalf("PLUGIN_REPOSITORY = %q: the example does not name %s", repo, exampleRegistry)
				}
				reg.push(t, repo, tc.images)
				before := reg.state(t, repo)
				for k, v := range ce.env {
					env[k] = v
				}
				outFile := filepath.Join(t.TempDir(), "outputs.json")
				env["REGSWEEP_OUTPUT_FILE"] = outFile

				r := runBinary(t, env)
				if r.Code != 0 {
					t.Fatalf("exit %d\n%s", r.Code, r.Log())
				}
				after := reg.state(t, repo)
				checkFinal(t, before, after, tc.wantGone)
				if reg.Wrong() > 0 {
					t.Errorf("%d requests carried other credentials", reg.Wrong())
				}

				outs := pluginOutputs(t, r.Stdout)
				if outs["deleted-count"] != strconv.Itoa(tc.deleted) || outs["dry-run"] != "false" {
					t.Errorf("outputs printed: %v\n%s", outs, r.Stdout)
				}
				sameStrings(t, "deleted-tags", e2e.BareTags(t, jsonStrings(t, "deleted-tags", outs["deleted-tags"])), removed(before, after))
				fb, err := os.ReadFile(outFile)
				if err != nil {
					t.Fatalf("REGSWEEP_OUTPUT_FILE: %v", err)
				}
				var file map[string]string
				if err := json.Unmarshal(fb, &file); err != nil {
					t.Fatalf("REGSWEEP_OUTPUT_FILE is not JSON: %v\n%s", err, fb)
				}
				for k, v := range outs {
					if file[k] != v {
						t.Errorf("output %s: printed %q, file has %q", k, v, file[k])
					}
				}
				checkNoSecret(t, pluginSecrets["registry_password"], map[string]string{"log": r.Log(), "output file": string(fb)})
			})
		}
	}
}

// TestPluginDotenvOutputFile checks the dotenv form of REGSWEEP_OUTPUT_FILE
// (any name not ending in .json), which a later step can source.
func TestPluginDotenvOutputFile(t *testing.T) {
	reg := startRegistry(t, creds{})
	repo := reg.Host + "/team/app"
	reg.seedDemo(t, repo)
	out := filepath.Join(t.TempDir(), "regsweep.env")
	r := runBinary(t, map[string]string{
		"CI": "woodpecker", "CI_SYSTEM_NAME": "woodpecker",
		"PLUGIN_REPOSITORY": repo, "PLUGIN_TAGS": "pr-1,pr-3", "PLUGIN_DRY_RUN": "true",
		"REGSWEEP_OUTPUT_FILE": out,
	})
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Log())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ciparse.Dotenv(b)
	if err != nil {
		t.Fatal(err)
	}
	if d["REGSWEEP_OUT_DRY_RUN"] != "true" || d["REGSWEEP_OUT_DELETED_COUNT"] != "2" {
		t.Errorf("dotenv output file:\n%s", b)
	}
	sameStrings(t, "deleted-tags", e2e.BareTags(t, jsonStrings(t, "deleted-tags", d["REGSWEEP_OUT_DELETED_TAGS"])), []string{"pr-1", "pr-3"})
}
