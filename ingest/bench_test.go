package ingest

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/state"
	"github.com/marketing-data/wistia-pipeline/wistia"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// budgetPerMinute is Wistia's request budget per account.
const budgetPerMinute = 600

// BenchmarkVisitorsOneDay fetches the visitors of one day of 200 medias and about 20,000
// events from about 8,000 distinct visitors, once per run, and reports the requests against the per-media
// fetch it replaced and what they cost at Wistia's budget: minutes at 600 requests a minute
// (the shared budget grants at most 20/22 of it) and the share of a day's budget.
func BenchmarkVisitorsOneDay(b *testing.B) {
	in, sim, clock := ingester(b, wistiasim.Options{Seed: 17, Medias: 200, Visitors: 13000, MeanEventsPerDay: 150})
	day := dates.DateOf(simNow).AddDays(-1)
	byMedia := landEvents(b, in, sim, []dates.Date{day}, "run-1")
	perMedia, distinct := 0, map[string]bool{}
	for _, keys := range byMedia {
		perMedia += len(keys)
		for _, k := range keys {
			distinct[k] = true
		}
	}
	events := len(sim.Truth(day.Time(), day.Time()).Events)
	b.ResetTimer()
	var requests int
	for range b.N {
		l, err := in.Visitors(context.Background(), bronze.AllMedia, []dates.Date{day}, day, "run-1", VisitorsProgress{}, nil)
		require.NoError(b, err)
		requests = l.Requests
		*clock = clock.Add(25 * time.Hour) // the next iteration's fetch is not fresh any more
	}
	b.StopTimer()
	b.ReportMetric(float64(events), "events")
	b.ReportMetric(float64(len(distinct)), "visitors")
	b.ReportMetric(float64(perMedia), "requests-per-media-fetch")
	b.ReportMetric(float64(requests), "requests-per-run-fetch")
	b.ReportMetric(float64(requests)/(budgetPerMinute*20.0/22), "minutes-at-budget")
	b.ReportMetric(float64(requests)/(budgetPerMinute*60*24), "share-of-daily-budget")
}

// BenchmarkVisitorsOneDayAtBudget is BenchmarkVisitorsOneDay against a simulator that holds
// Wistia's 600 requests a minute, through the shared budget the workers use: the measured
// wall time, the share of the budget the fetch used, and the 429s it met (none expected). It
// takes about a quarter of an hour, so `make bench` leaves it to `make bench-visitors`.
func BenchmarkVisitorsOneDayAtBudget(b *testing.B) {
	in, sim, clock := ingester(b, wistiasim.Options{Seed: 17, Medias: 200, Visitors: 13000, MeanEventsPerDay: 150})
	day := dates.DateOf(simNow).AddDays(-1)
	landEvents(b, in, sim, []dates.Date{day}, "run-1")

	limited, err := wistiasim.New(wistiasim.Options{Seed: 17, Medias: 200, Visitors: 13000, MeanEventsPerDay: 150, Now: simNow,
		RateLimit: budgetPerMinute, RatePeriod: time.Minute})
	require.NoError(b, err)
	srv := httptest.NewServer(limited.Handler())
	b.Cleanup(srv.Close)
	marks, err := state.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "marks.db"))
	require.NoError(b, err)
	b.Cleanup(func() { marks.Close() })
	budget, err := state.NewSharedBudget(marks, "acct", budgetPerMinute, time.Minute)
	require.NoError(b, err)
	in.Client, err = wistia.New(wistia.Config{BaseURL: srv.URL + wistiasim.BasePath, APIToken: config.Secret(limited.Token()),
		RateLimit: budgetPerMinute, RatePeriod: time.Minute, RequestTimeout: 10 * time.Second, MaxAttempts: 10,
		BackoffBase: 100 * time.Millisecond, BackoffMax: 5 * time.Second, MaxRetryAfter: time.Minute, PerPage: 100}, wistia.WithGate(budget))
	require.NoError(b, err)

	b.ResetTimer()
	var requests int
	start := time.Now()
	for range b.N {
		l, err := in.Visitors(context.Background(), bronze.AllMedia, []dates.Date{day}, day, "run-1", VisitorsProgress{}, nil)
		require.NoError(b, err)
		requests += l.Requests
		*clock = clock.Add(25 * time.Hour)
	}
	wall := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(requests)/float64(b.N), "requests")
	b.ReportMetric(wall.Minutes()/float64(b.N), "minutes")
	b.ReportMetric(float64(requests)/(wall.Minutes()*budgetPerMinute), "budget-share")
	b.ReportMetric(float64(limited.Stats().OverLimit), "429s")
}
