package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/lake"
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
	day := dates.AddDays(dates.Day(simNow), -1)
	byMedia := landEvents(b, in, sim, []time.Time{day}, "run-1")
	perMedia, distinct := 0, map[string]bool{}
	for _, keys := range byMedia {
		perMedia += len(keys)
		for _, k := range keys {
			distinct[k] = true
		}
	}
	events := len(sim.Truth(day, day).Events)
	b.ResetTimer()
	var requests int
	for range b.N {
		l, err := in.Visitors(context.Background(), lake.AllMedia, []time.Time{day}, day, "run-1", VisitorsProgress{}, nil)
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
