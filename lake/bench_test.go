package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
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

// peakHeap samples the live heap until stop is called, returning the highest value seen.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
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
			stop := peakHeap()
			b.SetBytes(int64(rawBytes * pages))
			run := 0
			start := time.Now()
			for b.Loop() {
				run++
				w := NewBronzeWriter(store, Window{Stream: StreamEvents, Day: testDay, Media: "bench", RunID: fmt.Sprint(name, run)}, nil, time.Now)
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

// benchEvent renders one synthetic event in the API's shape: the same fields and sizes as the
// simulator's, generated directly because landing millions of events over HTTP would dominate
// the benchmark's set-up.
func benchEvent(buf []byte, n int, media string, day time.Time) []byte {
	at := day.Add(time.Duration(n%86400) * time.Second).Format(time.RFC3339)
	buf = append(buf, `{"event_key":"evt_`...)
	buf = strconv.AppendInt(buf, int64(n), 36)
	buf = append(buf, `","received_at":"`...)
	buf = append(buf, at...)
	buf = append(buf, `","visitor_key":"vis_`...)
	buf = strconv.AppendInt(buf, int64(n%50_000), 36)
	buf = append(buf, `","media_id":"`...)
	buf = append(buf, media...)
	buf = append(buf, `","media_name":"Quick Demo 12","media_url":"https://home.wistia.com/medias/`...)
	buf = append(buf, media...)
	buf = append(buf, `","embed_url":"https://www.example-shop.com/pricing","percent_viewed":0.`...)
	buf = strconv.AppendInt(buf, int64(10+n%90), 10)
	buf = append(buf, `,"ip":"203.0.113.`...)
	buf = strconv.AppendInt(buf, int64(n%250), 10)
	buf = append(buf, `","org":"Comcast Cable","country":"US","region":"California","city":"San Francisco","lat":37.77,"lon":-122.42,`...)
	buf = append(buf, `"email":null,"conversion_type":"","thumbnail":{"url":"https://embed-ssl.wistia.com/deliveries/abc.jpg"},`...)
	buf = append(buf, `"user_agent_details":{"browser":"Chrome","browser_version":"131.0","platform":"windows","mobile":false}}`...)
	return buf
}

// landBenchBronze lands events spread over days and medias, 2% of them listed twice, plus the
// media list and by_date rows gold needs. Objects hold 1,000 records to keep set-up short.
func landBenchBronze(b *testing.B, store Store, events, days, medias int) []time.Time {
	b.Helper()
	ctx := context.Background()
	last := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	var dayList []time.Time
	for d := days - 1; d >= 0; d-- {
		dayList = append(dayList, last.AddDate(0, 0, -d))
	}
	mediaIDs := make([]string, medias)
	var mediaRecs, statRecs []json.RawMessage
	for m := range mediaIDs {
		mediaIDs[m] = fmt.Sprintf("bm%06d", m)
		mediaRecs = append(mediaRecs, json.RawMessage(fmt.Sprintf(
			`{"id":%d,"hashed_id":%q,"name":"Bench %d","type":"Video","duration":%d.5,"created":"2025-01-02T03:04:05Z","updated":"2025-02-02T03:04:05Z","project":{"id":1,"name":"Facebook Ads","hashedId":"p1"},"tags":[{"name":"facebook"}]}`,
			m, mediaIDs[m], m, 30+m%600)))
	}
	w := NewBronzeWriter(store, Window{Stream: StreamMedias, Day: last, Media: AllMedia, RunID: "bench"}, nil, time.Now)
	if _, err := w.WritePage(ctx, "/medias.json", 1, mediaRecs); err != nil {
		b.Fatal(err)
	}
	if _, err := w.Finish(ctx, true); err != nil {
		b.Fatal(err)
	}
	perDay := events / days
	n := 0
	var buf []byte
	for _, day := range dayList {
		for m, media := range mediaIDs {
			count := perDay / medias
			if m == 0 {
				count += perDay % medias
			}
			w := NewBronzeWriter(store, Window{Stream: StreamEvents, Day: day, Media: media, RunID: "bench"}, nil, time.Now)
			var page []json.RawMessage
			flush := func() {
				if len(page) == 0 {
					return
				}
				if _, err := w.WritePage(ctx, "/stats/events.json", 1, page); err != nil {
					b.Fatal(err)
				}
				page, buf = page[:0], buf[:0]
			}
			for i := range count {
				start := len(buf)
				buf = benchEvent(buf, n, media, day)
				page = append(page, buf[start:])
				if i%50 == 0 && i > 0 { // 2% listed twice
					page = append(page, buf[start:])
				}
				n++
				if len(page) >= 1000 {
					flush()
				}
			}
			flush()
			if _, err := w.Finish(ctx, true); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, media := range mediaIDs {
		statRecs = statRecs[:0]
		for _, day := range dayList {
			statRecs = append(statRecs, json.RawMessage(fmt.Sprintf(`{"date":%q,"load_count":%d,"play_count":%d,"hours_watched":1.25}`,
				day.Format(time.DateOnly), perDay/medias*2, perDay/medias)))
		}
		w := NewBronzeWriter(store, Window{Stream: StreamDailyStats, Day: last, Media: media, RunID: "bench", Start: dayList[0], End: last}, nil, time.Now)
		if _, err := w.WritePage(ctx, "/stats/medias/"+media+"/by_date.json", 1, statRecs); err != nil {
			b.Fatal(err)
		}
		if _, err := w.Finish(ctx, true); err != nil {
			b.Fatal(err)
		}
	}
	return dayList
}

// BenchmarkTransform runs bronze → silver → gold over 1M and 4M events (30 days, 200 medias)
// into an empty file:// lakehouse and reports events/s and the peak heap, which must stay
// bounded by a day partition rather than grow with the input.
func BenchmarkTransform(b *testing.B) {
	for _, events := range []int{1_000_000, 4_000_000} {
		b.Run(fmt.Sprintf("events=%dM", events/1_000_000), func(b *testing.B) {
			store, err := NewLocalStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			days := landBenchBronze(b, store, events, 30, 200)
			events := events / 30 * 30 // what the days hold
			var total time.Duration
			var peak uint64
			runs := 0
			for b.Loop() {
				b.StopTimer()
				l := benchLakehouse(b)
				runtime.GC()
				stop := peakHeap()
				start := time.Now()
				b.StartTimer()
				rep, err := l.Transform(context.Background(), store, days, "bench")
				if err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				peak = max(peak, stop())
				runs++
				if m := rep.Merges[0]; m.Table != "silver.events" || m.RowsWritten != int64(events) {
					b.Fatalf("%s holds %d rows, want %d distinct events", m.Table, m.RowsWritten, events)
				}
				l.Close()
			}
			b.ReportMetric(float64(events*runs)/total.Seconds(), "events/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

func benchLakehouse(b *testing.B) *Lakehouse {
	dir := b.TempDir()
	cat, err := OpenSQLCatalog(filepath.Join(dir, "catalog.db"), "file://"+filepath.Join(dir, "warehouse"), nil)
	if err != nil {
		b.Fatal(err)
	}
	l := NewLakehouse(cat, LakehouseOptions{})
	if err := l.EnsureTables(context.Background()); err != nil {
		b.Fatal(err)
	}
	return l
}
