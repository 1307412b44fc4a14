package settings

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/regsweep/regsweep/internal/plan"
)

// policyInputs are the inputs a policy replaces: giving both is an error,
// since which one wins would be a guess.
var policyInputs = []string{"tags", "exclude-tags", "keep-latest", "older-than", "age-from", "pulled-within", "untagged", "use-regex"}

// ruleKeys are the keys of one rule, in the order the README lists them.
var ruleKeys = []string{"name", "tags", "use-regex", "exclude-tags", "group-by", "keep-latest", "older-than", "age-from", "pulled-within", "untagged", "repositories"}

// ParsedPolicy is the `policy` input read and checked.
type ParsedPolicy struct {
	Rules       []plan.RetentionRule
	Keep        plan.Matcher
	KeepDigests []string
	// Hints are likely typos in the rules' patterns, as for tags.
	Hints []string
}

// policyError is a malformed policy: where (the YAML line), which part,
// and what is wrong.
type policyError struct {
	source string // "" inline, else the file
	line   int
	where  string // "rule 2, older-than"
	msg    string
}

func (e *policyError) Error() string {
	var b strings.Builder
	if e.source != "" {
		fmt.Fprintf(&b, "%s ", e.source)
	}
	if e.line > 0 {
		fmt.Fprintf(&b, "line %d", e.line)
	}
	if e.where != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "(%s)", e.where)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

// LoadPolicy reads the `policy` input: YAML inline, or the path of a file
// holding it (relative to the working directory, the workspace in CI). A
// value that parses as a YAML mapping is the policy itself; a single
// string is a path.
func LoadPolicy(v string) (*ParsedPolicy, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(v), &doc); err == nil && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.ScalarNode && !strings.ContainsAny(v, "\n") {
		path := strings.TrimSpace(v)
		data, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("the file %s does not exist: give the path of a policy file in the workspace, or the YAML itself (rules: ...)", path)
			}
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		return parsePolicy(string(data), path)
	}
	return parsePolicy(v, "")
}

// parsePolicy reads policy YAML; source names its file ("" inline).
func parsePolicy(text, source string) (*ParsedPolicy, error) {
	fail := func(n *yaml.Node, where, format string, args ...any) error {
		line := 0
		if n != nil {
			line = n.Line
		}
		return &policyError{source: source, line: line, where: where, msg: fmt.Sprintf(format, args...)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, &policyError{source: source, msg: "is not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) == 0 {
		return nil, fail(nil, "", "is empty: write rules: followed by a list of rules")
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fail(top, "", "must be a mapping with rules: and optionally keep:")
	}
	out := &ParsedPolicy{}
	var rulesNode *yaml.Node
	for i := 0; i < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "rules":
			rulesNode = v
		case "keep":
			items, err := stringList(v)
			if err != nil {
				return nil, fail(v, "keep", "%s", err)
			}
			var tags []string
			for _, it := range items {
				if algo, hex, ok := strings.Cut(it, ":"); ok {
					if algo != "sha256" || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
						return nil, fail(v, "keep", "%q is not a digest: write sha256: and 64 lowercase hex digits, or a tag", it)
					}
					out.KeepDigests = append(out.KeepDigests, it)
					continue
				}
				tags = append(tags, it)
			}
			m, err := plan.CompilePatterns(tags, false)
			if err != nil {
				return nil, fail(v, "keep", "%s", err)
			}
			out.Keep = m
		default:
			return nil, fail(k, "", "unknown key %q: a policy has rules and keep", k.Value)
		}
	}
	if rulesNode == nil || rulesNode.Kind != yaml.SequenceNode || len(rulesNode.Content) == 0 {
		return nil, fail(orNode(rulesNode, top), "rules", "rules must be a list of at least one rule")
	}
	for i, rn := range rulesNode.Content {
		r, hints, err := parseRule(rn, i+1, fail)
		if err != nil {
			return nil, err
		}
		out.Rules = append(out.Rules, r)
		out.Hints = append(out.Hints, hints...)
	}
	return out, nil
}

func orNode(n, def *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return def
}

