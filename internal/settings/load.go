package settings

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"github.com/regsweep/regsweep/internal/ci"
	"github.com/regsweep/regsweep/internal/plan"
)

// Error is a bad or missing setting: the app prints it and exits 2 before
// any request. Its message is one sentence naming the input and the fix.
type Error struct {
	Input string // kebab-case setting name; "" when no single input is at fault
	Msg   string
}

func (e *Error) Error() string {
	switch {
	case e.Input == "":
		return e.Msg
	case strings.HasPrefix(e.Msg, "is "):
		return fmt.Sprintf("input %q %s", e.Input, e.Msg)
	}
	return fmt.Sprintf("input %q: %s", e.Input, e.Msg)
}

// ErrHelp is returned by Load for --help or -h: print Usage() and exit 0.
var ErrHelp = flag.ErrHelp

// ErrVersion is returned by Load for --version: print the version, exit 0.
var ErrVersion = errors.New("version requested")

// Source says where a setting's value came from.
type Source string

const (
	SourceFlag    Source = "flag"       // a command-line flag
	SourceCI      Source = "ci"         // the provider (INPUT_*, PLUGIN_*, REGSWEEP_*)
	SourceCIDef   Source = "ci-default" // the provider's default (GitLab CI_REGISTRY_IMAGE)
	SourceDefault Source = "default"    // the definition's default
	SourceUnset   Source = ""
)

// Load reads, validates and returns the settings of one run. args are the
// command-line arguments after the program name. Precedence per setting:
// flag > provider Lookup > provider Default > definition default; an empty
// value counts as unset at every level. Secrets are passed to p.Mask as
// soon as they are read. Every failure is an *Error (several are joined
// with errors.Join), except ErrHelp and ErrVersion.
//
// When tags is empty but keep-latest, older-than or pulled-within is set, every tag is a
// candidate (Policy.Include matches all); Tags stays empty.
func Load(ctx context.Context, p ci.Provider, args []string) (*Settings, error) {
	defs := Definitions()
	flags, err := parseFlags(defs, args)
	if err != nil {
		return nil, err
	}
	r := &resolver{defs: defs, flags: flags, p: p, sources: map[string]Source{}, conflicts: map[string]error{}, notes: map[string]string{}}

	// go-envconfig reads a struct built from the table (one string field per
	// setting, tagged with its env stem) through a lookuper that maps the
	// stem back to the kebab name: go-envconfig refuses '-' in keys.
	fields := make([]reflect.StructField, len(defs))
	for i, d := range defs {
		fields[i] = reflect.StructField{Name: d.Field, Type: reflect.TypeFor[string](), Tag: reflect.StructTag(`env:"` + d.Env() + `"`)}
	}
	raw := reflect.New(reflect.StructOf(fields))
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{
		Target:   raw.Interface(),
		Lookuper: envconfig.LookuperFunc(r.lookupEnv),
	}); err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}

	s := &Settings{Sources: r.sources}
	sv := reflect.ValueOf(s).Elem()
	regex := r.useRegex()
	var errs []error
	raws := map[string]string{}
	for _, d := range defs {
		if err, ok := r.conflicts[d.Name]; ok {
			errs = append(errs, err)
		}
		if n, ok := r.notes[d.Name]; ok {
			p.Infof("%s", n)
		}
	}
	for i, d := range defs {
		v := strings.TrimSpace(raw.Elem().Field(i).String())
		if d.Kind == KindList && len(SplitList(v, true)) == 0 {
			v = "" // only separators: as good as unset
		}
		if v == "" {
			if d.Required && !(d.Name == "repository" && r.repositoryOptional()) {
				errs = append(errs, &Error{Input: d.Name, Msg: "is required: " + requiredHint(d.Name)})
			}
			continue
		}
		if err := assign(sv.FieldByName(d.Field), d, v, regex); err != nil {
			errs = append(errs, &Error{Input: d.Name, Msg: err.Error()})
		}
		raws[d.Name] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := r.sharding(s); err != nil {
		return nil, err
	}
	r.scopeCIDefaultCredentials(s)
	if s.ExpandOnly || len(s.Merge) > 0 {
		// Nothing is swept: no policy to build, and none to ask for.
		return s, nil
	}
	policyHints, err := buildPolicy(s)
	if err != nil {
		return nil, err
	}
	if s.MaxDeletionsMode == MaxDeletionsLimit && s.MaxDeletions == 0 {
		return nil, &Error{Input: "max-deletions-mode", Msg: "limit needs max-deletions, the number of manifests one run may delete: set max-deletions"}
	}
	// Likely typos in patterns are warnings, not errors: each one is a valid
	// pattern that matches nothing, or less than the user meant.
	hints := append(patternHints("tags", raws["tags"], s.Tags, s.UseRegex),
		patternHints("exclude-tags", raws["exclude-tags"], s.ExcludeTags, s.UseRegex)...)
	for _, h := range append(hints, policyHints...) {
		p.Warningf("%s", h)
	}
	return s, nil
}

