package ci

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/sethvargo/go-githubactions"
)

// GitHub is the GitHub Actions runtime: inputs from INPUT_*, outputs to the
// GITHUB_OUTPUT file, the job summary to GITHUB_STEP_SUMMARY, masks and log
// groups as workflow commands on stdout.
type GitHub struct {
	env    func(string) string
	stdout io.Writer
	gha    *githubactions.Action
}

// NewGitHub returns the GitHub Actions provider. env is the environment
// lookup (os.Getenv in production); workflow commands go to stdout, which is
// where the runner reads them.
func NewGitHub(env func(string) string, stdout, stderr io.Writer) *GitHub {
	_ = stderr // the runner reads commands from stdout only; keep one ordered log
	w := quietWriter{stdout}
	return &GitHub{
		env:    env,
		stdout: w,
		gha:    githubactions.New(githubactions.WithGetenv(env), githubactions.WithWriter(w)),
	}
}

// Name implements Provider.
func (g *GitHub) Name() string { return "github" }

// Lookup reads INPUT_<NAME> with the name upper-cased and dashes kept, as the
// runner sets it ("INPUT_DRY-RUN"), then the underscore form ("INPUT_DRY_RUN")
// that `env:` blocks and other runners use, then REGSWEEP_<NAME>: the CLI in
// a `run:` step (GITHUB_ACTIONS is set there too) gets no INPUT_*, and
// ignoring its REGSWEEP_DRY_RUN would turn a dry run into a real one.
func (g *GitHub) Lookup(name string) (string, bool) {
	input, _, env, _ := g.Layers(name)
	if input != "" {
		return input, true
	}
	return env, env != ""
}

// Layers implements Layered: INPUT_<NAME> (dashes kept, then as
// underscores) and REGSWEEP_<NAME>, each with the variable it came from.
func (g *GitHub) Layers(name string) (input, inputVar, env, envVar string) {
	up := strings.ToUpper(name)
	for _, k := range []string{"INPUT_" + up, "INPUT_" + strings.ReplaceAll(up, "-", "_")} {
		if v := g.env(k); strings.TrimSpace(v) != "" {
			input, inputVar = v, k
			break
		}
	}
	env, envVar = lookupEnvVar(g.env, "REGSWEEP_", name)
	return input, inputVar, env, envVar
}

// Default supplies github-token from GITHUB_TOKEN when a workflow passes it
// through env; everything else has no GitHub default (the repository is
// always named: guessing it could sweep the wrong package).
func (g *GitHub) Default(name string) (string, bool) {
	if name == "github-token" {
		if v := g.env("GITHUB_TOKEN"); v != "" {
			return v, true
		}
	}
	return "", false
}

// Mask issues ::add-mask:: for the secret and, for a multi-line secret, for
// each line, because the runner masks log lines one at a time.
func (g *GitHub) Mask(secret string) {
	if strings.TrimSpace(secret) == "" {
		return
	}
	g.gha.AddMask(secret)
	if strings.ContainsAny(secret, "\r\n") {
		for _, l := range strings.FieldsFunc(secret, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if strings.TrimSpace(l) != "" {
				g.gha.AddMask(l)
			}
		}
	}
}

// SetOutput appends name<<DELIM ... DELIM to the GITHUB_OUTPUT file with a
// random delimiter absent from the value. go-githubactions' SetOutput uses a
// fixed delimiter, which a value could contain to inject outputs, so the
// file is written here. Without GITHUB_OUTPUT the output is printed.
func (g *GitHub) SetOutput(o Output) error {
	name, value := o.Name, o.Value
	entry, err := heredocEntry(name, value)
	if err != nil {
		return err
	}
	path := g.env("GITHUB_OUTPUT")
	if path == "" {
		_, _ = io.WriteString(g.stdout, neutralizeCommands(entry))
		return nil
	}
	if err := appendFile(path, []byte(entry)); err != nil {
		return fmt.Errorf("write output %s to GITHUB_OUTPUT: %w", name, err)
	}
	return nil
}

// Summary appends markdown to GITHUB_STEP_SUMMARY as is (not through
// AddStepSummaryTemplate, which html-escapes); without it, prints it.
func (g *GitHub) Summary(markdown string) error {
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	path := g.env("GITHUB_STEP_SUMMARY")
	if path == "" {
		_, _ = io.WriteString(g.stdout, neutralizeCommands(markdown))
		return nil
	}
	if err := appendFile(path, []byte(markdown)); err != nil {
		return fmt.Errorf("write job summary to GITHUB_STEP_SUMMARY: %w", err)
	}
	return nil
}

// Group implements Provider with ::group::.
func (g *GitHub) Group(title string) { g.gha.Group(title) }

// EndGroup implements Provider with ::endgroup::.
func (g *GitHub) EndGroup() { g.gha.EndGroup() }

// Infof writes a plain log line; text that looks like a workflow command is
// defused so registry data cannot issue one.
func (g *GitHub) Infof(format string, args ...any) {
	_, _ = io.WriteString(g.stdout, neutralizeCommands(fmt.Sprintf(format, args...))+"\n")
}

// Warningf writes ::warning:: with %, \r and \n escaped as the runner expects.
func (g *GitHub) Warningf(format string, args ...any) {
	g.gha.Warningf("%s", fmt.Sprintf(format, args...))
}

// Noticef writes ::notice::, which the run's page shows without opening
// the log.
func (g *GitHub) Noticef(format string, args ...any) {
	g.gha.Noticef("%s", fmt.Sprintf(format, args...))
}

// RecordFile defaults to regsweep-record.json in GITHUB_WORKSPACE, which a
// container action sees mounted and actions/upload-artifact reads. It is
// shown relative to the workspace, because the container's path
// (/github/workspace) is not the host's.
func (g *GitHub) RecordFile(given string) (string, string) {
	ws := g.env("GITHUB_WORKSPACE")
	path := given
	if path == "" {
		if ws == "" {
			return "", ""
		}
		path = filepath.Join(ws, "regsweep-record.json")
	} else if !filepath.IsAbs(path) && ws != "" {
		// Steps run with the workspace as working directory.
		return path, filepath.ToSlash(path)
	}
	if ws != "" {
		if rel, err := filepath.Rel(ws, path); err == nil && filepath.IsLocal(rel) {
			return path, filepath.ToSlash(rel)
		}
	}
	return path, path
}

// Errorf writes ::error:: with %, \r and \n escaped as the runner expects.
func (g *GitHub) Errorf(format string, args ...any) {
	g.gha.Errorf("%s", fmt.Sprintf(format, args...))
}
