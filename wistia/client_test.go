package wistia

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

var simNow = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)

// startSim serves a simulator on loopback for one test.
func startSim(t testing.TB, opts wistiasim.Options) (*wistiasim.Sim, string) {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = simNow
	}
	sim, err := wistiasim.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return sim, srv.URL + wistiasim.BasePath
}

// testConfig is a client configuration for tests: fast backoff, a generous budget.
func testConfig(baseURL, token string) Config {
	return Config{
		BaseURL: baseURL, APIToken: config.Secret(token), RateLimit: 10_000, RatePeriod: time.Second,
		RequestTimeout: 5 * time.Second, MaxAttempts: 6, BackoffBase: 5 * time.Millisecond,
		BackoffMax: 50 * time.Millisecond, MaxRetryAfter: 10 * time.Second, PerPage: 100,
	}
}

func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	return c
}

func TestPagerStopsOnShortOrEmptyPage(t *testing.T) {
	for _, c := range []struct {
		medias, wantPages int
	}{
		{0, 1},   // an empty first page
		{99, 1},  // one short page
		{100, 2}, // a full page, then an empty one
		{250, 3}, // two full pages, then a short one
	} {
		sim, url := startSim(t, wistiasim.Options{Seed: 1, Medias: c.medias, Visitors: 10})
		client := newClient(t, testConfig(url, sim.Token()))
		var got []string
		pages := 0
		for page, err := range client.Medias(context.Background(), 1) {
			require.NoError(t, err)
			pages++
			assert.Equal(t, pages, page.Number)
			for _, m := range page.Items {
				got = append(got, string(m.HashedID))
			}
		}
		assert.Equal(t, c.wantPages, pages, "%d medias", c.medias)
		assert.Equal(t, int64(c.wantPages), sim.Stats().Requests, "one request per page, no total assumed")
		assert.Len(t, got, c.medias)
		if c.medias > 0 {
			assert.Equal(t, sim.MediaIDs(), got, "every media once, in order")
		}
	}
}

func TestPagerResumesFromPage(t *testing.T) {
	sim, url := startSim(t, wistiasim.Options{Seed: 1, Medias: 250})
	client := newClient(t, testConfig(url, sim.Token()))
	var got []string
	for page, err := range client.Medias(context.Background(), 2) {
		require.NoError(t, err)
		for _, m := range page.Items {
			got = append(got, string(m.HashedID))
		}
	}
	assert.Equal(t, sim.MediaIDs()[100:], got)
}

