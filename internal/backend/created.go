package backend

import (
	"encoding/json"
	"strings"
	"time"
)

// CreatedAnnotation is the OCI annotation of an image's creation time.
const CreatedAnnotation = "org.opencontainers.image.created"

// Image config media types: their `created` says when the image was built
// (an artifact's config says nothing about time).
const (
	mediaOCIConfig    = "application/vnd.oci.image.config.v1+json"
	mediaDockerConfig = "application/vnd.docker.container.image.v1+json"
)

// IsImageConfig says whether a config of this media type holds `created`.
func IsImageConfig(mediaType string) bool {
	return mediaType == mediaOCIConfig || mediaType == mediaDockerConfig
}

// ParseCreated reads an RFC 3339 time as images write it; false when it is
// empty or not one.
func ParseCreated(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// ConfigCreated is an image config's `created`, zero when it has none or
// the body is not an image config. Unknown is never an error: the plan
// keeps what it cannot date.
func ConfigCreated(body []byte) time.Time {
	var c struct {
		Created string `json:"created"`
	}
	if json.Unmarshal(body, &c) != nil {
		return time.Time{}
	}
	t, _ := ParseCreated(c.Created)
	return t
}
