package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Listing is how one paginated listing asks for its pages and reads the
// answers: everything its backends do alike, so that each of them says
// only what it asks and what a page holds.
type Listing struct {
	// Pages hands out the pages to read: it holds the first page, the page
	// bound and the loop guard.
	Pages *Pager
	// API reads the bodies and names the pages in errors.
	API API
	// MaxBody bounds one page's body.
	MaxBody int64
	// LinkHeader: the pages name the next one in their Link header (the
	// OCI API, GitHub). The next page a page's body gives is then read
	// only when the header names none (OCI's last= continuation after a
	// full page). Without it the body alone names the next page (Docker
	// Hub's "next").
	LinkHeader bool
	// Get sends the request for page u; the caller of Walk closes nothing.
	Get func(ctx context.Context, u *url.URL) (*http.Response, error)
	// Fail reads and closes an answer other than 200 OK and returns the
	// error it means. A nil error goes on with the page Fail set with
	// Pages.Jump (a retry with other parameters), or ends the listing
	// with the pages read so far when it set none (a listing whose 404
	// means "nothing").
	Fail func(u *url.URL, resp *http.Response) error
}

// Walk reads the listing's pages in order, decoding each page's JSON body
// into a P that page is handed; page returns the next page its body
// names ("" for none) or an error that stops the listing. Errors carry no
// listing name (the caller adds it) and keep their sentinels: a failed
// answer's is what Fail made it, a page that is not JSON names its number
// and URL, and a listing cut short by the pager wraps ErrPaging.
func Walk[P any](ctx context.Context, l Listing, page func(*P) (next string, err error)) error {
	for {
		u, err := l.Pages.Next()
		if err != nil || u == nil {
			return err
		}
		resp, err := l.Get(ctx, u)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			if err := l.Fail(u, resp); err != nil {
				return err
			}
			continue
		}
		link := resp.Header.Get("Link")
		body, err := l.API.ReadBody(resp, l.MaxBody)
		_ = resp.Body.Close() // closed by ReadBody; said here for bodyclose
		if err != nil {
			return err
		}
		var p P
		if err := json.Unmarshal(body, &p); err != nil {
			return fmt.Errorf("decode page %d (%s): %w", l.Pages.Pages(), l.API.name(u), err)
		}
		next, err := page(&p)
		if err != nil {
			return err
		}
		if l.LinkHeader {
			more, err := l.Pages.Link(link)
			if err != nil {
				return err
			}
			if more {
				continue
			}
		}
		if next != "" {
			if err := l.Pages.Follow(next); err != nil {
				return err
			}
		}
	}
}
