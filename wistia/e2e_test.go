package wistia

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// TestEndToEndWeekOfEvents pages every media's events for a week, one day window at a time,
// through injected 5xx, resets, truncated bodies, events arriving mid-crawl and a tight rate
// limit, and must come back with exactly the simulator's ground truth and no request over the
// limit.
func TestEndToEndWeekOfEvents(t *testing.T) {
	sim, url := startSim(t, wistiasim.Options{
		Seed: 2026, Medias: 12, MeanEventsPerDay: 60, LateShare: 0.05, QuirkShare: 0.1,
		CorruptShare: 0.01, DuplicateShare: 0.02, RateLimit: 60, RatePeriod: 2 * time.Second,
	})
	sim.SetFaults(wistiasim.Faults{ErrorRate: 0.10, ResetRate: 0.03, TruncateRate: 0.03, InsertRate: 0.05})

	cfg := testConfig(url, sim.Token())
	cfg.RateLimit, cfg.RatePeriod = 60, 2*time.Second // the client's budget equals the server's
	cfg.MaxAttempts = 10
	client := newClient(t, cfg)

	last := dates.DateOf(simNow).AddDays(-1)
	first := last.AddDays(-6)
	var (
		mu      sync.Mutex
		got     = map[string]Event{}
		rejects = map[string]bool{}
	)
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(8)
	for _, media := range sim.MediaIDs() {
		for _, day := range dates.Range(first, last) {
			g.Go(func() error {
				state, err := client.CrawlEvents(ctx, EventsQuery{MediaID: media, Start: day, End: day}, CrawlState{},
					func(p *Page[Event], _ CrawlState) error {
						mu.Lock()
						defer mu.Unlock()
						for _, e := range p.Items {
							got[string(e.EventKey)] = e
						}
						for _, r := range p.Rejects {
							rejects[string(r.Raw)] = true
						}
						return nil
					})
				if err == nil {
					assert.True(t, state.Complete, "window %s %s read completely", media, day)
				}
				return err
			})
		}
	}
	require.NoError(t, g.Wait())

	truth := sim.Truth(first.Time(), last.Time())
	require.NotEmpty(t, truth.Events)
	require.Len(t, got, len(truth.Events), "distinct events")
	for _, want := range truth.Events {
		e, ok := got[want.EventKey]
		if !assert.True(t, ok, "event %s missing", want.EventKey) {
			continue
		}
		assert.Equal(t, want.MediaID, string(e.MediaID))
		assert.Equal(t, want.VisitorKey, string(e.VisitorKey))
		assert.True(t, want.ReceivedAt.Equal(e.ReceivedAt.Time), "received_at of %s: %v vs %v", want.EventKey, want.ReceivedAt, e.ReceivedAt)
		assert.Equal(t, want.PercentViewed, float64(e.PercentViewed))
		assert.Equal(t, want.IP, string(e.IP))
		assert.Equal(t, want.Country, string(e.Country))
		assert.Equal(t, want.EmbedURL, string(e.EmbedURL))
	}
	assert.Len(t, rejects, truth.Quarantined, "records that cannot be typed are counted, not lost")

	st := sim.Stats()
	assert.Zero(t, st.OverLimit, "requests over the rate limit")
	assert.Positive(t, st.Errors, "5xx were injected")
	assert.Positive(t, st.Resets, "resets were injected")
	assert.Positive(t, st.Truncated, "truncated bodies were injected")
	t.Logf("events=%d quarantined=%d requests=%d retries=%d injected: errors=%d resets=%d truncated=%d inserted=%d",
		len(got), len(rejects), st.Requests, client.Stats().Retries, st.Errors, st.Resets, st.Truncated, st.Inserted)
}
