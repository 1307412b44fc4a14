package apply

import "sort"

// Which tags each record names: the freshest knowledge of a manifest's
// tags, less those this run removed ahead of its deletion.

// noteUntaggedFirst records which tags the finished phases removed ahead of
// their manifest's deletion, and are still gone (not put back). Called
// between phases only.
func (r *runner) noteUntaggedFirst() {
	r.untaggedFirst = nil
	for _, rec := range r.records {
		if !rec.Op.BeforeDelete || !rec.Outcome.Gone() {
			continue
		}
		if r.untaggedFirst == nil {
			r.untaggedFirst = map[string]map[string]bool{}
		}
		if r.untaggedFirst[rec.Op.Digest] == nil {
			r.untaggedFirst[rec.Op.Digest] = map[string]bool{}
		}
		r.untaggedFirst[rec.Op.Digest][rec.Op.Tag] = true
	}
}

// leftUntagged lists the manifests whose every tag this run removed first
// and which it then did not delete.
func (r *runner) leftUntagged() []string {
	r.noteUntaggedFirst()
	var out []string
	for d, gone := range r.untaggedFirst {
		i, ok := r.deleteIdx[d]
		if !ok || r.records[i].Outcome.Gone() || r.goneAfterFailure[d] {
			continue
		}
		all := true
		for _, t := range r.tags(d) {
			all = all && gone[t]
		}
		if all {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// tags are the tags a manifest carries, per the freshest knowledge.
func (r *runner) tags(digest string) []string {
	if t, ok := r.tagsOf[digest]; ok {
		return append([]string(nil), t...)
	}
	if m, ok := r.g.Manifests[digest]; ok && len(m.Tags) > 0 {
		return append([]string(nil), m.Tags...)
	}
	return nil
}

// deleteTags are the tags a DELETE by digest removes: the manifest's tags
// but those this run already removed ahead of it (their own records name
// them), so that no tag is reported twice.
func (r *runner) deleteTags(digest string) []string {
	all := r.tags(digest)
	gone := r.untaggedFirst[digest]
	if len(gone) == 0 {
		return all
	}
	out := make([]string, 0, len(all))
	for _, t := range all {
		if !gone[t] {
			out = append(out, t)
		}
	}
	return out
}
