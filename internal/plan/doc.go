// Package plan decides, without any network access, what a sweep does to
// every tag and manifest of one repository: Build(graph, policy, now) is a
// pure, deterministic function whose result (a Plan) is printed in dry runs,
// shown in the summary, executed by apply and checked by property tests.
//
// How a decision is made:
//
//   - Tags. A tag is a deletion candidate when it matches `tags` and not
//     `exclude-tags`, and is not `latest` unless a pattern names it exactly
//     (ProtectLatest). keep-latest then keeps the newest N candidate IMAGES:
//     all tags on one digest are one image, and so are an index and the
//     manifests it lists. It ranks by version when any candidate tag is one
//     (partial versions `v2`, `v2.0` as the newest release of their line;
//     per-platform endings dropped), keeping images without a version tag
//     unranked (not-a-version); otherwise by creation time, keeping images of
//     unknown age unranked (age-unknown); see rankImages for ties.
//     older-than keeps candidates whose image is not known to be older than
//     the cut-off. Ages: see ageOf (an index is as young as its youngest part; times
//     before 2013 or a day ahead are unknown). Referrer tags (sha256-<hex>,
//     sha256-<hex>.sig/.att/.sbom) are never candidates and never protect
//     their subject: referrers follow the subject, though an exclude pattern
//     still protects them.
//   - Rule sets. With Policy.Rules (the `policy` input) each rule reads the
//     tags it covers as above (exclude-tags narrows its scope; group-by
//     ranks keep-latest per group; with Untagged, keep-latest also keeps the
//     newest untagged images), and a tag or untagged manifest is a
//     candidate only when some rule covers it, every covering rule would
//     delete it and Policy.Keep names neither it nor its digest. The first
//     rule that keeps it is the one its decision names (RuleRef).
//   - Manifests. A manifest is deleted when every tag on it is a surviving
//     candidate, or it is untagged, listed by the registry and `untagged` is
//     on (older-than applies), or it is an orphan referrer (its subject is
//     gone) with delete-referrers on; deletion then spreads to the children
//     of a deleted index (registries that delete by digest) and, with
//     delete-referrers, to the referrers of a deleted manifest. A manifest
//     stays whenever something kept needs it: a kept tag, a kept index that
//     lists it, a kept subject (for a referrer), or, with delete-referrers, a
//     kept referrer that would otherwise dangle. Undeletable manifests and
//     registries that cannot delete keep everything.
//   - Untag. A candidate tag whose manifest stays loses only its name where
//     the registry can untag (or Docker Hub, where tags are the unit of
//     deletion); otherwise it is kept and the reason names the kept tags.
//   - Order. Untags run first (phase 0), then deletions by level: a referrer
//     before its subject, an index before its children, so an interrupted
//     run never leaves a dangling reference.
package plan