// requiredHint tells how to set a required setting.
func requiredHint(name string) string {
	if name == "repository" {
		return "set it to the repository to sweep, e.g. registry.example.com/team/app"
	}
	return "set it"
}

// assign parses v by the definition's kind into the Settings field.
func assign(f reflect.Value, d Definition, v string, regex bool) error {
	switch d.Kind {
	case KindBool:
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case KindInt:
		n, err := parseInt(v, d.Min, d.Max)
		if err != nil {
			return err
		}
		f.SetInt(int64(n))
	case KindDuration:
		dur, err := ParseDuration(v)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(dur))
	case KindEnum:
		lv := strings.ToLower(v)
		for _, c := range d.Values {
			if lv == c {
				f.SetString(c)
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, strings.Join(d.Values, ", "))
	case KindList:
		commas := !(regex && (d.Name == "tags" || d.Name == "exclude-tags"))
		items := SplitList(v, commas)
		if d.Name == "repository" {
			if list, ok, err := jsonList(v); err != nil {
				return err
			} else if ok {
				items = list
			}
			seen := map[string]bool{}
			var repos []string
			for _, it := range items {
				r, err := ParseRepository(it)
				if err != nil {
					return err
				}
				if !seen[r] {
					seen[r] = true
					repos = append(repos, r)
				}
			}
			items = repos
		}
		f.Set(reflect.ValueOf(items))
	default:
		f.SetString(v)
	}
	return nil
}

// buildPolicy compiles the patterns and checks there is something to do.
// It returns the likely typos in a policy's patterns, for warnings.
func buildPolicy(s *Settings) ([]string, error) {
	if s.PolicyText != "" {
		return buildRuleSet(s)
	}
	if len(s.Tags) == 0 && s.KeepLatest == 0 && s.OlderThan == 0 && s.PulledWithin == 0 && !s.Untagged {
		return nil, &Error{Msg: "nothing to delete: set tags, keep-latest, older-than, pulled-within or untagged"}
	}
	include := s.Tags
	regex := s.UseRegex
	if len(include) == 0 && (s.KeepLatest > 0 || s.OlderThan > 0 || s.PulledWithin > 0) {
		include, regex = []string{"*"}, false
	}
	inc, err := plan.CompilePatterns(include, regex)
	if err != nil {
		return nil, &Error{Input: "tags", Msg: patternMsg(err)}
	}
	exc, err := plan.CompilePatterns(s.ExcludeTags, s.UseRegex)
	if err != nil {
		return nil, &Error{Input: "exclude-tags", Msg: patternMsg(err)}
	}
	s.Policy = plan.Policy{
		Include:              inc,
		Exclude:              exc,
		KeepLatest:           s.KeepLatest,
		OlderThan:            s.OlderThan,
		AgeFrom:              plan.AgeFrom(s.AgeFrom),
		PulledWithin:         s.PulledWithin,
		DeleteReferrers:      s.DeleteReferrers,
		Untagged:             s.Untagged,
		UntagWithPlaceholder: s.UntagWithPlaceholder,
		ProtectLatest:        s.ProtectLatest,
	}
	return nil, nil
}

