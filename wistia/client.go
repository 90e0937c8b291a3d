// Package wistia is a client for the Wistia Data API (v1): typed, tolerant of the API's
// variations, rate limited, and retrying by the project's one retry policy.
package wistia

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
)

// maxBody bounds one answer; a page of 100 events is about 150 KB.
const maxBody = 64 << 20

// Config holds the client's settings, read from the environment by config.Load.
type Config struct {
	BaseURL        string        `envconfig:"WISTIA_BASE_URL" default:"https://api.wistia.com/v1"`
	APIToken       config.Secret `envconfig:"WISTIA_API_TOKEN"`
	RateLimit      int           `envconfig:"WISTIA_RATE_LIMIT" default:"600"`
	RatePeriod     time.Duration `envconfig:"WISTIA_RATE_PERIOD" default:"1m"`
	RequestTimeout time.Duration `envconfig:"WISTIA_REQUEST_TIMEOUT" default:"30s"`
	MaxAttempts    int           `envconfig:"WISTIA_MAX_ATTEMPTS" default:"8"`
	BackoffBase    time.Duration `envconfig:"WISTIA_BACKOFF_BASE" default:"500ms"`
	BackoffMax     time.Duration `envconfig:"WISTIA_BACKOFF_MAX" default:"30s"`
	MaxRetryAfter  time.Duration `envconfig:"WISTIA_MAX_RETRY_AFTER" default:"5m"`
	PerPage        int           `envconfig:"WISTIA_PER_PAGE" default:"100"`
}

// RetryPolicy is the HTTP retry policy the settings give.
func (c Config) RetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: c.MaxAttempts, BaseDelay: c.BackoffBase, MaxDelay: c.BackoffMax, MaxRetryAfter: c.MaxRetryAfter}
}

// Validate reports every bad value.
func (c Config) Validate() []error {
	var errs []error
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, config.Invalid("WISTIA_BASE_URL", config.URL(c.BaseURL), "an http(s) URL such as https://api.wistia.com/v1"))
	} else if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, config.Invalid("WISTIA_BASE_URL", config.URL(c.BaseURL), "no credentials or query in the URL; the token goes in WISTIA_API_TOKEN"))
	}
	if c.RateLimit <= 0 {
		errs = append(errs, config.Invalid("WISTIA_RATE_LIMIT", c.RateLimit, "a positive number of requests per WISTIA_RATE_PERIOD"))
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"WISTIA_RATE_PERIOD", c.RatePeriod}, {"WISTIA_REQUEST_TIMEOUT", c.RequestTimeout},
		{"WISTIA_BACKOFF_BASE", c.BackoffBase}, {"WISTIA_BACKOFF_MAX", c.BackoffMax}, {"WISTIA_MAX_RETRY_AFTER", c.MaxRetryAfter},
	} {
		if d.value <= 0 {
			errs = append(errs, config.Invalid(d.name, d.value, "a positive duration such as 30s"))
		}
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, config.Invalid("WISTIA_MAX_ATTEMPTS", c.MaxAttempts, "1 or more"))
	}
	if c.PerPage < 1 || c.PerPage > MaxPerPage {
		errs = append(errs, config.Invalid("WISTIA_PER_PAGE", c.PerPage, fmt.Sprintf("1 to %d", MaxPerPage)))
	}
	return errs
}

// Stats counts what a client did, for metrics and run reports.
type Stats struct {
	Requests    int64 // HTTP requests sent, retries included
	Retries     int64
	RateLimited int64 // 429 answers, and 503 answers with Retry-After
	Failures    int64 // requests that failed after their last attempt
}

// Client calls the Wistia Data API. It is safe for concurrent use; all its calls share one
// rate limiter so that the account's budget holds across goroutines.
type Client struct {
	base *url.URL
	// authorization builds the header; a func so that printing the client cannot show the token.
	authorization func() string
	http          *http.Client
	limiter       *Limiter
	gate          Gate
	retry         RetryPolicy
	timeout       time.Duration
	perPage       int
	now           func() time.Time

	requests, retries, rateLimited, failures atomic.Int64
}

// Option adjusts a Client.
type Option func(*Client)

// WithHTTPClient replaces the default HTTP client (whose own timeout stays unset: each attempt
// is bounded by RequestTimeout through its context).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithLimiter shares a limiter between clients of the same account.
func WithLimiter(l *Limiter) Option { return func(c *Client) { c.limiter = l } }

// Gate grants each request a place in a budget shared beyond this process (see
// state.SharedBudget); Take blocks until the request may be sent.
type Gate interface {
	Take(ctx context.Context) error
}

// WithGate makes every request, retries included, pass the gate after the local limiter.
func WithGate(g Gate) Option { return func(c *Client) { c.gate = g } }

// New builds a client from validated settings.
func New(cfg Config, opts ...Option) (*Client, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, &config.Error{Problems: errs}
	}
	base, _ := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	c := &Client{
		base:          base,
		authorization: func() string { return "Bearer " + cfg.APIToken.Reveal() },
		http:          &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		timeout:       cfg.RequestTimeout,
		perPage:       cfg.PerPage,
		now:           time.Now,
		retry:         cfg.RetryPolicy(),
	}
	for _, opt := range opts {
		opt(c)
	}
	if c.limiter == nil {
		l, err := NewLimiter(cfg.RateLimit, cfg.RatePeriod)
		if err != nil {
			return nil, err
		}
		c.limiter = l
	}
	return c, nil
}

// String names the client by its API root.
func (c *Client) String() string { return "wistia.Client(" + c.base.String() + ")" }

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	return Stats{
		Requests:    c.requests.Load(),
		Retries:     c.retries.Load(),
		RateLimited: c.rateLimited.Load(),
		Failures:    c.failures.Load(),
	}
}

