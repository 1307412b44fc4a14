package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/regsweep/regsweep/internal/backend"
)

// answer is one canned page answer.
type answer struct {
	status int
	link   string
	body   string
}

// testPage is a page that may name its successor in its body.
type testPage struct {
	Items []string `json:"items"`
	Next  string   `json:"next"`
}

// TestWalk: every listing reads its pages alike; the next page comes from
// the Link header or the body, and every way a listing can go wrong ends
// it with an error that says where, never with a shorter list.
func TestWalk(t *testing.T) {
	first, _ := url.Parse("https://r.example/list?n=2")
	errStop := errors.New("stop")
	tests := []struct {
		name       string
		linkHeader bool
		max        int
		pages      map[string]answer // by request URI
		// fail, when set, is the Listing's Fail; otherwise the answer's
		// error is classified.
		fail     func(p *Pager) func(*url.URL, *http.Response) error
		stopAt   string // the page callback fails on this item
		want     []string
		wantRead []string // the pages asked for, in order
		wantErr  string
		wantIs   error
	}{
		{
			name: "next from the Link header", linkHeader: true, max: 10,
			pages: map[string]answer{
				"/list?n=2":        {200, `</list?n=2&last=b>; rel="next"`, `{"items":["a","b"]}`},
				"/list?n=2&last=b": {200, "", `{"items":["c"]}`},
			},
			want:     []string{"a", "b", "c"},
			wantRead: []string{"/list?n=2", "/list?n=2&last=b"},
		},
		{
			name: "next from the body", max: 10,
			pages: map[string]answer{
				"/list?n=2": {200, "", `{"items":["a"],"next":"https://r.example/list?page=2"}`},
				"/list?page=2": {200, `</list?page=9>; rel="next"`,
					`{"items":["b"],"next":""}`},
			},
			// Without LinkHeader a page's Link is not read.
			want:     []string{"a", "b"},
			wantRead: []string{"/list?n=2", "/list?page=2"},
		},
		{
			name: "the Link header wins over the body", linkHeader: true, max: 10,
			pages: map[string]answer{
				"/list?n=2":       {200, `</list?from=link>; rel="next"`, `{"items":["a"],"next":"/list?from=body"}`},
				"/list?from=link": {200, "", `{"items":["b"],"next":"/list?from=body"}`},
				"/list?from=body": {200, "", `{"items":["c"]}`},
			},
			want:     []string{"a", "b", "c"},
			wantRead: []string{"/list?n=2", "/list?from=link", "/list?from=body"},
		},
		{
			name: "page bound", linkHeader: true, max: 2,
			pages: map[string]answer{
				"/list?n=2": {200, `</list?p=2>; rel="next"`, `{"items":["a"]}`},
				"/list?p=2": {200, `</list?p=3>; rel="next"`, `{"items":["b"]}`},
				"/list?p=3": {200, "", `{"items":["c"]}`},
			},
			wantRead: []string{"/list?n=2", "/list?p=2"},
			wantErr:  "more than 2 pages", wantIs: ErrPaging,
		},
		{
			name: "loop guard", max: 10,
			pages: map[string]answer{
				"/list?n=2": {200, "", `{"items":["a"],"next":"/list?p=2"}`},
				"/list?p=2": {200, "", `{"items":["b"],"next":"/list?n=2"}`},
			},
			wantRead: []string{"/list?n=2", "/list?p=2"},
			wantErr:  "already read", wantIs: ErrPaging,
		},
		{
			name: "next on another host", max: 10,
			pages: map[string]answer{
				"/list?n=2": {200, "", `{"items":["a"],"next":"https://evil.example/list?p=2"}`},
			},
			wantRead: []string{"/list?n=2"},
			wantErr:  "another host", wantIs: ErrPaging,
		},
		{
			name: "malformed Link header", linkHeader: true, max: 10,
			pages: map[string]answer{
				"/list?n=2": {200, `</list?p=2; rel="next"`, `{"items":["a"]}`},
			},
			wantRead: []string{"/list?n=2"},
			wantErr:  "malformed Link header", wantIs: ErrBadLink,
		},
		{
			name: "decode error names the page", linkHeader: true, max: 10,
			pages: map[string]answer{
				"/list?n=2": {200, `</list?p=2>; rel="next"`, `{"items":["a"]}`},
				"/list?p=2": {200, "", `{"items":[`},
			},
			wantRead: []string{"/list?n=2", "/list?p=2"},
			wantErr:  "decode page 2 (https://r.example/list): unexpected end of JSON input",
		},
		{
			name: "body over the bound", max: 10,
			pages: map[string]answer{
				"/list?n=2": {200, "", `{"items":["` + strings.Repeat("a", 100) + `"]}`},
			},
			wantRead: []string{"/list?n=2"},
			wantErr:  "GET https://r.example/list: ",
		},
		{
			name: "a failed answer keeps its sentinel", linkHeader: true, max: 10,
			pages: map[string]answer{
				"/list?n=2": {200, `</list?p=2>; rel="next"`, `{"items":["a"]}`},
				"/list?p=2": {404, "", `{"errors":[{"code":"NAME_UNKNOWN","message":"no such repository"}]}`},
			},
			wantRead: []string{"/list?n=2", "/list?p=2"},
			wantErr:  "NAME_UNKNOWN", wantIs: backend.ErrNotFound,
		},
		{
			name: "Fail with no error and no page ends the listing", linkHeader: true, max: 10,
			pages: map[string]answer{
				"/list?n=2": {200, `</list?p=2>; rel="next"`, `{"items":["a"]}`},
				"/list?p=2": {404, "", ``},
			},
			fail: func(*Pager) func(*url.URL, *http.Response) error {
				return func(_ *url.URL, resp *http.Response) error { return resp.Body.Close() }
			},
			want:     []string{"a"},
			wantRead: []string{"/list?n=2", "/list?p=2"},
		},
		{
			name: "Fail retries with the page it jumps to", linkHeader: true, max: 10,
			pages: map[string]answer{
				"/list?n=2": {400, "", `{"errors":[{"code":"PAGINATION_NUMBER_INVALID"}]}`},
				"/list":     {200, "", `{"items":["a"]}`},
			},
			fail: func(p *Pager) func(*url.URL, *http.Response) error {
				return func(u *url.URL, resp *http.Response) error {
					_ = resp.Body.Close()
					p.Jump(&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path})
					return nil
				}
			},
			want:     []string{"a"},
			wantRead: []string{"/list?n=2", "/list"},
		},
		{
			name: "the page callback's error stops the listing as is", linkHeader: true, max: 10,
			pages: map[string]answer{
				"/list?n=2": {200, `</list?p=2>; rel="next"`, `{"items":["a","stop"]}`},
				"/list?p=2": {200, "", `{"items":["b"]}`},
			},
			stopAt:   "stop",
			wantRead: []string{"/list?n=2"},
			wantErr:  "stop", wantIs: errStop,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var read []string
			pages := NewPager(first, tt.max)
			l := Listing{
				Pages:      pages,
				API:        API{},
				MaxBody:    64,
				LinkHeader: tt.linkHeader,
				Get: func(ctx context.Context, u *url.URL) (*http.Response, error) {
					if u.Scheme != "https" || u.Host != "r.example" {
						t.Fatalf("asked for %s, off the listing's origin", u)
					}
					read = append(read, u.RequestURI())
					a, ok := tt.pages[u.RequestURI()]
					if !ok {
						return nil, fmt.Errorf("no page %s", u.RequestURI())
					}
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
					h := http.Header{}
					if a.link != "" {
						h.Set("Link", a.link)
					}
					return &http.Response{StatusCode: a.status, Header: h, Body: io.NopCloser(strings.NewReader(a.body)), Request: req}, nil
				},
				Fail: func(_ *url.URL, resp *http.Response) error {
					return Classify(API{}.Error(resp), Hints{})
				},
			}
			if tt.fail != nil {
				l.Fail = tt.fail(pages)
			}
			var got []string
			err := Walk(context.Background(), l, func(p *testPage) (string, error) {
				for _, it := range p.Items {
					if it == tt.stopAt {
						return "", fmt.Errorf("item %q: %w", it, errStop)
					}
					got = append(got, it)
				}
				return p.Next, nil
			})
			if strings.Join(read, " ") != strings.Join(tt.wantRead, " ") {
				t.Errorf("pages asked for %v, want %v", read, tt.wantRead)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Walk: %v", err)
				}
				if strings.Join(got, " ") != strings.Join(tt.want, " ") {
					t.Errorf("items %v, want %v", got, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Walk err = %v, want one saying %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Walk err = %v, does not match %v", err, tt.wantIs)
			}
		})
	}
}
