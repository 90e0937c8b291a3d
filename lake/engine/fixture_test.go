package engine

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// The engine's tests merge into a table of their own, shaped as the pipeline's daily stats
// (a day-partitioned fact whose rows carry their bronze lineage) but declared here: the engine
// knows no table of the pipeline.

type lineage struct {
	IngestedAt time.Time
	RunID      string
	Source     string
}

func newerLine(a, b *lineage) int {
	return cmp.Or(a.IngestedAt.Compare(b.IngestedAt), cmp.Compare(a.Source, b.Source))
}

// DailyStat is a row of the tests' table.
type DailyStat struct {
	MediaID      string
	Date         dates.Date
	LoadCount    int64
	HoursWatched float64
	lineage
}

var dailyStatsTable = NewTable(Silver, "media_daily_stats", []Column[DailyStat]{
	StrCol("media_id", true, "", func(r *DailyStat) *string { return &r.MediaID }),
	DateCol("date", true, "", func(r *DailyStat) *dates.Date { return &r.Date }),
	Int64Col("load_count", false, "", func(r *DailyStat) *int64 { return &r.LoadCount }),
	Float64Col("hours_watched", false, "", func(r *DailyStat) *float64 { return &r.HoursWatched }),
	TimeCol("_ingested_at", true, "", func(r *DailyStat) *time.Time { return &r.IngestedAt }),
	StrCol("_run_id", true, "", func(r *DailyStat) *string { return &r.RunID }),
	StrCol("_source", true, "", func(r *DailyStat) *string { return &r.Source }),
}, "date", false,
	func(a, b *DailyStat) int {
		return cmp.Or(strings.Compare(a.MediaID, b.MediaID), cmp.Compare(a.Date, b.Date))
	},
	func(a, b *DailyStat) int { return newerLine(&a.lineage, &b.lineage) },
	nil, func(r *DailyStat) dates.Date { return r.Date })

// testLakehouse is a Warehouse holding the tests' table, in a sqlite catalog under a
// temporary folder.
func testLakehouse(t *testing.T) *Warehouse {
	t.Helper()
	dir := t.TempDir()
	cat, err := OpenSQLCatalog(filepath.Join(dir, "catalog.db"), "file://"+filepath.Join(dir, "warehouse"), nil)
	require.NoError(t, err)
	l := New(cat, []Info{dailyStatsTable}, Options{})
	t.Cleanup(func() { l.Close() })
	require.NoError(t, l.EnsureTables(context.Background()))
	return l
}

func statRows(day dates.Date, ingested time.Time, loads ...int64) []DailyStat {
	rows := make([]DailyStat, len(loads))
	for i, n := range loads {
		rows[i] = DailyStat{MediaID: fmt.Sprintf("m%02d", i), Date: day, LoadCount: n,
			lineage: lineage{IngestedAt: ingested, RunID: "r", Source: fmt.Sprintf("k#%d", i)}}
	}
	return rows
}
