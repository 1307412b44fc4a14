// Package httpapi is what every backend does with a registry's or a hosted
// API's HTTP answers, written once: the pager (page bound, loop guard, next
// links kept on the listing's origin), the response-to-error classifier
// (the answer's code and message, sanitized, wrapped in the backend
// sentinel its status means) and the bounded body reader. The OCI API,
// its catalog, GitHub Packages and Docker Hub all use them. The model is
// go-containerregistry's remote/list.go (a next link resolved against the
// page that carried it) and transport/error.go (one structured error read
// from any failed answer).
package httpapi
