package lake_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/marketing-data/wistia-pipeline/internal/benchdata"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
)

// BenchmarkDailyTransformOnHistory is a daily run's transform (one day of bronze) on tables that
// already hold 30 or 365 days: its time must not grow with the history, and it must rewrite only
// the partitions its day touches (the day and, for events, the UTC days next to it). Wall time
// moves by a fifth between runs on a shared machine; the bytes allocated per transform do not,
// and show the same work whatever the history.
func BenchmarkDailyTransformOnHistory(b *testing.B) {
	for _, history := range []int{30, 365} {
		b.Run(fmt.Sprintf("days=%d", history), func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			store, err := bronze.NewLocalStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			shape := benchdata.NewShape(history*2_000, history, 20)
			shape.Visitors, shape.StatsPerDay = 5_000, true
			set, err := benchdata.Land(ctx, store, shape)
			if err != nil {
				b.Fatal(err)
			}
			// Runs are a day apart and snapshots are kept a week, so a table holds a week's
			// snapshots whatever its history. Here a week of history is merged in seconds: kept
			// a week, every snapshot would stay, and the table's metadata would grow with the
			// history as it never does in production. Keeping only the last after each week
			// keeps the same number at 30 days of history as at 365.
			l := emptyLakehouseWith(b, lake.LakehouseOptions{SnapshotRetention: time.Nanosecond})
			defer l.Close()
			// The history is merged a week at a time, so the tables' manifests are shaped by many
			// commits, as a year of daily runs leaves them, rather than by one; snapshots are
			// expired after each, as every run does.
			for week := range slices.Chunk(set.Days, 7) {
				if _, err := l.Transform(ctx, store, week, "history"); err != nil {
					b.Fatal(err)
				}
				if err := l.ExpireSnapshots(ctx); err != nil {
					b.Fatal(err)
				}
			}
			last := set.Days[len(set.Days)-1:]
			var total time.Duration
			runs := 0
			for b.Loop() {
				start := time.Now()
				rep, err := l.Transform(ctx, store, last, "daily")
				if err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				runs++
				for _, m := range rep.Merges {
					if m.Table == "silver.events" && m.Partitions > 3 {
						b.Fatalf("a day's merge rewrote %d partitions of silver.events, want at most its day and the two next to it", m.Partitions)
					}
				}
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(runs), "ms/daily-transform")
		})
	}
}
