// Package ci is the seam in front of CI systems: where settings come from
// and where outputs, masks, the summary, log groups and warnings go. One
// file per system; Detect picks one from the environment.
package ci

// Output is one step output.
type Output struct {
	Name  string
	Value string
	// List: a JSON array, possibly long. GitLab's dotenv report leaves
	// these out (it holds short single-line values only).
	List bool
}

// Provider is one CI system (or the plain terminal).
type Provider interface {
	// Name is "github", "gitlab", "woodpecker", "drone" or "terminal".
	Name() string
	// Lookup returns a setting by its kebab-case name ("dry-run") from the
	// place this CI puts it (INPUT_DRY-RUN, PLUGIN_DRY_RUN, REGSWEEP_DRY_RUN).
	// An empty value counts as unset.
	Lookup(name string) (string, bool)
	// Default returns a value this CI supplies for a setting the user left
	// unset (GitLab: repository <- CI_REGISTRY_IMAGE); ok=false for none.
	Default(name string) (string, bool)
	// Mask hides a secret from the CI log.
	Mask(secret string)
	// SetOutput records one output (name kebab-case, value may be multi-line).
	SetOutput(o Output) error
	// RecordFile returns where to write the run's record: the path given by
	// the user (may be empty) or this CI's default place for it, which is
	// where artifact uploads find it; and how to show that path in outputs.
	// An empty write path means no file.
	RecordFile(given string) (write, show string)
	// Summary appends markdown to the job summary (or prints it).
	Summary(markdown string) error
	// Group and EndGroup fold log lines where the CI can.
	Group(title string)
	EndGroup()
	// Infof, Warningf and Errorf write one log line at that level.
	Infof(format string, args ...any)
	Warningf(format string, args ...any)
	// Noticef writes the one result line where the CI shows it at a glance.
	Noticef(format string, args ...any)
	Errorf(format string, args ...any)
}

// CredentialScoper is implemented by providers whose default credentials
// (Default("username"), Default("password")) belong to one registry: they
// are sent only to repositories on CredentialHost, and never when it is "".
type CredentialScoper interface {
	CredentialHost() string
}

// Layered is implemented by providers that read a setting from two places
// a user may both fill: GitHub's INPUT_* (which the runner always fills with
// action.yml's default) and REGSWEEP_*. Lookup returns the first; the
// settings package uses Layers to tell a default from a real conflict.
type Layered interface {
	// Layers returns the input's value and its variable name, and the
	// REGSWEEP_* value and its name; empty values count as unset.
	Layers(name string) (input, inputVar, env, envVar string)
}
