package wistia

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"strconv"
)

// MaxPerPage is the API's cap on per_page; larger values are silently lowered by the server.
const MaxPerPage = 100

// maxPages stops a crawl of a server that never sends a short page (one that ignores `page`).
const maxPages = 100_000

// Page is one answer of an endpoint: the body verbatim (for bronze), each record's raw bytes,
// the records that could be typed, and those that could not.
type Page[T any] struct {
	Number   int    // 1-based page number; 1 for unpaged endpoints
	Endpoint string // path and query, as sent (no token)
	Body     []byte
	Records  []json.RawMessage // every record of the page, in the server's order
	Items    []T               // the records that could be typed
	Rejects  []Reject          // the records that could not, with why
}

// Reject is a record that could not be typed. Its raw bytes stay in Page.Records and bronze.
type Reject struct {
	Index  int // position in Page.Records
	Raw    json.RawMessage
	Reason string
}

func (r Reject) String() string { return fmt.Sprintf("record %d: %s", r.Index, r.Reason) }

// newPage splits a JSON array body into records and types each one. A body that is not a
// JSON array is ErrMalformedBody; a record that cannot be typed is a Reject, not an error.
func newPage[T any](number int, endpoint string, body []byte, decode func([]byte) (T, error)) (*Page[T], error) {
	var records []json.RawMessage
	if err := json.Unmarshal(body, &records); err != nil {
		return nil, fmt.Errorf("wistia GET %s: %w: want a JSON array: %v", endpoint, ErrMalformedBody, err)
	}
	return typePage(number, endpoint, body, records, decode), nil
}

func typePage[T any](number int, endpoint string, body []byte, records []json.RawMessage, decode func([]byte) (T, error)) *Page[T] {
	p := &Page[T]{Number: number, Endpoint: endpoint, Body: body, Records: records, Items: make([]T, 0, len(records))}
	for i, raw := range records {
		item, err := decode(raw)
		if err != nil {
			p.Rejects = append(p.Rejects, Reject{Index: i, Raw: raw, Reason: err.Error()})
			continue
		}
		p.Items = append(p.Items, item)
	}
	return p
}

// pages walks a list endpoint from page first, yielding each page as it arrives, and stops after
// a short or empty page: the API sends no total and no links. An error ends the walk.
func pages[T any](ctx context.Context, c *Client, path string, query url.Values, first int, decode func([]byte) (T, error)) iter.Seq2[*Page[T], error] {
	return func(yield func(*Page[T], error) bool) {
		if first < 1 {
			first = 1
		}
		var previous []byte
		repeats := 0
		for n := first; ; n++ {
			if n-first >= maxPages {
				yield(nil, fmt.Errorf("wistia GET %s: more than %d pages; the server seems to ignore the page parameter", path, maxPages))
				return
			}
			q := cloneValues(query)
			q.Set("page", strconv.Itoa(n))
			q.Set("per_page", strconv.Itoa(c.perPage))
			endpoint, body, err := c.get(ctx, path, q)
			if err != nil {
				yield(nil, err)
				return
			}
			page, err := newPage(n, endpoint, body, decode)
			if err != nil {
				yield(nil, err)
				return
			}
			// One repeat can be a list that shifted by exactly a page under the crawl; a server
			// that ignores `page` repeats for ever.
			if len(page.Records) > 0 && bytes.Equal(body, previous) {
				if repeats++; repeats >= 3 {
					yield(nil, fmt.Errorf("wistia GET %s: page %d repeats the %d pages before it; the server seems to ignore the page parameter", endpoint, n, repeats))
					return
				}
			} else {
				repeats = 0
			}
			if !yield(page, nil) {
				return
			}
			if len(page.Records) < c.perPage {
				return
			}
			previous = body
		}
	}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+2)
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