// buildRuleSet reads the policy input, which replaces the rule inputs.
func buildRuleSet(s *Settings) ([]string, error) {
	var errs []error
	for _, name := range policyInputs {
		if s.ruleInputSet(name) {
			errs = append(errs, &Error{Input: "policy", Msg: fmt.Sprintf("cannot be combined with %s: a policy replaces tags, exclude-tags, use-regex, keep-latest, older-than, age-from, pulled-within and untagged, so write %s into its rules and remove the input", name, name)})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	pp, err := LoadPolicy(s.PolicyText)
	if err != nil {
		return nil, &Error{Input: "policy", Msg: err.Error()}
	}
	s.Policy = plan.Policy{
		Rules:                pp.Rules,
		Keep:                 pp.Keep,
		KeepDigests:          pp.KeepDigests,
		DeleteReferrers:      s.DeleteReferrers,
		UntagWithPlaceholder: s.UntagWithPlaceholder,
		ProtectLatest:        s.ProtectLatest,
	}
	return pp.Hints, nil
}

// ruleInputSet says whether a rule input says something else than its
// default (the runner fills every default, so a default says nothing).
func (s *Settings) ruleInputSet(name string) bool {
	switch name {
	case "tags":
		return len(s.Tags) > 0
	case "exclude-tags":
		return len(s.ExcludeTags) > 0
	case "keep-latest":
		return s.KeepLatest != 0
	case "older-than":
		return s.OlderThan != 0
	case "age-from":
		return s.AgeFrom != ""
	case "pulled-within":
		return s.PulledWithin != 0
	case "untagged":
		return s.Untagged
	case "use-regex":
		return s.UseRegex
	}
	return false
}

func patternMsg(err error) string {
	var pe *plan.PatternError
	if errors.As(err, &pe) {
		if pe.Regex {
			return fmt.Sprintf("invalid regular expression %q: %s (fix it, or set use-regex to false for globs)", pe.Pattern, pe.Problem)
		}
		return fmt.Sprintf("invalid glob pattern %q: %s (fix it, or set use-regex to true for regular expressions)", pe.Pattern, pe.Problem)
	}
	return err.Error()
}

// resolver answers go-envconfig's lookups from the flags and the provider.
type resolver struct {
	defs    []Definition
	flags   map[string]string
	p       ci.Provider
	sources map[string]Source
	// conflicts are settings set twice to different values (see layered);
	// notes say which of two values was taken, and why.
	// Keyed by setting name: a setting may be resolved more than once.
	conflicts map[string]error
	notes     map[string]string
}

func (r *resolver) lookupEnv(key string) (string, bool) {
	for _, d := range r.defs {
		if d.Env() == key {
			v, src := r.resolve(d)
			r.sources[d.Name] = src
			if d.Secret && v != "" {
				r.p.Mask(v)
				if t := strings.TrimSpace(v); t != v {
					r.p.Mask(t) // the value used is the trimmed one
				}
			}
			return v, v != ""
		}
	}
	return "", false
}

// resolve applies the precedence; empty (after trimming) is unset.
func (r *resolver) resolve(d Definition) (string, Source) {
	if v := strings.TrimSpace(r.flags[d.Name]); v != "" {
		return v, SourceFlag
	}
	if v, ok := r.layered(d); ok {
		return v, SourceCI
	}
	if v, ok := r.p.Lookup(d.Name); ok && strings.TrimSpace(v) != "" {
		return v, SourceCI
	}
	if v, ok := r.p.Default(d.Name); ok && strings.TrimSpace(v) != "" {
		return v, SourceCIDef
	}
	if d.Default != "" {
		return d.Default, SourceDefault
	}
	return "", SourceUnset
}

// layered settles a setting a provider reads from two places (GitHub's
// INPUT_* and REGSWEEP_*) when both are set and differ. The runner fills
// every INPUT_* from action.yml's default, so an input equal to that default
// says nothing: the explicit REGSWEEP_* wins (REGSWEEP_DRY_RUN=true beside
// the default INPUT_DRY-RUN=false is a dry run). An input that differs from
// its default was written by the user, and two different values for one
// setting stop the run (recorded in r.conflicts, exit 2): guessing could
// turn a dry run into a real one. ok=false leaves it to Lookup.
func (r *resolver) layered(d Definition) (string, bool) {
	lp, ok := r.p.(ci.Layered)
	if !ok {
		return "", false
	}
	input, inputVar, env, envVar := lp.Layers(d.Name)
	if strings.TrimSpace(input) == "" || strings.TrimSpace(env) == "" || sameValue(d, input, env) {
		return "", false
	}
	if sameValue(d, input, d.actionDefault()) {
		r.notes[d.Name] = fmt.Sprintf("%s: using %s; %s only carries action.yml's default", d.Name, envVar, inputVar)
		return env, true
	}
	msg := fmt.Sprintf("is set twice, to different values: %s=%s (the step's with:) and %s=%s; remove one of them", inputVar, input, envVar, env)
	if d.Secret {
		msg = fmt.Sprintf("is set twice, to different values: %s (the step's with:) and %s; remove one of them", inputVar, envVar)
	}
	r.conflicts[d.Name] = &Error{Input: d.Name, Msg: msg}
	return "", false
}

// sameValue compares two texts as values of d: "false" and "no" are the
// same boolean, " 3" and "3" the same number.
func sameValue(d Definition, a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch d.Kind {
	case KindBool:
		x, errA := parseBool(a)
		y, errB := parseBool(b)
		if errA == nil && errB == nil {
			return x == y
		}
	case KindInt:
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		if errA == nil && errB == nil {
			return x == y
		}
	case KindEnum:
		return strings.EqualFold(a, b)
	}
	return a == b
}

// useRegex peeks at use-regex before lists are split: it decides whether
// commas separate patterns. A bad value is reported by its own field.
func (r *resolver) useRegex() bool {
	d, _ := definition(r.defs, "use-regex")
	v, _ := r.resolve(d)
	b, err := parseBool(v)
	return err == nil && b
}

// scopeCIDefaultCredentials keeps credentials the CI supplied (GitLab's
// CI_REGISTRY_USER/PASSWORD, CI_JOB_TOKEN) for the CI's own registry: they
// are dropped unless every repository is on the provider's credential host
// (GitLab's CI_REGISTRY, not the host of CI_REGISTRY_IMAGE, which a job may
// override), so a job token is never sent to another registry.
func (r *resolver) scopeCIDefaultCredentials(s *Settings) {
	if r.sources["username"] != SourceCIDef && r.sources["password"] != SourceCIDef {
		return
	}
	host := ""
	if sc, ok := r.p.(ci.CredentialScoper); ok {
		host = normalizeRegistry(strings.ToLower(sc.CredentialHost()))
	}
	for _, repo := range s.Repositories {
		if host == "" || RepositoryHost(repo) != host {
			if r.sources["username"] == SourceCIDef {
				s.Username = ""
			}
			if r.sources["password"] == SourceCIDef {
				s.Password = ""
			}
			r.p.Infof("Not using the %s job's registry credentials: %s is not on the job's registry %s.", r.p.Name(), repo, orNone(host))
			return
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// parseFlags reads --name value / --name=value for every definition (a
// list flag may repeat), --help and --version. Values are validated later,
// with the same messages as every other source.
func parseFlags(defs []Definition, args []string) (map[string]string, error) {
	vals := map[string]string{}
	fs := flag.NewFlagSet("regsweep", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, d := range defs {
		fs.Var(&flagValue{def: d, vals: vals}, d.Name, d.Help)
	}
	version := fs.Bool("version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ErrHelp
		}
		return nil, &Error{Msg: flagMsg(err) + " (see regsweep --help)"}
	}
	if *version {
		return nil, ErrVersion
	}
	if fs.NArg() > 0 && fs.Arg(0) == MergeCommand {
		// `regsweep merge [flags] RECORD...`: the records are the merge
		// setting, and flags may come between them.
		var records []string
		for rest := fs.Args()[1:]; len(rest) > 0; {
			if err := fs.Parse(rest); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					return nil, ErrHelp
				}
				return nil, &Error{Msg: flagMsg(err) + " (see regsweep --help)"}
			}
			rest = fs.Args()
			if len(rest) > 0 {
				records = append(records, rest[0])
				rest = rest[1:]
			}
		}
		if len(records) == 0 {
			return nil, &Error{Input: "merge", Msg: "regsweep merge needs the shards' record files: regsweep merge --shards-file FILE RECORD..."}
		}
		if prev := vals["merge"]; prev != "" {
			records = append([]string{prev}, records...)
		}
		vals["merge"] = strings.Join(records, "\n")
		return vals, nil
	}
	if fs.NArg() > 0 {
		return nil, &Error{Msg: fmt.Sprintf("unexpected argument %q: settings are flags such as --repository or --tags (see regsweep --help)", fs.Arg(0))}
	}
	return vals, nil
}

// flagMsg rewords the flag package's errors in --flag terms.
func flagMsg(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return "unknown flag --" + strings.TrimLeft(name, "-")
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return "flag --" + strings.TrimLeft(name, "-") + " needs a value"
	}
	return msg
}

// flagValue records a flag's raw text; booleans may be given bare.
type flagValue struct {
	def  Definition
	vals map[string]string
}

func (f *flagValue) String() string { return "" }

func (f *flagValue) Set(v string) error {
	if prev, ok := f.vals[f.def.Name]; ok && f.def.Kind == KindList && prev != "" {
		v = prev + "\n" + v
	}
	f.vals[f.def.Name] = v
	return nil
}

func (f *flagValue) IsBoolFlag() bool { return f.def.Kind == KindBool }
