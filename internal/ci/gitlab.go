package ci

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// GitLab is GitLab CI: settings from REGSWEEP_* variables with the project's
// own registry and job credentials as defaults, outputs as a dotenv report,
// the summary as a markdown file (and in the log), collapsible sections.
type GitLab struct {
	env    func(string) string
	stdout io.Writer
	now    func() time.Time
	dotenv map[string]string // the outputs fit for the dotenv report
	// sections is the stack of open section names, for EndGroup.
	sections []string
	seq      int
}

// NewGitLab returns the GitLab CI provider. Everything is written to stdout
// so the job log keeps its order.
func NewGitLab(env func(string) string, stdout, stderr io.Writer) *GitLab {
	_ = stderr
	return &GitLab{env: env, stdout: stdout, now: time.Now, dotenv: map[string]string{}}
}

// Name implements Provider.
func (g *GitLab) Name() string { return "gitlab" }

// Lookup reads REGSWEEP_<NAME> ("dry-run" -> REGSWEEP_DRY_RUN).
func (g *GitLab) Lookup(name string) (string, bool) { return lookupEnv(g.env, "REGSWEEP_", name) }

// Default supplies the project's registry image and the job's registry
// credentials, so a job in a GitLab project needs no configuration. The
// settings package sends these credentials only to CI_REGISTRY's host.
func (g *GitLab) Default(name string) (string, bool) {
	var v string
	switch name {
	case "repository":
		v = g.env("CI_REGISTRY_IMAGE")
	case "username":
		v = g.env("CI_REGISTRY_USER")
		if v == "" && g.env("CI_JOB_TOKEN") != "" {
			v = "gitlab-ci-token"
		}
	case "password":
		v = g.env("CI_REGISTRY_PASSWORD")
		if v == "" {
			v = g.env("CI_JOB_TOKEN")
		}
	}
	return v, v != ""
}

// CredentialHost implements CredentialScoper: the job's credentials are for
// CI_REGISTRY exactly (host and port), whatever CI_REGISTRY_IMAGE says.
func (g *GitLab) CredentialHost() string {
	return strings.ToLower(strings.TrimSpace(g.env("CI_REGISTRY")))
}

// Mask does nothing: GitLab masks masked variables itself, and printing the
// secret to register it would put it in the log.
func (g *GitLab) Mask(string) {}

// SetOutput records the output and rewrites the dotenv report
// (REGSWEEP_DOTENV, default regsweep.env in CI_PROJECT_DIR) with every
// short output so far as REGSWEEP_OUT_<NAME>=value. GitLab refuses a dotenv
// report over 5,120 bytes and caps its variables, so lists stay out of it:
// they are in the record file, an artifact beside it, which the report
// points at (REGSWEEP_OUT_RECORD_FILE).
func (g *GitLab) SetOutput(o Output) error {
	if err := checkOutputName(o.Name); err != nil {
		return err
	}
	if o.List {
		return nil
	}
	g.dotenv[o.Name] = o.Value
	path := g.artifactPath("REGSWEEP_DOTENV", "regsweep.env")
	if err := os.WriteFile(path, renderDotenv(g.dotenv), 0o644); err != nil {
		return fmt.Errorf("write output %s to dotenv report %s: %w", o.Name, path, err)
	}
	return nil
}

// Summary prints the markdown to the job log and appends it to
// REGSWEEP_SUMMARY_FILE (default regsweep-summary.md in CI_PROJECT_DIR), for
// an artifact or an MR comment.
func (g *GitLab) Summary(markdown string) error {
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	_, _ = io.WriteString(g.stdout, markdown)
	path := g.artifactPath("REGSWEEP_SUMMARY_FILE", "regsweep-summary.md")
	if err := appendFile(path, []byte(markdown)); err != nil {
		return fmt.Errorf("write summary to %s: %w", path, err)
	}
	return nil
}

func (g *GitLab) artifactPath(key, def string) string {
	if p := g.env(key); p != "" {
		return p
	}
	if dir := g.env("CI_PROJECT_DIR"); dir != "" {
		return filepath.Join(dir, def)
	}
	return def
}

// sectionName keeps what GitLab accepts in a section name.
var sectionName = regexp.MustCompile(`[^a-z0-9_.-]+`)

// Group opens a collapsible section with GitLab's section_start marker.
func (g *GitLab) Group(title string) {
	g.seq++
	name := strings.Trim(sectionName.ReplaceAllString(strings.ToLower(title), "_"), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("regsweep_%d_%s", g.seq, name)
	g.sections = append(g.sections, name)
	title = strings.NewReplacer("\r", " ", "\n", " ").Replace(title)
	fmt.Fprintf(g.stdout, "\x1b[0Ksection_start:%d:%s[collapsed=true]\r\x1b[0K%s\n", g.now().Unix(), name, title)
}

// EndGroup closes the innermost open section.
func (g *GitLab) EndGroup() {
	if len(g.sections) == 0 {
		return
	}
	name := g.sections[len(g.sections)-1]
	g.sections = g.sections[:len(g.sections)-1]
	fmt.Fprintf(g.stdout, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", g.now().Unix(), name)
}

// Infof implements Provider.
func (g *GitLab) Infof(format string, args ...any) {
	fmt.Fprintf(g.stdout, format+"\n", args...)
}

// Warningf prints a yellow "WARNING:" line.
func (g *GitLab) Warningf(format string, args ...any) {
	fmt.Fprintf(g.stdout, "\x1b[0;33mWARNING: %s\x1b[0m\n", fmt.Sprintf(format, args...))
}

// Noticef prints a green line.
func (g *GitLab) Noticef(format string, args ...any) {
	fmt.Fprintf(g.stdout, "\x1b[0;32m%s\x1b[0m\n", fmt.Sprintf(format, args...))
}

// RecordFile defaults to regsweep-record.json in CI_PROJECT_DIR, beside
// the dotenv report, where the template keeps it as an artifact.
func (g *GitLab) RecordFile(given string) (string, string) {
	if given != "" {
		return given, given
	}
	p := g.artifactPath("REGSWEEP_RECORD_FILE", "regsweep-record.json")
	return p, p
}

// Errorf prints a red "ERROR:" line.
func (g *GitLab) Errorf(format string, args ...any) {
	fmt.Fprintf(g.stdout, "\x1b[0;31mERROR: %s\x1b[0m\n", fmt.Sprintf(format, args...))
}

// lookupEnv reads prefix+NAME with dashes as underscores, then with dashes
// kept; empty counts as unset.
func lookupEnv(env func(string) string, prefix, name string) (string, bool) {
	v, _ := lookupEnvVar(env, prefix, name)
	return v, v != ""
}

// lookupEnvVar is lookupEnv that also names the variable it read.
func lookupEnvVar(env func(string) string, prefix, name string) (value, key string) {
	up := strings.ToUpper(name)
	for _, k := range []string{prefix + strings.ReplaceAll(up, "-", "_"), prefix + up} {
		if v := env(k); v != "" {
			return v, k
		}
	}
	return "", ""
}

// renderDotenv writes outputs as sorted KEY=value lines.
func renderDotenv(outputs map[string]string) []byte {
	names := make([]string, 0, len(outputs))
	for n := range outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%s\n", dotenvKey(n), dotenvValue(outputs[n]))
	}
	return []byte(b.String())
}
