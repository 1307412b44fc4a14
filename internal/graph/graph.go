// Package graph is the discovered model of one repository: which tags name
// which manifests, which indexes hold which children, which artifacts refer
// to which subjects, and what the backend that found it can do. It is plain
// data: discovery fills it, plan reads it, nothing in it talks to a network.
package graph

import (
	"sort"
	"time"
)

// Kind says what a manifest is, as far as deletion safety is concerned.
type Kind string

const (
	// KindImage is a single-platform image manifest.
	KindImage Kind = "image"
	// KindIndex is a multi-platform index or Docker manifest list.
	KindIndex Kind = "index"
	// KindReferrer is an artifact attached to a subject: a signature,
	// attestation or SBOM (OCI subject field, referrers fallback tag, or a
	// cosign sha256-<hex>.sig/.att/.sbom tag).
	KindReferrer Kind = "referrer"
	// KindUnknown is a manifest whose body was not read or not understood.
	KindUnknown Kind = "unknown"
)

// Manifest is one manifest in the repository, keyed by digest.
type Manifest struct {
	Digest       string   `json:"digest"`
	MediaType    string   `json:"mediaType,omitempty"`
	ArtifactType string   `json:"artifactType,omitempty"`
	Kind         Kind     `json:"kind"`
	Tags         []string `json:"tags,omitempty"`     // sorted; filled by Graph.Finish
	Children     []string `json:"children,omitempty"` // index entries (digests), in index order
	Subject      string   `json:"subject,omitempty"`  // digest this manifest refers to (referrers)
	// Created is the image's own creation time (its config's `created`,
	// or the org.opencontainers.image.created annotation); zero when unknown.
	Created time.Time `json:"created,omitzero"`
	// Pushed is when the registry says this manifest was last pushed (a
	// GitHub Packages version's updated_at, Docker Hub's tag_last_pushed);
	// zero when the backend does not say (Capabilities.PushTimes).
	Pushed time.Time `json:"pushed,omitzero"`
	// Pulled is when the registry says this manifest was last pulled
	// (Docker Hub's tag_last_pulled); zero when never pulled, or when the
	// backend does not say (Capabilities.PullTimes tells which).
	Pulled   time.Time `json:"pulled,omitzero"`
	Platform string    `json:"platform,omitempty"` // "linux/arm64" for an index child, informational
	// ID is the backend's own identifier when it deletes by something other
	// than the digest (a GitHub Packages version id).
	ID string `json:"id,omitempty"`
	// Listed is true when the backend itself listed this manifest (GitHub
	// Packages lists every version, tagged or not); false when it was only
	// reached through a tag, an index or a referrer.
	Listed bool `json:"listed,omitempty"`
	// Undeletable holds the backend's reason when it knows the manifest
	// cannot be deleted (GitHub: public version with > 5000 downloads).
	Undeletable string `json:"undeletable,omitempty"`
	// Exists: looked up by digest (a referrer's subject no tag or index
	// names) and found: it is there, untagged.
	Exists bool `json:"exists,omitempty"`
	// SubjectRepository is the repository the referrer's own content
	// places its subject in: this repository for an OCI subject field or
	// fallback index (the spec keeps a subject and its referrers
	// together), the reference a cosign signature or attestation payload
	// names; "" when nothing says. An orphan is deleted only when this is
	// the graph's repository and its subject is Absent.
	SubjectRepository string `json:"subjectRepository,omitempty"`
}

