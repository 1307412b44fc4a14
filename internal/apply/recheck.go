package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
)

// The re-check, in one place. Between discovery and the first deletion
// someone may push, move or delete a tag; the re-check looks at the
// registry once more just before deleting and drops whatever that look no
// longer deletes. It has three parts:
//   - where tags are resolved one by one (the OCI API), the look is part of
//     discovery (backend.DiscoverOptions.Recheck): the tags that keep
//     images are resolved last, after a second listing;
//   - where one listing says every digest, Relist lists again, updates the
//     graph (relisted, pure), reads what is new (backend.NewReader),
//     rebuilds the plan and keeps only what both plans do
//     (plan.Plan.Recheck, pure); Run then marks the rest Skipped (recheck);
//   - after deleting, confirm lists once more so that the record names only
//     tags that are really gone (confirm.go).

// Relist returns the re-check for Options.Recheck where the backend's
// listing says every tag's digest (graph.Capabilities.ListsDigests), or nil
// where the re-check was part of discovery. rebuild is the plan's pure
// Build with the run's policy and clock.
func Relist(b backend.Backend, g *graph.Graph, p *plan.Plan, rebuild func(*graph.Graph) *plan.Plan) func(context.Context) (*plan.Plan, error) {
	if !g.Capabilities.ListsDigests {
		return nil
	}
	return func(ctx context.Context) (*plan.Plan, error) {
		current, err := b.ListTags(ctx)
		if err != nil {
			return nil, fmt.Errorf("re-list %s before deleting: %w", g.Repository, err)
		}
		fresh := relisted(g, current)
		if nr, ok := b.(backend.NewReader); ok {
			if err := nr.ReadNew(ctx, fresh); err != nil {
				return nil, fmt.Errorf("read what appeared in %s before deleting: %w", g.Repository, err)
			}
		}
		return p.Recheck(rebuild(fresh)), nil
	}
}

// relisted returns a copy of g whose tags are the current listing. Manifests
// stay as discovered: a tag now naming a digest never seen becomes an
// unknown manifest, which the plan keeps.
func relisted(g *graph.Graph, current map[string]string) *graph.Graph {
	fresh := graph.New(g.Repository, g.Backend, g.Capabilities)
	fresh.Warnings = g.Warnings
	maps.Copy(fresh.Absent, g.Absent)
	for d, m := range g.Manifests {
		c := *m
		c.Tags = nil
		fresh.Manifests[d] = &c
	}
	for t, d := range current {
		fresh.SetTag(t, d)
	}
	fresh.Finish()
	return fresh
}

// recheck asks for the refreshed plan and marks every op it no longer holds
// as Skipped. The tags of still-planned manifests come from the refreshed
// plan, so the record names the tags that really go.
func (r *runner) recheck(ctx context.Context) error {
	fresh, err := r.opts.Recheck(ctx)
	if err != nil {
		return fmt.Errorf("re-check before deleting: %w", err)
	}
	if fresh == nil {
		return errors.New("re-check before deleting: no plan returned")
	}
	still := map[opKey]bool{}
	for _, ops := range fresh.Phases {
		for _, op := range ops {
			still[keyOf(op)] = true
		}
	}
	mans, tagDec := fresh.Decisions()
	r.tagsOf = map[string][]string{}
	for _, md := range fresh.Manifests {
		if md.Action == plan.Delete {
			r.tagsOf[md.Digest] = md.Tags
		}
	}
	// A planned tag the re-check's listing no longer has was removed by
	// someone else (on GitHub Packages, with its version): it is reported
	// already absent, like a DELETE answered 404, never as kept.
	gone := func(tag string) bool { _, ok := tagDec[tag]; return !ok }
	const goneReason = "already absent: removed by someone else before the re-check"
	for i := range r.records {
		rec := &r.records[i]
		if still[keyOf(rec.Op)] {
			continue
		}
		rec.Outcome = Skipped
		rec.Reason = "the re-check before deleting found it is no longer to be removed"
		switch rec.Op.Kind {
		case plan.OpDelete:
			planned, first := r.tags(rec.Op.Digest), map[string]bool{}
			for _, o := range r.records {
				if o.Op.BeforeDelete && o.Op.Digest == rec.Op.Digest {
					first[o.Op.Tag] = true // its own record says what became of it
				}
			}
			rec.Tags = []string{} // the tags that stay: never the plan's, some may be gone
			allGone := len(planned) > 0
			for _, t := range planned {
				if !gone(t) {
					allGone = false
					rec.Tags = append(rec.Tags, t)
				}
			}
			if allGone {
				rec.Outcome, rec.Reason = AlreadyGone, goneReason
				for _, t := range planned {
					if !first[t] {
						rec.Tags = append(rec.Tags, t)
					}
				}
			} else if md, ok := mans[rec.Op.Digest]; ok && md.Action == plan.Keep && md.Reason != "" {
				rec.Reason += ": " + md.Reason
			}
		case plan.OpUntag:
			if gone(rec.Op.Tag) {
				rec.Outcome, rec.Reason, rec.Tags = AlreadyGone, goneReason, []string{rec.Op.Tag}
			} else if td := tagDec[rec.Op.Tag]; td.Action == plan.Keep && td.Reason != "" {
				rec.Reason += ": " + td.Reason
			} else if td.Digest != rec.Op.Digest {
				rec.Reason += ": the tag now names another manifest"
			}
		}
		r.logf("%s %s %s: %s", rec.Outcome, rec.Op.Kind, opTarget(rec.Op), rec.Reason)
	}
	return nil
}

// opKey identifies an op across two plans.
type opKey struct {
	kind   plan.OpKind
	digest string
	tag    string
}

func keyOf(op plan.Op) opKey { return opKey{op.Kind, op.Digest, op.Tag} }
