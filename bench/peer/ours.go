//go:build duckdb

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// cpuProfile and memProfile are where the ours side writes its CPU profile and its heap
// profile at the peak of the live heap, when set; memLimit is its GOMEMLIMIT, when set.
var cpuProfile, memProfile, memLimit string

// runOurs runs lake.Lakehouse.Transform of the days into an empty file:// lakehouse with a
// sqlite catalog, as BenchmarkTransform does; the clock runs around the transform only.
func runOurs(ctx context.Context, bronzeDir string, days []dates.Date, out string) (result, error) {
	store, err := bronze.NewLocalStore(bronzeDir)
	if err != nil {
		return result{}, err
	}
	cat, err := engine.OpenSQLCatalog(filepath.Join(out, "catalog.db"), "file://"+filepath.Join(out, "warehouse"), nil)
	if err != nil {
		return result{}, err
	}
	l := lake.NewLakehouse(cat, lake.LakehouseOptions{})
	defer l.Close()
	if err := l.EnsureTables(ctx); err != nil {
		return result{}, err
	}

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return result{}, err
		}
	}
	if memProfile != "" {
		stop := watchPeakHeap(memProfile)
		defer stop()
	}
	start := time.Now()
	rep, err := l.Transform(ctx, store, days, "peer")
	elapsed := time.Since(start)
	pprof.StopCPUProfile()
	if err != nil {
		return result{}, err
	}

	r := result{Seconds: elapsed.Seconds(), Events: -1, Engagement: -1}
	for _, m := range rep.Merges {
		// Where the time went, table by table, on stderr beside the result.
		fmt.Fprintf(os.Stderr, "peer: ours: %-30s %7.2f s %9d rows %3d files\n", m.Table, m.Duration.Seconds(), m.RowsWritten, m.FilesAdded)
		switch m.Table {
		case "silver.events":
			r.Events = m.RowsWritten
		case "gold.fact_media_engagement":
			r.Engagement = m.RowsWritten
		}
	}
	if r.Events < 0 || r.Engagement < 0 {
		return result{}, fmt.Errorf("the transform reported no merge of silver.events or gold.fact_media_engagement: %+v", rep.Merges)
	}
	return r, nil
}

// watchPeakHeap writes the heap profile to path whenever the live heap the last garbage
// collection found is the largest yet, so the file ends up showing what the transform held at
// its peak. It returns what stops it.
func watchPeakHeap(path string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var peak uint64
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if live := sample[0].Value.Uint64(); live > peak {
				peak = live
				if f, err := os.Create(path); err == nil {
					_ = pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
