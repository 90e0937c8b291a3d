package wistia

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// BenchmarkSustainedRate measures the request rate a client holds against a simulator whose
// limit equals the client's budget, as a fraction of that limit, after the opening burst.
// Target: at least 0.95 with zero 429s.
func BenchmarkSustainedRate(b *testing.B) {
	const (
		limit    = 200
		period   = 2 * time.Second
		requests = 5 * limit
		workers  = 16
	)
	for b.Loop() {
		sim, url := startSim(b, wistiasim.Options{Seed: 1, Medias: 50, RateLimit: limit, RatePeriod: period})
		cfg := testConfig(url, sim.Token())
		cfg.RateLimit, cfg.RatePeriod = limit, period
		client := newClient(b, cfg)
		day := dates.DateOf(simNow)
		ids := sim.MediaIDs()

		var (
			mu    sync.Mutex
			done  []time.Time
			wg    sync.WaitGroup
			queue = make(chan int)
		)
		for range workers {
			wg.Go(func() {
				for i := range queue {
					if _, err := client.MediaStatsByDate(context.Background(), ids[i%len(ids)], day, day); err != nil {
						b.Error(err)
					}
					mu.Lock()
					done = append(done, time.Now())
					mu.Unlock()
				}
			})
		}
		for i := range requests {
			queue <- i
		}
		close(queue)
		wg.Wait()

		slices.SortFunc(done, func(a, b time.Time) int { return a.Compare(b) })
		// Steady state: the requests after the first budget's burst, over the time they took.
		sustained := float64(requests-limit) / done[requests-1].Sub(done[limit-1]).Seconds()
		b.ReportMetric(sustained/(float64(limit)/period.Seconds()), "fraction-of-limit")
		b.ReportMetric(float64(sim.Stats().OverLimit), "429s")
		b.ReportMetric(sustained, "req/s")
	}
}
