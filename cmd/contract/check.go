package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/wistia"
	"github.com/marketing-data/wistia-pipeline/wistia/apispec"
)

// budgetShare is the share of the account's hourly request budget the check may spend, in percent.
const budgetShare = 1

// maxProblems bounds the problems printed per request; a page can fail on every record.
const maxProblems = 20

// target is what the check asks about.
type target struct {
	start, end     dates.Date // days of the stats and events asked for, inclusive
	media, visitor string     // empty: taken from the answers
}

// check makes one request per endpoint the pipeline reads, prints a line for each and the
// requests spent, and reports whether every answer kept the contract within the budget share.
func check(ctx context.Context, client *wistia.Client, tap *tap, spec *contract, t target, out io.Writer) bool {
	ok := true
	report := func(r result) {
		ok = ok && r.ok()
		r.print(out)
	}

	media := t.media
	medias, r := ask(tap, spec, "media list", func() (*wistia.Page[wistia.Media], error) {
		return firstPage(client.Medias(ctx, 1))
	})
	report(r)
	if media == "" && medias != nil && len(medias.Items) > 0 {
		media = string(medias.Items[0].HashedID)
	}

	visitor, whyNoVisitor := t.visitor, "no media listed to ask about (pass --media)"
	if media == "" {
		report(skipped("media stats by date", whyNoVisitor))
		report(skipped("events", whyNoVisitor))
	} else {
		_, r = ask(tap, spec, "media stats by date", func() (*wistia.Page[wistia.DailyStat], error) {
			return client.MediaStatsByDate(ctx, media, t.start, t.end)
		})
		report(r)
		events, r := ask(tap, spec, "events", func() (*wistia.Page[wistia.Event], error) {
			return firstPage(client.Events(ctx, wistia.EventsQuery{MediaID: media, Start: t.start, End: t.end}))
		})
		report(r)
		whyNoVisitor = "no event in the page names a visitor (pass --visitor, or a longer --days)"
		for i := 0; visitor == "" && events != nil && i < len(events.Items); i++ {
			visitor = string(events.Items[i].VisitorKey)
		}
	}

	if visitor == "" {
		report(skipped("visitor", whyNoVisitor))
	} else {
		_, r = ask(tap, spec, "visitor", func() (*wistia.Page[wistia.Visitor], error) {
			return client.Visitor(ctx, visitor)
		})
		report(r)
	}

	spent := client.Stats().Requests
	hourly := int64(wistia.AccountRateLimit) * int64(time.Hour/wistia.AccountRatePeriod)
	limit := hourly * budgetShare / 100
	verdict := "ok"
	if spent >= limit {
		verdict, ok = "FAIL", false
	}
	fmt.Fprintf(out, "%-4s requests spent: %d, want under %d (%d%% of Wistia's %d an hour per account)\n",
		verdict, spent, limit, budgetShare, hourly)
	return ok
}

// ask makes one request through the client and returns its page, if it gave one, and what its
// last answer showed: whether it failed, the records the tolerant decoder could not type, and
// what the spec objects to.
func ask[T any](tap *tap, spec *contract, name string, call func() (*wistia.Page[T], error)) (*wistia.Page[T], result) {
	tap.reset()
	page, err := call()
	r := tap.result(name)
	if err != nil {
		r.problems = append(r.problems, "request: "+err.Error())
	}
	if page != nil {
		r.records = len(page.Records)
		for _, rej := range page.Rejects {
			r.problems = append(r.problems, "decode: "+rej.String())
		}
	}
	return page, spec.judge(r)
}

// firstPage returns the first page of a list: the check asks for no more.
func firstPage[T any](pages iter.Seq2[*wistia.Page[T], error]) (*wistia.Page[T], error) {
	for page, err := range pages {
		return page, err
	}
	return nil, errors.New("the list yielded no page")
}

// result is what one request showed.
type result struct {
	name     string
	endpoint string // path and query under the API root, as sent; never the token
	status   int    // of the last answer; 0 when none came
	records  int
	body     []byte
	header   http.Header
	problems []string
	skip     string // why the request was not made
}

