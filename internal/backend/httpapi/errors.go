package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/regsweep/regsweep/internal/backend"
	"github.com/regsweep/regsweep/internal/transport"
)

// MaxErrorBody bounds what is read of a failed answer's body.
const MaxErrorBody = 64 << 10

// API is how one backend renders what it reports of its answers: which
// secrets never appear in a message, and how a request URL is named.
type API struct {
	// Secrets returns the credentials to blank out of messages (a token
	// may be renewed mid-run, so it is asked each time).
	Secrets func() []string
	// URL names a request's URL in errors; nil is transport.RedactURL.
	URL func(*url.URL) string
}

func (a API) secrets() []string {
	if a.Secrets == nil {
		return nil
	}
	return a.Secrets()
}

func (a API) url(req *http.Request) (method, u string) {
	if req == nil || req.URL == nil {
		return "", ""
	}
	return req.Method, a.name(req.URL)
}

// name is how u is named in errors.
func (a API) name(u *url.URL) string {
	if a.URL != nil {
		return a.URL(u)
	}
	return transport.RedactURL(u)
}

// errorBody is every shape of error body the families send: the OCI
// distribution spec's {"errors":[{"code","message"}]}, GitHub's
// {"message","errors"} and Docker Hub's {"message"|"detail"}.
type errorBody struct {
	Message string `json:"message"`
	Detail  any    `json:"detail"`
	Errors  []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// Error reads (bounded) and closes a failed answer's body and returns the
// answer as a *backend.HTTPError: status, the first error code and the
// message, sanitized.
func (a API) Error(resp *http.Response) *backend.HTTPError {
	defer resp.Body.Close()
	e := &backend.HTTPError{StatusCode: resp.StatusCode}
	e.Method, e.URL = a.url(resp.Request)
	raw, _ := transport.ReadLimited(resp.Body, MaxErrorBody)
	var body errorBody
	if json.Unmarshal(raw, &body) == nil {
		msg := body.Message
		if d, ok := body.Detail.(string); ok && msg == "" {
			msg = d
		}
		if len(body.Errors) > 0 {
			e.Code = transport.Sanitize(body.Errors[0].Code, a.secrets()...)
			if msg == "" {
				msg = body.Errors[0].Message
			}
		}
		e.Message = transport.Sanitize(msg, a.secrets()...)
	} else if strings.Contains(string(raw), "GOOGLE_MANIFEST_DANGLING_TAG") {
		e.Code = "GOOGLE_MANIFEST_DANGLING_TAG"
	}
	return e
}

// Hints are a family's one-sentence fixes for credential errors.
type Hints struct {
	Unauthorized, Forbidden string
}

// Classify wraps a failed answer in the sentinel its status means (401
// backend.ErrUnauthorized, 403 backend.ErrForbidden, 404
// backend.ErrNotFound), with the family's hint, so that callers decide with
// errors.Is. Any other status is the *backend.HTTPError alone.
func Classify(he *backend.HTTPError, h Hints) error {
	var sentinel error
	hint := ""
	switch he.StatusCode {
	case http.StatusUnauthorized:
		sentinel, hint = backend.ErrUnauthorized, h.Unauthorized
	case http.StatusForbidden:
		sentinel, hint = backend.ErrForbidden, h.Forbidden
	case http.StatusNotFound:
		sentinel = backend.ErrNotFound
	default:
		return he
	}
	if hint != "" {
		return fmt.Errorf("%w: %s: %w", sentinel, hint, he)
	}
	return fmt.Errorf("%w: %w", sentinel, he)
}

// ReadBody reads a success body, at most limit bytes, and closes it. A
// longer body is an error matching transport.ErrBodyTooLarge: a hostile
// server cannot make regsweep read without end.
func (a API) ReadBody(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	b, err := transport.ReadLimited(resp.Body, limit)
	if err != nil {
		method, u := a.url(resp.Request)
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	return b, nil
}

// Token reads (bounded) and closes a token service's success answer and
// returns its token: "token", else OAuth 2's "access_token" (the
// distribution token spec makes them equal when both are sent).
func (a API) Token(resp *http.Response) (string, error) {
	raw, err := a.ReadBody(resp, MaxErrorBody)
	if err != nil {
		return "", err
	}
	var t struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", fmt.Errorf("decode the answer: %w", err)
	}
	if t.Token == "" {
		t.Token = t.AccessToken
	}
	if t.Token == "" {
		return "", errors.New("no token in the answer")
	}
	return t.Token, nil
}
