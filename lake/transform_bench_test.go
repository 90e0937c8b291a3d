package lake_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/marketing-data/wistia-pipeline/internal/benchdata"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// BenchmarkTransform runs bronze → silver → gold over 1M and 4M events (30 days, 200 medias,
// benchdata's default visitors and duplicates) into an empty file:// lakehouse and reports
// events/s and the peak heap, which must stay bounded by a day partition rather than grow
// with the input.
func BenchmarkTransform(b *testing.B) {
	for _, events := range []int{1_000_000, 4_000_000} {
		b.Run(fmt.Sprintf("events=%dM", events/1_000_000), func(b *testing.B) {
			store, err := bronze.NewLocalStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			set, err := benchdata.Land(context.Background(), store, benchdata.NewShape(events, 30, 200))
			if err != nil {
				b.Fatal(err)
			}
			var total time.Duration
			var peak uint64
			runs := 0
			for b.Loop() {
				b.StopTimer()
				l := emptyLakehouse(b)
				runtime.GC()
				stop := testenv.PeakHeap()
				start := time.Now()
				b.StartTimer()
				rep, err := l.Transform(context.Background(), store, set.Days, "bench")
				if err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				peak = max(peak, stop())
				runs++
				if m := rep.Merges[0]; m.Table != "silver.events" || m.RowsWritten != int64(set.Events) {
					b.Fatalf("%s holds %d rows, want %d distinct events", m.Table, m.RowsWritten, set.Events)
				}
				l.Close()
			}
			b.ReportMetric(float64(set.Events*runs)/total.Seconds(), "events/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// emptyLakehouse is an empty lakehouse in a temporary folder, with a sqlite catalog.
func emptyLakehouse(tb testing.TB) *lake.Lakehouse {
	tb.Helper()
	return emptyLakehouseWith(tb, lake.LakehouseOptions{})
}

func emptyLakehouseWith(tb testing.TB, opts lake.LakehouseOptions) *lake.Lakehouse {
	tb.Helper()
	dir := tb.TempDir()
	cat, err := engine.OpenSQLCatalog(filepath.Join(dir, "catalog.db"), "file://"+filepath.Join(dir, "warehouse"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	l := lake.NewLakehouse(cat, opts)
	if err := l.EnsureTables(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return l
}