func skipped(name, why string) result { return result{name: name, skip: why} }

func (r result) ok() bool { return r.skip == "" && len(r.problems) == 0 }

// print writes the request's line, then its problems indented below it.
func (r result) print(out io.Writer) {
	switch {
	case r.skip != "":
		fmt.Fprintf(out, "SKIP ---  %s: %s\n", r.name, r.skip)
		return
	case r.ok():
		fmt.Fprintf(out, "ok   %3d  %s GET %s: %s as documented\n", r.status, r.name, r.endpoint, count(r.records, "record"))
		return
	}
	status := "---"
	if r.status != 0 {
		status = fmt.Sprint(r.status)
	}
	fmt.Fprintf(out, "FAIL %3s  %s GET %s: %s\n", status, r.name, r.endpoint, count(len(r.problems), "problem"))
	for i, p := range r.problems {
		if i == maxProblems {
			fmt.Fprintf(out, "         … and %d more\n", len(r.problems)-maxProblems)
			break
		}
		fmt.Fprintf(out, "         %s\n", p)
	}
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// contract is Wistia's published spec, ready to hold answers against.
type contract struct{ spec *apispec.Spec }

// loadContract reads an OpenAPI document whose first server is the API root.
func loadContract(spec []byte) (*contract, error) {
	s, err := apispec.Load(spec)
	if err != nil {
		return nil, err
	}
	return &contract{spec: s}, nil
}

// judge holds the last answer of a request against the spec and adds what the spec objects to.
func (c *contract) judge(r result) result {
	if r.skip != "" || r.status == 0 {
		return r
	}
	found := c.spec.CheckResponse(http.MethodGet, r.endpoint, r.status, r.header, r.body)
	if len(found) == 0 {
		return r
	}
	problems := make([]string, 0, len(found)+len(r.problems))
	for _, p := range found {
		problems = append(problems, "spec: "+p.String())
	}
	// The spec's objections come first: they are what this check is for.
	r.problems = append(problems, r.problems...)
	return r
}

// tap sits under the client's HTTP transport and keeps the last answer it received verbatim
// (status, headers, body), so that the answer the client acted on can be held against the spec.
// It keeps nothing of the request but its URL: the token never leaves the client.
type tap struct {
	next   http.RoundTripper
	prefix string // the API root's path, which endpoints are named under

	mu   sync.Mutex
	last *answer
}

type answer struct {
	endpoint string
	status   int
	header   http.Header
	body     bytes.Buffer
}

func newTap(baseURL string) (*tap, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("WISTIA_BASE_URL: %w", err)
	}
	return &tap{next: http.DefaultTransport.(*http.Transport).Clone(), prefix: strings.TrimRight(u.EscapedPath(), "/")}, nil
}

// client is the HTTP client the Wistia client sends through the tap.
func (t *tap) client() *http.Client { return &http.Client{Transport: t} }

func (t *tap) RoundTrip(req *http.Request) (*http.Response, error) {
	a := &answer{endpoint: strings.TrimPrefix(req.URL.EscapedPath(), t.prefix)}
	if req.URL.RawQuery != "" {
		a.endpoint += "?" + req.URL.RawQuery
	}
	t.mu.Lock()
	t.last = a // an attempt without an answer leaves no earlier attempt's answer behind
	t.mu.Unlock()
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	a.status, a.header = resp.StatusCode, resp.Header.Clone()
	resp.Body = &tee{ReadCloser: resp.Body, into: &a.body}
	return resp, nil
}

// reset forgets the last answer, before a request.
func (t *tap) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = nil
}

// result names the request that the last answer answered, with that answer.
func (t *tap) result(name string) result {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := result{name: name}
	if a := t.last; a != nil {
		r.endpoint, r.status, r.header, r.body = a.endpoint, a.status, a.header, a.body.Bytes()
	}
	return r
}

// tee copies what the client reads of a body.
type tee struct {
	io.ReadCloser
	into *bytes.Buffer
}

func (t *tee) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.into.Write(p[:n])
	return n, err
}