func TestPageKeepsRawBodyAndEndpoint(t *testing.T) {
	sim, url := startSim(t, wistiasim.Options{Seed: 1, Medias: 3, QuirkShare: 0.5})
	client := newClient(t, testConfig(url, sim.Token()))
	day := dates.DateOf(simNow.Add(-24 * time.Hour))
	for page, err := range client.Events(context.Background(), EventsQuery{MediaID: sim.MediaIDs()[0], Start: day, End: day}) {
		require.NoError(t, err)
		assert.Equal(t, "/stats/events.json?end_date=2026-11-24&media_id="+sim.MediaIDs()[0]+"&page=1&per_page=100&start_date=2026-11-24", page.Endpoint)
		assert.True(t, strings.HasPrefix(string(page.Body), "["))
		assert.Len(t, page.Records, len(page.Items)+len(page.Rejects))
		assert.NotContains(t, page.Endpoint, sim.Token())
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	sim, url := startSim(t, wistiasim.Options{Seed: 1, Medias: 500, RateLimit: 2, RatePeriod: time.Second})
	cfg := testConfig(url, sim.Token()) // the client's budget is far above the server's
	client := newClient(t, cfg)
	n := 0
	for page, err := range client.Medias(context.Background(), 1) {
		require.NoError(t, err)
		n += len(page.Items)
	}
	assert.Equal(t, 500, n)
	assert.Positive(t, sim.Stats().OverLimit, "the server throttled us")
	assert.Equal(t, sim.Stats().OverLimit, client.Stats().RateLimited, "every 429 was seen and waited out")
}

func TestFinalErrorsAreTypedAndNotRetried(t *testing.T) {
	sim, url := startSim(t, wistiasim.Options{Seed: 1, Medias: 2})
	ctx := context.Background()
	day := dates.DateOf(simNow)

	t.Run("401 carries Wistia's fields and never the token", func(t *testing.T) {
		const token = "s3cr3t-t0ken-value"
		client := newClient(t, testConfig(url, token))
		before := sim.Stats().Requests
		_, err := client.MediaStatsByDate(ctx, sim.MediaIDs()[0], day, day)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.ErrorIs(t, err, ErrUnauthorized)
		assert.Equal(t, 401, apiErr.Status)
		assert.Equal(t, "unauthorized", apiErr.Code)
		assert.Equal(t, "Invalid credentials.", apiErr.Message)
		assert.Contains(t, err.Error(), "/stats/medias/"+sim.MediaIDs()[0]+"/by_date.json")
		assert.NotContains(t, err.Error(), token)
		assert.Equal(t, before+1, sim.Stats().Requests, "no retry")
	})

	client := newClient(t, testConfig(url, sim.Token()))
	t.Run("404 for an unknown media", func(t *testing.T) {
		before := sim.Stats().Requests
		_, err := client.MediaStatsByDate(ctx, "gone000000", day, day)
		assert.ErrorIs(t, err, ErrNotFound)
		assert.Equal(t, before+1, sim.Stats().Requests, "no retry")
	})
	t.Run("404 for an unknown visitor", func(t *testing.T) {
		_, err := client.Visitor(ctx, "v-nobody")
		assert.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("422 for dates out of order", func(t *testing.T) {
		for _, err := range client.Events(ctx, EventsQuery{MediaID: sim.MediaIDs()[0], Start: day, End: day.AddDays(-3)}) {
			assert.ErrorIs(t, err, ErrInvalidRequest)
			assert.False(t, Retryable(err))
		}
	})
}

func TestRetriesGiveUpAfterMaxAttempts(t *testing.T) {
	sim, url := startSim(t, wistiasim.Options{Seed: 1, Medias: 2})
	sim.SetFaults(wistiasim.Faults{ErrorRate: 1})
	cfg := testConfig(url, sim.Token())
	cfg.MaxAttempts = 4
	client := newClient(t, cfg)
	for _, err := range client.Medias(context.Background(), 1) {
		require.Error(t, err)
		assert.True(t, errors.Is(err, ErrServer) || errors.Is(err, ErrRateLimited), err)
	}
	assert.LessOrEqual(t, sim.Stats().Requests, int64(4))
	assert.Equal(t, int64(1), client.Stats().Failures)
}

func TestPerRequestTimeoutRetries(t *testing.T) {
	sim, url := startSim(t, wistiasim.Options{Seed: 1, Medias: 2})
	sim.SetFaults(wistiasim.Faults{Latency: 300 * time.Millisecond})
	cfg := testConfig(url, sim.Token())
	cfg.RequestTimeout = 20 * time.Millisecond
	cfg.MaxAttempts = 3
	client := newClient(t, cfg)
	for _, err := range client.Medias(context.Background(), 1) {
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	}
	assert.Equal(t, int64(3), client.Stats().Requests, "each timed-out attempt was retried")
}

func TestCancellationStopsWaiting(t *testing.T) {
	sim, url := startSim(t, wistiasim.Options{Seed: 1, Medias: 2})
	cfg := testConfig(url, sim.Token())
	cfg.RateLimit, cfg.RatePeriod = 1, time.Hour
	client := newClient(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := client.Visitor(ctx, "v-first") // spends the budget
	require.ErrorIs(t, err, ErrNotFound)
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = client.Visitor(ctx, "v-second")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := testConfig("ftp://x", "tok")
	cfg.RateLimit = 0
	cfg.PerPage = 500
	_, err := New(cfg)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "WISTIA_BASE_URL")
	assert.Contains(t, msg, "WISTIA_RATE_LIMIT")
	assert.Contains(t, msg, "WISTIA_PER_PAGE")
}

func TestTokenNeverPrints(t *testing.T) {
	const token = "tok_live_0123456789abcdef"
	cfg := testConfig("https://api.wistia.com/v1", token)
	client := newClient(t, cfg)
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "client", client, "cfg", cfg)
	for _, out := range []string{
		fmt.Sprintf("%v %+v %#v %d %s", client, client, client, cfg.APIToken, cfg.APIToken),
		fmt.Sprintf("%+v %#v", cfg, cfg), logged.String(),
	} {
		assert.NotContains(t, out, token)
	}

	for _, bad := range []string{"https://api.wistia.com/v1?api_password=" + token, "https://" + token + "@api.wistia.com/v1", "api.wistia.com/v1?api_password=" + token} {
		_, err := New(testConfig(bad, "x"))
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "WISTIA_BASE_URL")
		assert.NotContains(t, err.Error(), token)
	}
}
