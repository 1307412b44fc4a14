package httpapi

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrPaging is wrapped by every reason the pager stops a listing: too many
// pages, a loop, a next link off the listing's origin or unreadable. A
// listing cut short could hide a kept tag, so it is an error, never a
// shorter list.
var ErrPaging = errors.New("pagination")

// Pager walks one paginated listing. The caller reads the page Next
// returns, then says where the following page is (Link, Follow or Jump);
// a page that names none ends the listing.
type Pager struct {
	next    *url.URL
	page    *url.URL // the page being read: next links resolve against it
	max     int
	pages   int
	visited map[string]bool
}

// NewPager starts a listing at first, reading at most maxPages pages.
func NewPager(first *url.URL, maxPages int) *Pager {
	return &Pager{next: first, max: maxPages, visited: map[string]bool{}}
}

// Next returns the page to read now, or nil when the listing is done. It
// refuses a page beyond the bound and a page already read (a registry
// linking a page to itself is otherwise stopped only by the bound).
func (p *Pager) Next() (*url.URL, error) {
	u := p.next
	if u == nil {
		return nil, nil
	}
	if p.pages >= p.max {
		return nil, fmt.Errorf("%w: more than %d pages; refusing to go on", ErrPaging, p.max)
	}
	if p.visited[u.String()] {
		return nil, fmt.Errorf("%w: the link to the next page leads back to a page already read (%s); refusing to loop", ErrPaging, u.EscapedPath())
	}
	p.visited[u.String()] = true
	p.pages++
	p.page, p.next = u, nil
	return u, nil
}

// Pages is how many pages Next has handed out.
func (p *Pager) Pages() int { return p.pages }

// Link reads the next page from the RFC 8288 Link header of the page just
// read (rel="next") and reports whether there was one; none ends the
// listing, unless the caller Jumps.
func (p *Pager) Link(header string) (bool, error) {
	target, err := ParseLink(header)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrPaging, err)
	}
	if target == "" {
		return false, nil
	}
	return true, p.Follow(target)
}

// Follow takes target, a next page the page just read names (in a Link
// header or its body), resolved against that page.
func (p *Pager) Follow(target string) error {
	u, err := Resolve(p.page, target)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPaging, err)
	}
	p.next = u
	return nil
}

// Jump makes u, built by the caller, the next page (OCI's last=
// continuation after a full page without a Link; a retry with other
// parameters).
func (p *Pager) Jump(u *url.URL) { p.next = u }

// Resolve resolves a next link against the page that carried it and
// refuses one that leaves the page's host: credentials are attached by
// host, and a hostile server must not be able to send our listing requests
// anywhere else. The next page is read with the page's own scheme, so a
// link never downgrades https, and never drops credentials in the URL.
func Resolve(page *url.URL, target string) (*url.URL, error) {
	ref, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrBadLink, Clip(target), err)
	}
	u := page.ResolveReference(ref)
	if !strings.EqualFold(u.Host, page.Host) || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("refusing pagination link to another host or scheme: %s", u.Redacted())
	}
	u.Scheme, u.User = page.Scheme, nil
	return u, nil
}
