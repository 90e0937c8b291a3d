// Package truthcheck compares the lakehouse with the simulator's ground truth, for tests.
package truthcheck

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

const floatTolerance = 1e-9

// AssertLakehouse compares silver and gold for the truth's days with the simulator's ground
// truth: every silver event and by_date row, the quarantined count, and every row and metric
// of the gold tables. Floats are compared to 1e-9: sums are taken in another order.
func AssertLakehouse(t *testing.T, lh *lake.Lakehouse, truth wistiasim.Truth) {
	t.Helper()
	ctx := context.Background()
	from, to := dates.DateOf(truth.From), dates.DateOf(truth.To)
	require.NotEmpty(t, truth.Events)

	// Events and engagement sit on the stats day that listed them, the day of their
	// received_at in the account's zone, which the lakehouse is configured with.
	events, err := lake.ReadRows[silver.Event](ctx, lh, from, to)
	require.NoError(t, err)
	require.Len(t, events, len(truth.Events), "silver.events rows")
	for i, want := range truth.Events {
		got := events[i]
		assert.Equal(t, want.EventKey, got.EventKey)
		assert.Equal(t, want.MediaID, got.MediaID, want.EventKey)
		assert.Equal(t, want.VisitorKey, got.VisitorKey, want.EventKey)
		assert.True(t, want.ReceivedAt.Truncate(time.Microsecond).Equal(got.ReceivedAt), "received_at of %s", want.EventKey)
		assert.Equal(t, dates.DateOf(want.Day), got.Date, want.EventKey)
		assert.Equal(t, want.PercentViewed, got.PercentViewed, want.EventKey)
		assert.Equal(t, []string{want.EmbedURL, want.IP, want.Country, want.Region, want.City},
			[]string{got.EmbedURL, got.IP, got.Country, got.Region, got.City}, want.EventKey)
	}

	quarantined, err := lake.ReadRows[silver.Quarantined](ctx, lh, from, to)
	require.NoError(t, err)
	n := 0
	for _, q := range quarantined {
		if q.Stream == bronze.StreamEvents {
			n++
			assert.Regexp(t, `event_key|visitor_key`, q.Reason, "the simulator's untypeable events lack an event_key or name no visitor")
			assert.NotEmpty(t, q.Raw)
		}
	}
	assert.Equal(t, truth.Quarantined, n, "quarantined events")

	stats, err := lake.ReadRows[silver.DailyStat](ctx, lh, from, to)
	require.NoError(t, err)
	require.Len(t, stats, len(truth.Daily), "silver.media_daily_stats rows")
	wantStats := slices.Clone(truth.Daily)
	slices.SortFunc(wantStats, func(a, b wistiasim.DailyStat) int {
		return strings.Compare(a.MediaID+dates.DateOf(a.Date).String(), b.MediaID+dates.DateOf(b.Date).String())
	})
	for i, want := range wantStats {
		got := stats[i]
		assert.Equal(t, []any{want.MediaID, dates.DateOf(want.Date), want.Loads, want.Plays},
			[]any{got.MediaID, got.Date, got.LoadCount, got.PlayCount})
		assert.InDelta(t, want.HoursWatched, got.HoursWatched, floatTolerance)
	}

	dims, err := lake.ReadRows[gold.DimMedia](ctx, lh, 0, 0)
	require.NoError(t, err)
	require.Len(t, dims, len(truth.Medias), "gold.dim_media rows")
	wantMedias := slices.Clone(truth.Medias)
	slices.SortFunc(wantMedias, func(a, b wistiasim.TruthMedia) int { return strings.Compare(a.HashedID, b.HashedID) })
	for i, want := range wantMedias {
		got := dims[i]
		assert.Equal(t, []any{want.HashedID, want.Name, want.URL, want.Channel, want.Project},
			[]any{got.MediaID, got.Title, got.URL, got.Channel, got.Project})
		assert.True(t, want.Created.Truncate(time.Microsecond).Equal(got.CreatedAt), "created_at of %s", want.HashedID)
	}

	visitors, err := lake.ReadRows[gold.DimVisitor](ctx, lh, 0, 0)
	require.NoError(t, err)
	require.Len(t, visitors, len(truth.Visitors), "gold.dim_visitor rows")
	for i, want := range truth.Visitors {
		assert.Equal(t, []string{want.VisitorKey, want.IP, want.Country},
			[]string{visitors[i].VisitorID, visitors[i].IPAddress, visitors[i].Country})
	}

	daily, err := lake.ReadRows[gold.FactMediaDaily](ctx, lh, from, to)
	require.NoError(t, err)
	require.Len(t, daily, len(truth.MediaDaily), "gold.fact_media_daily rows")
	wantDaily := slices.Clone(truth.MediaDaily)
	slices.SortFunc(wantDaily, func(a, b wistiasim.FactMediaDaily) int {
		return strings.Compare(a.MediaID+dates.DateOf(a.Date).String(), b.MediaID+dates.DateOf(b.Date).String())
	})
	for i, want := range wantDaily {
		got := daily[i]
		assert.Equal(t, []any{want.MediaID, dates.DateOf(want.Date), want.Loads, want.Plays},
			[]any{got.MediaID, got.Date, got.LoadCount, got.PlayCount})
		assert.InDelta(t, want.PlayRate, got.PlayRate, floatTolerance)
		assert.InDelta(t, want.HoursWatched, got.HoursWatched, floatTolerance)
	}

	engagement, err := lake.ReadRows[gold.FactEngagement](ctx, lh, from, to)
	require.NoError(t, err)
	require.Len(t, engagement, len(truth.Engagement), "gold.fact_media_engagement rows")
	for i, want := range truth.Engagement {
		got := engagement[i]
		assert.Equal(t, []any{want.MediaID, want.VisitorKey, dates.DateOf(want.Date), want.Plays},
			[]any{got.MediaID, got.VisitorID, got.Date, got.PlayCount})
		assert.InEpsilon(t, want.TotalWatchTime+1, got.TotalWatchTime+1, floatTolerance)
		assert.InDelta(t, want.WatchedPercent, got.WatchedPercent, floatTolerance)
		assert.InDelta(t, want.PlayRate, got.PlayRate, floatTolerance)
	}
}
