package faults

import (
	"encoding/json"
	"net/http"
	"regexp"
)

// Refusal is a registry's own rule refusing to delete one thing, as the
// registry answers a DELETE it refuses: status, error code and message from
// its documentation and source. Nothing is forwarded.
type Refusal struct {
	Name    string
	Status  int
	Code    string
	Message string
}

// Refusals by registry rule, for the OCI DELETE.
var (
	// HarborImmutable: Harbor's tag immutability rules. Its immutable
	// middleware answers a DELETE of an artifact holding an immutable tag
	// with 412 Precondition Failed and code PRECONDITION.
	HarborImmutable = Refusal{Name: "harbor-immutable", Status: http.StatusPreconditionFailed, Code: "PRECONDITION",
		Message: "the operation isn't allowed as the tag is immutable"}
	// GitLabProtected: GitLab's protected container tags; the registry's
	// token carries the protection rules and the DELETE is denied.
	GitLabProtected = Refusal{Name: "gitlab-protected", Status: http.StatusForbidden, Code: "DENIED",
		Message: "requested access to the resource is denied: the tag is protected by a tag protection rule"}
	// GitLabImmutable: GitLab's immutable container tags (18.1 and later).
	GitLabImmutable = Refusal{Name: "gitlab-immutable", Status: http.StatusForbidden, Code: "DENIED",
		Message: "requested access to the resource is denied: the tag is immutable"}
)

// Refuse returns a rule answering every DELETE of repo's ref (a digest or a
// tag) with the refusal r.
func Refuse(r Refusal, repo, ref string) Rule {
	body, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": r.Code, "message": r.Message}}})
	return Rule{
		Name:   r.Name,
		Method: http.MethodDelete,
		Path:   regexp.MustCompile("^/v2/" + regexp.QuoteMeta(repo) + "/manifests/" + regexp.QuoteMeta(ref) + "$"),
		Fault:  Fault{Kind: Status, Status: r.Status, Body: string(body)},
	}
}
