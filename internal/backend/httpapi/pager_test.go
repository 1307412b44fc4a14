package httpapi

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// TestPager: pages are handed out until none is named; the bound, a loop,
// a link to another host and a malformed Link end the listing with an
// error, never with a shorter list.
func TestPager(t *testing.T) {
	first, _ := url.Parse("https://r.example/v2/app/tags/list?n=2")
	tests := []struct {
		name    string
		links   []string // the Link header of each page read
		max     int
		want    []string // the pages read
		wantErr string
	}{
		{"one page", []string{""}, 10, []string{"/v2/app/tags/list?n=2"}, ""},
		{"relative next", []string{`</v2/app/tags/list?last=b&n=2>; rel="next"`, ""}, 10,
			[]string{"/v2/app/tags/list?n=2", "/v2/app/tags/list?last=b&n=2"}, ""},
		{"bound", []string{`<?p=2>; rel="next"`, `<?p=3>; rel="next"`, `<?p=4>; rel="next"`}, 2,
			[]string{"/v2/app/tags/list?n=2", "/v2/app/tags/list?p=2"}, "more than 2 pages"},
		{"loop", []string{`<?p=2>; rel="next"`, `</v2/app/tags/list?n=2>; rel="next"`}, 10,
			[]string{"/v2/app/tags/list?n=2", "/v2/app/tags/list?p=2"}, "already read"},
		{"another host", []string{`<https://evil.example/v2/app/tags/list?p=2>; rel="next"`}, 10,
			[]string{"/v2/app/tags/list?n=2"}, "another host"},
		{"malformed", []string{`</v2/app/tags/list?p=2; rel="next"`}, 10,
			[]string{"/v2/app/tags/list?n=2"}, "malformed Link header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPager(first, tt.max)
			var got []string
			var err error
			for {
				var u *url.URL
				if u, err = p.Next(); err != nil || u == nil {
					break
				}
				if u.Scheme != "https" || u.Host != "r.example" {
					t.Fatalf("page %s left the listing's origin", u)
				}
				got = append(got, u.RequestURI())
				if _, err = p.Link(tt.links[len(got)-1]); err != nil {
					break
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("pages read %v, want %v", got, tt.want)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrPaging)) {
				t.Errorf("err = %v, want one matching ErrPaging and saying %q", err, tt.wantErr)
			}
		})
	}
}

// TestPagerJump: a page the caller builds is read next, and the loop guard
// still holds for it.
func TestPagerJump(t *testing.T) {
	first, _ := url.Parse("http://r.example/v2/_catalog?n=1000")
	p := NewPager(first, 10)
	if u, err := p.Next(); err != nil || u.String() != first.String() {
		t.Fatalf("first page %v, %v", u, err)
	}
	p.Jump(first)
	if _, err := p.Next(); err == nil || !strings.Contains(err.Error(), "already read") {
		t.Errorf("jump back to the first page: err = %v, want the loop guard", err)
	}
}
