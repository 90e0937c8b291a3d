package bronze

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// simPage fetches one full page of realistic events from the simulator to write over and over.
func simPage(b *testing.B) []json.RawMessage {
	b.Helper()
	sim, err := wistiasim.New(wistiasim.Options{Seed: 1, Medias: 1, MeanEventsPerDay: 400, Now: fixedAt, QuirkShare: 0.05})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	req := httptest.NewRequest("GET", srv.URL+wistiasim.BasePath+"/stats/events.json?per_page=100&start_date=2026-11-20&end_date=2026-11-24", nil)
	req.RequestURI = ""
	req.Header.Set("Authorization", "Bearer "+sim.Token())
	resp, err := srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var records []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&records); err != nil || len(records) != 100 {
		b.Fatalf("want a full page: %d records, %v", len(records), err)
	}
	return records
}

// BenchmarkBronzeWrite lands 200 pages of 100 events per iteration into each store and reports
// raw MB/s (uncompressed JSON in), records/s and the peak heap.
func BenchmarkBronzeWrite(b *testing.B) {
	records := simPage(b)
	rawBytes := 0
	for _, r := range records {
		rawBytes += len(r)
	}
	const pages = 200
	ctx := context.Background()
	local, err := NewLocalStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for name, store := range map[string]Store{"local": local, "versitygw": openS3Store(b, testenv.StartS3(b), "bench")} {
		b.Run(name, func(b *testing.B) {
			runtime.GC()
			stop := testenv.PeakHeap()
			b.SetBytes(int64(rawBytes * pages))
			run := 0
			start := time.Now()
			for b.Loop() {
				run++
				w := NewWriter(store, Landing{Stream: StreamEvents, Day: testDay, Media: "bench", RunID: fmt.Sprint(name, run)}, nil, time.Now)
				for p := 1; p <= pages; p++ {
					if _, err := w.WritePage(ctx, "/stats/events.json", p, records); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := w.Finish(ctx, true); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start).Seconds()
			b.ReportMetric(float64(run*pages*len(records))/elapsed, "records/s")
			b.ReportMetric(float64(stop())/(1<<20), "peak-heap-MiB")
		})
	}
}