// Capabilities are what a backend can do; they drive the plan and are shown
// in the summary. They are data, declared or probed by the backend, never
// inferred from a host name elsewhere.
type Capabilities struct {
	// DeleteManifest: a manifest can be deleted by digest (or version id).
	DeleteManifest bool `json:"deleteManifest"`
	// Untag: a tag can be removed while its manifest stays (OCI DELETE by
	// tag on distribution 3, GitLab; the Docker Hub tag API).
	Untag Tri `json:"untag"`
	// TagsOnly: removing the last tag is how a manifest is deleted (Docker
	// Hub's API deletes tags, not digests).
	TagsOnly bool `json:"tagsOnly,omitempty"`
	// ListUntagged: the backend lists manifests no tag names (GitHub Packages).
	ListUntagged bool `json:"listUntagged"`
	// Referrers: the OCI referrers API answered; otherwise the fallback tag
	// scheme is all there is.
	Referrers bool `json:"referrers"`
	// ListsDigests: one tag listing says every tag's digest (GitHub
	// Packages, Docker Hub), so listing again just before deleting costs a
	// few pages, not a request per tag.
	ListsDigests bool `json:"listsDigests,omitempty"`
	// PushTimes: the backend reports when each manifest was pushed
	// (Manifest.Pushed), apart from the image's own creation time.
	PushTimes bool `json:"pushTimes,omitempty"`
	// PullTimes: the backend reports when each manifest was last pulled
	// (Manifest.Pulled), so a zero time means never pulled.
	PullTimes bool `json:"pullTimes,omitempty"`
	// KeepsLastTagged: the registry refuses to delete a package's last
	// tagged version (GitHub Packages: "delete the package instead").
	KeepsLastTagged bool `json:"keepsLastTagged,omitempty"`
	// VersionDeletes: a manifest is deleted as a package version, by id
	// (GitHub Packages), and the deletion reads no tags: removing the
	// doomed tags first (the plan's untag-first schedule) never pays.
	VersionDeletes bool `json:"versionDeletes,omitempty"`
}

// MaxNesting bounds how deep backends read indexes inside indexes; deeper
// is refused, as what such an index holds could not be protected.
const MaxNesting = 8

// Tri is a capability that may not be known until probed.
type Tri string

const (
	Unknown Tri = ""
	Yes     Tri = "yes"
	No      Tri = "no"
)

// Graph is a repository as discovered.
type Graph struct {
	// Repository is the full reference without tag: host[:port]/path.
	Repository string `json:"repository"`
	// Backend names the backend that discovered it ("oci", "github", "dockerhub").
	Backend      string       `json:"backend"`
	Capabilities Capabilities `json:"capabilities"`
	// Tags maps every tag in the repository to its digest.
	Tags map[string]string `json:"tags"`
	// Manifests holds every manifest known: tagged ones, index children,
	// referrers, and (where listed) untagged ones.
	Manifests map[string]*Manifest `json:"manifests"`
	// Absent holds the digests that answered 404 in this repository when
	// discovery looked them up, at its last look before the plan: the
	// subjects of referrers nothing else names. Only these make orphans.
	Absent map[string]bool `json:"absent,omitempty"`
	// Warnings are things discovery could not do, said once each.
	Warnings []string `json:"warnings,omitempty"`
}

// New returns an empty graph.
func New(repository, backend string, caps Capabilities) *Graph {
	return &Graph{
		Repository:   repository,
		Backend:      backend,
		Capabilities: caps,
		Tags:         map[string]string{},
		Manifests:    map[string]*Manifest{},
		Absent:       map[string]bool{},
	}
}

// Manifest returns the manifest for a digest, adding an empty one if absent.
func (g *Graph) Manifest(digest string) *Manifest {
	m, ok := g.Manifests[digest]
	if !ok {
		m = &Manifest{Digest: digest, Kind: KindUnknown}
		g.Manifests[digest] = m
	}
	return m
}

// Refer makes m a referrer of subject. The spec keeps a referrer in its
// subject's repository: this graph's.
func (g *Graph) Refer(m *Manifest, subject string) {
	m.Kind, m.Subject, m.SubjectRepository = KindReferrer, subject, g.Repository
}

// SetTag records that tag names digest.
func (g *Graph) SetTag(tag, digest string) {
	g.Tags[tag] = digest
	g.Manifest(digest)
}

// Finish fills every manifest's Tags from the Tags map, sorted, so that the
// two views never disagree. Call it once discovery is done.
func (g *Graph) Finish() {
	for _, m := range g.Manifests {
		m.Tags = m.Tags[:0]
	}
	for t, d := range g.Tags {
		m := g.Manifest(d)
		m.Tags = append(m.Tags, t)
	}
	for _, m := range g.Manifests {
		sort.Strings(m.Tags)
		if len(m.Tags) == 0 {
			m.Tags = nil
		}
	}
}

// SortedTags returns every tag name, sorted.
func (g *Graph) SortedTags() []string {
	out := make([]string, 0, len(g.Tags))
	for t := range g.Tags {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// SortedDigests returns every manifest digest, sorted.
func (g *Graph) SortedDigests() []string {
	out := make([]string, 0, len(g.Manifests))
	for d := range g.Manifests {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}