// Medias pages through /medias.json from page first (1 for all).
func (c *Client) Medias(ctx context.Context, first int) iter.Seq2[*Page[Media], error] {
	return pages(ctx, c, "/medias.json", url.Values{}, first, DecodeMedia)
}

// EventsQuery selects the events of one media over an inclusive range of days.
type EventsQuery struct {
	MediaID    string
	Start, End dates.Date // days, inclusive
	FirstPage  int        // to resume a crawl; 0 or 1 starts at the beginning
}

// Events pages through /stats/events.json for one media and day range, newest event first.
func (c *Client) Events(ctx context.Context, q EventsQuery) iter.Seq2[*Page[Event], error] {
	query := url.Values{}
	query.Set("media_id", q.MediaID)
	query.Set("start_date", q.Start.String())
	query.Set("end_date", q.End.String())
	return pages(ctx, c, "/stats/events.json", query, q.FirstPage, DecodeEvent)
}

// MediaStatsByDate returns one row per day of [start, end] for a media, zero rows included.
func (c *Client) MediaStatsByDate(ctx context.Context, mediaID string, start, end dates.Date) (*Page[DailyStat], error) {
	query := url.Values{}
	query.Set("start_date", start.String())
	query.Set("end_date", end.String())
	endpoint, body, err := c.get(ctx, "/stats/medias/"+url.PathEscape(mediaID)+"/by_date.json", query)
	if err != nil {
		return nil, err
	}
	return newPage(1, endpoint, body, DecodeDailyStat)
}

// Visitor returns one visitor, as a page of one record so that it lands in bronze like the rest.
func (c *Client) Visitor(ctx context.Context, visitorKey string) (*Page[Visitor], error) {
	endpoint, body, err := c.get(ctx, "/stats/visitors/"+url.PathEscape(visitorKey)+".json", nil)
	if err != nil {
		return nil, err
	}
	if trimmed := strings.TrimSpace(string(body)); !strings.HasPrefix(trimmed, "{") {
		return nil, fmt.Errorf("wistia GET %s: %w: want a JSON object", endpoint, ErrMalformedBody)
	}
	return typePage(1, endpoint, body, []json.RawMessage{body}, DecodeVisitor), nil
}

// get performs one logical GET: it waits for the rate limiter, retries what is retryable, and
// returns the endpoint it called (path and query) with the body of the successful answer.
func (c *Client) get(ctx context.Context, path string, query url.Values) (string, []byte, error) {
	endpoint := path
	if len(query) > 0 {
		endpoint += "?" + query.Encode()
	}
	target := c.base.String() + endpoint
	for attempt := 1; ; attempt++ {
		if err := c.limiter.Wait(ctx); err != nil {
			return endpoint, nil, fmt.Errorf("wistia GET %s: %w", endpoint, err)
		}
		if c.gate != nil {
			if err := c.gate.Take(ctx); err != nil {
				return endpoint, nil, fmt.Errorf("wistia GET %s: shared request budget: %w", endpoint, err)
			}
		}
		c.requests.Add(1)
		body, err := c.attempt(ctx, target, endpoint)
		if err == nil {
			return endpoint, body, nil
		}
		if !Retryable(err) || ctx.Err() != nil {
			c.failures.Add(1)
			return endpoint, nil, err
		}
		if attempt >= c.retry.MaxAttempts {
			c.failures.Add(1)
			return endpoint, nil, fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
		var retryAfter time.Duration
		if apiErr, ok := err.(*APIError); ok && apiErr.RetryAfter > 0 {
			retryAfter = apiErr.RetryAfter
			c.rateLimited.Add(1)
		}
		delay, ok := c.retry.Delay(attempt, retryAfter)
		if !ok {
			c.failures.Add(1)
			return endpoint, nil, fmt.Errorf("server asks to wait %s, more than WISTIA_MAX_RETRY_AFTER=%s: %w", retryAfter, c.retry.MaxRetryAfter, err)
		}
		if retryAfter > 0 {
			// The budget is per account: every request of this client waits, not just this one.
			c.limiter.PauseUntil(c.now().Add(retryAfter))
		}
		c.retries.Add(1)
		if err := sleep(ctx, delay); err != nil {
			return endpoint, nil, fmt.Errorf("wistia GET %s: %w", endpoint, err)
		}
	}
}

// attempt sends one request, bounded by the per-request timeout.
func (c *Client) attempt(ctx context.Context, target, endpoint string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// net/http silently replays a GET when a reused connection dies before the answer. The
	// replay is one more request against the account's budget, so it waits for the limiter too.
	// The waits take the context without the trace: a shared budget kept in DynamoDB makes
	// requests of its own, which would otherwise run this hook again and stall the replay
	// until the request timeout (the soak found every replay waiting 30 s).
	untraced := ctx
	conns := 0
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
		if conns++; conns > 1 {
			c.requests.Add(1)
			_ = c.limiter.Wait(untraced) // on cancellation the request fails by itself
			if c.gate != nil {
				_ = c.gate.Take(untraced)
			}
		}
	}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("wistia GET %s: %w", endpoint, err)
	}
	req.Header.Set("Authorization", c.authorization())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "wistia-pipeline/1")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("wistia GET %s: %w", endpoint, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("wistia GET %s: reading body: %w", endpoint, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newAPIError(resp.StatusCode, endpoint, body, ParseRetryAfter(resp.Header.Get("Retry-After"), c.now()))
	}
	if !json.Valid(body) {
		return nil, fmt.Errorf("wistia GET %s: %w (%d bytes)", endpoint, ErrMalformedBody, len(body))
	}
	return body, nil
}

// unwrapURLError drops *url.Error's copy of the full URL: the endpoint is named already.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
