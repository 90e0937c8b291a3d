//go:build duckdb

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/marketing-data/wistia-pipeline/lake"
)

// cpuProfile is where the ours side writes its CPU profile, when set.
var cpuProfile string

// runOurs runs lake.Lakehouse.Transform of the days into an empty file:// lakehouse with a
// sqlite catalog, as BenchmarkTransform does; the clock runs around the transform only.
func runOurs(ctx context.Context, bronze string, days []time.Time, out string) (result, error) {
	store, err := lake.NewLocalStore(bronze)
	if err != nil {
		return result{}, err
	}
	cat, err := lake.OpenSQLCatalog(filepath.Join(out, "catalog.db"), "file://"+filepath.Join(out, "warehouse"), nil)
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
	start := time.Now()
	rep, err := l.Transform(ctx, store, lake.DaysOf(days), "peer")
	elapsed := time.Since(start)
	pprof.StopCPUProfile()
	if err != nil {
		return result{}, err
	}

	r := result{Seconds: elapsed.Seconds(), Events: -1, Engagement: -1}
	for _, m := range rep.Merges {
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
