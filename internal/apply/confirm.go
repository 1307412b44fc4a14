package apply

import (
	"context"
	"errors"
	"fmt"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/graph"
	"github.com/regsweep/regsweep/internal/plan"
)

// confirm lists the tags once more after deleting (Options.Confirm), so
// that the record names only tags that are really gone. A tag still listed
// is looked at: one naming another image moved there during the run and
// survives (not reported deleted); one still naming the manifest just deleted outlived it
// (go-containerregistry's registry keeps such tags readable), so it is
// removed by tag where the registry can, and is otherwise a failure with
// the reason: a run never ends 0 with a swept tag still resolving.
func (r *runner) confirm(ctx context.Context, res *Result) {
	b, g := r.b, r.g
	var gone bool
	for _, rec := range res.Records {
		gone = gone || rec.Op.Kind == plan.OpDelete && rec.Outcome.Gone() && len(rec.Tags) > 0
	}
	if !gone || ctx.Err() != nil {
		return
	}
	current, err := b.ListTags(ctx)
	if err != nil {
		r.warnf("%s: could not list the tags after deleting to confirm which are gone: %s", g.Repository, err)
		return
	}
	var outlived []Record
	for i, rec := range res.Records {
		if rec.Op.Kind != plan.OpDelete || !rec.Outcome.Gone() || rec.Tags == nil {
			continue
		}
		kept := make([]string, 0, len(rec.Tags))
		for _, t := range rec.Tags {
			listed, still := current[t]
			if !still {
				kept = append(kept, t)
				continue
			}
			now, err := nameOf(ctx, b, g, t, listed)
			var why string // why the tag is removed by tag
			switch {
			case errors.Is(err, backend.ErrNotFound):
				// Listed, naming nothing: removed between the listing and
				// the look, or left dangling by a DELETE the client gave up
				// on (distribution deletes the manifest, then stops looking
				// for its tags once the request is gone). Removing it by tag
				// settles both; a 404 there means it is gone.
				why = fmt.Sprintf("tag %s is still listed after its manifest %s was deleted, and names nothing (a deletion cut off half-way leaves such a tag)", t, rec.Op.Digest)
			case err != nil:
				outlived = append(outlived, failedTag(rec.Op.Digest, t,
					fmt.Sprintf("tag %s is still listed after its manifest %s was deleted, and could not be looked up: %s", t, rec.Op.Digest, err), err))
				continue
			case now != rec.Op.Digest:
				r.logf("%s: tag %s still exists (it moved to another image during the run); not reported as deleted", g.Repository, t)
				continue
			default:
				why = fmt.Sprintf("tag %s still names %s after that manifest was deleted (this registry keeps tags after a digest delete)", t, rec.Op.Digest)
			}
			if rr := r.removeOutlived(ctx, rec.Op.Digest, t, why); rr.Outcome == Untagged {
				kept = append(kept, t)
			} else {
				outlived = append(outlived, rr)
			}
		}
		res.Records[i].Tags = kept
	}
	res.Records = append(res.Records, outlived...)
}

// nameOf is the digest tag names now: from the listing where it says, else
// asked of the registry.
func nameOf(ctx context.Context, b backend.Backend, g *graph.Graph, tag, listed string) (string, error) {
	if listed != "" || g.Capabilities.ListsDigests {
		return listed, nil
	}
	tr, ok := b.(backend.TagResolver)
	if !ok {
		return "", errors.New("the backend cannot resolve a tag")
	}
	return tr.ResolveTag(ctx, tag)
}

// removeOutlived removes a tag left behind by the manifest just deleted
// (why says how), probing first whether the registry can remove a tag alone.
func (r *runner) removeOutlived(ctx context.Context, digest, tag, why string) Record {
	b, g := r.b, r.g
	if g.Capabilities.Untag == graph.Unknown {
		tri, err := b.ProbeUntag(ctx)
		if err != nil {
			return failedTag(digest, tag, why+"; probing whether it can be removed alone failed: "+err.Error(), err)
		}
		g.Capabilities.Untag = tri
	}
	if g.Capabilities.Untag != graph.Yes {
		return failedTag(digest, tag, why+", and the registry cannot remove a tag alone: remove it by hand or with the registry's own tools", backend.ErrUnsupported)
	}
	m := g.Manifests[digest]
	if m == nil {
		m = &graph.Manifest{Digest: digest}
	}
	err := b.Untag(ctx, tag, m)
	if err != nil && !errors.Is(err, backend.ErrNotFound) {
		return failedTag(digest, tag, why+"; removing it by tag failed: "+err.Error(), err)
	}
	r.logf("%s: %s; removed it by tag", g.Repository, why)
	return Record{Op: plan.Op{Kind: plan.OpUntag, Digest: digest, Tag: tag}, Outcome: Untagged, Tags: []string{tag}}
}

func failedTag(digest, tag, reason string, err error) Record {
	return Record{Op: plan.Op{Kind: plan.OpUntag, Digest: digest, Tag: tag}, Outcome: Failed, Reason: reason, Err: err}
}