// parseRule reads rule number idx (1-based).
func parseRule(n *yaml.Node, idx int, fail func(*yaml.Node, string, string, ...any) error) (r plan.RetentionRule, hints []string, _ error) {
	where := func(key string) string {
		if key == "" {
			return fmt.Sprintf("rule %d", idx)
		}
		return fmt.Sprintf("rule %d, %s", idx, key)
	}
	if n.Kind != yaml.MappingNode {
		return r, nil, fail(n, where(""), "a rule is a mapping of %s", strings.Join(ruleKeys, ", "))
	}
	vals := map[string]*yaml.Node{}
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		known := false
		for _, rk := range ruleKeys {
			known = known || rk == k.Value
		}
		if !known {
			return r, nil, fail(k, where(""), "unknown key %q: a rule takes %s", k.Value, strings.Join(ruleKeys, ", "))
		}
		if _, dup := vals[k.Value]; dup {
			return r, nil, fail(k, where(k.Value), "%s is given twice", k.Value)
		}
		vals[k.Value] = v
	}
	scalar := func(key string) (string, *yaml.Node, error) {
		v := vals[key]
		if v == nil {
			return "", nil, nil
		}
		if v.Kind != yaml.ScalarNode {
			return "", v, fail(v, where(key), "%s takes a single value", key)
		}
		return strings.TrimSpace(v.Value), v, nil
	}
	list := func(key string) ([]string, *yaml.Node, error) {
		v := vals[key]
		if v == nil {
			return nil, nil, nil
		}
		items, err := stringList(v)
		if err != nil {
			return nil, v, fail(v, where(key), "%s", err)
		}
		return items, v, nil
	}
	// field reads key's single value, when given, with parse; what parse
	// refuses is reported at the value's line.
	field := func(key string, parse func(string) error) error {
		s, v, err := scalar(key)
		if err != nil || v == nil {
			return err
		}
		if err := parse(s); err != nil {
			return fail(v, where(key), "%s", err)
		}
		return nil
	}
	var err error
	if r.Name, _, err = scalar("name"); err != nil {
		return r, nil, err
	}
	regex := false
	if err := field("use-regex", func(s string) (err error) { regex, err = parseBool(s); return err }); err != nil {
		return r, nil, err
	}
	patterns := func(key string, regex bool) (plan.Matcher, []string, error) {
		items, v, err := list(key)
		if err != nil || v == nil {
			return nil, nil, err
		}
		m, err := plan.CompilePatterns(items, regex)
		if err != nil {
			return nil, nil, fail(v, where(key), "%s", err)
		}
		if key != "repositories" {
			hints = append(hints, patternHints(fmt.Sprintf("policy line %d (%s)", v.Line, where(key)), "", items, regex)...)
		}
		return m, items, nil
	}
	var tags []string
	if r.Include, tags, err = patterns("tags", regex); err != nil {
		return r, nil, err
	}
	if r.Exclude, _, err = patterns("exclude-tags", regex); err != nil {
		return r, nil, err
	}
	if r.Repositories, _, err = patterns("repositories", false); err != nil {
		return r, nil, err
	}
	// In this order: group-by needs keep-latest read.
	for _, f := range []struct {
		key   string
		parse func(string) error
	}{
		{"keep-latest", func(s string) (err error) { r.KeepLatest, err = parseInt(s, 0, maxNumber); return err }},
		{"older-than", func(s string) (err error) { r.OlderThan, err = ParseDuration(s); return err }},
		{"age-from", func(s string) error {
			if !slices.Contains(plan.AgeFroms(), strings.ToLower(s)) {
				return fmt.Errorf("%q is not one of %s", s, strings.Join(plan.AgeFroms(), ", "))
			}
			r.AgeFrom = plan.AgeFrom(strings.ToLower(s))
			return nil
		}},
		{"pulled-within", func(s string) (err error) { r.PulledWithin, err = ParseDuration(s); return err }},
		{"untagged", func(s string) (err error) { r.Untagged, err = parseBool(s); return err }},
		{"group-by", func(s string) error {
			re, err := regexp.Compile(s)
			if err != nil {
				return fmt.Errorf("invalid regular expression %q: %s", s, regexProblemText(err))
			}
			if re.NumSubexp() == 0 {
				return fmt.Errorf("%q has no capture group: tags whose captured text is equal form a group, so put the part that names the group in parentheses, e.g. ^sha-(.+)-[0-9a-f]{7}$", s)
			}
			if r.KeepLatest == 0 {
				return errors.New("group-by only splits what keep-latest counts: set keep-latest too")
			}
			r.GroupBy = re
			return nil
		}},
	} {
		if err := field(f.key, f.parse); err != nil {
			return r, nil, err
		}
	}
	if len(tags) == 0 && !r.Untagged {
		return r, nil, fail(n, where(""), "covers nothing: give tags, or untagged: true")
	}
	return r, hints, nil
}

// stringList reads a YAML list of strings, or one string.
func stringList(v *yaml.Node) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if s := strings.TrimSpace(v.Value); s != "" {
			return []string{s}, nil
		}
		return nil, nil
	case yaml.SequenceNode:
		var out []string
		for _, it := range v.Content {
			if it.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a list entry must be a single value", it.Line)
			}
			if s := strings.TrimSpace(it.Value); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, errors.New("expects a list of strings")
}

// regexProblemText is the short problem of a regexp error.
func regexProblemText(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}
