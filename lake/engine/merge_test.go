package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mergeStats(t *testing.T, l *Warehouse, rows []DailyStat) MergeResult {
	t.Helper()
	res, err := MergeGrouped(context.Background(), l, dailyStatsTable, Upsert, nil, ByPartition(dailyStatsTable, rows))
	require.NoError(t, err)
	return res
}

func TestLatestKeepsTheNewestVersionOfEachKey(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rows := []DailyStat{
		{MediaID: "b", Date: 1, LoadCount: 1, lineage: lineage{IngestedAt: t0}},
		{MediaID: "a", Date: 1, LoadCount: 2, lineage: lineage{IngestedAt: t0.Add(time.Hour)}},
		{MediaID: "a", Date: 1, LoadCount: 3, lineage: lineage{IngestedAt: t0}},              // older: loses
		{MediaID: "b", Date: 1, LoadCount: 4, lineage: lineage{IngestedAt: t0}},              // same version, read later: wins
		{MediaID: "a", Date: 2, LoadCount: 5, lineage: lineage{IngestedAt: t0}},              // another key (date)
		{MediaID: "c", Date: 1, LoadCount: 6, lineage: lineage{IngestedAt: t0, Source: "z"}}, // later source wins the tie
		{MediaID: "c", Date: 1, LoadCount: 7, lineage: lineage{IngestedAt: t0, Source: "a"}},
	}
	got := Latest(rows, dailyStatsTable.key, dailyStatsTable.version, nil)
	var loads []int64
	for _, r := range got {
		loads = append(loads, r.LoadCount)
	}
	assert.Equal(t, []int64{2, 5, 4, 6}, loads) // sorted by key: (a,1) (a,2) (b,1) (c,1)
}

func TestMergeIsLatestWinsPerKey(t *testing.T) {
	l := testLakehouse(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	mergeStats(t, l, statRows(10, t0, 1, 2, 3))
	mergeStats(t, l, statRows(11, t0, 9))
	// A later landing of m01 on day 10, and an older one of m00 that must not win.
	mergeStats(t, l, []DailyStat{
		{MediaID: "m01", Date: 10, LoadCount: 20, lineage: lineage{IngestedAt: t0.Add(time.Hour), Source: "x"}},
		{MediaID: "m00", Date: 10, LoadCount: 99, lineage: lineage{IngestedAt: t0.Add(-time.Hour), Source: "y"}},
	})
	rows, err := CollectRows(context.Background(), l, dailyStatsTable, iceberg.AlwaysTrue{})
	require.NoError(t, err)
	got := map[string]int64{}
	for _, r := range rows {
		got[r.MediaID+"@"+r.Date.String()] = r.LoadCount
	}
	assert.Equal(t, map[string]int64{"m00@1970-01-11": 1, "m01@1970-01-11": 20, "m02@1970-01-11": 3, "m00@1970-01-12": 9}, got)
}

// A merge that loses a commit race is redone on the winner's result: both land.
func TestMergeRedoneAfterLosingRace(t *testing.T) {
	l := testLakehouse(t)
	other := New(l.cat, l.tables, Options{})
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	mergeStats(t, l, statRows(10, t0, 1))

	raced := false
	res, err := Merge(context.Background(), l, dailyStatsTable, []int32{10}, Upsert, nil, fixed(func(ctx context.Context, p int32) ([]DailyStat, error) {
		if !raced {
			raced = true
			// Another worker commits to the same partition after this merge read the table.
			mergeStats(t, other, []DailyStat{{MediaID: "m07", Date: 10, LoadCount: 7, lineage: lineage{IngestedAt: t0}}})
		}
		return []DailyStat{{MediaID: "m08", Date: 10, LoadCount: 8, lineage: lineage{IngestedAt: t0}}}, nil
	}))
	require.NoError(t, err)
	assert.Equal(t, 2, res.Attempts)

	rows, err := CollectRows(context.Background(), l, dailyStatsTable, iceberg.AlwaysTrue{})
	require.NoError(t, err)
	var media []string
	for _, r := range rows {
		media = append(media, r.MediaID)
	}
	assert.ElementsMatch(t, []string{"m00", "m07", "m08"}, media)
}

// Adding a column to a table is a schema update that keeps its data.
func TestEnsureTablesAddsMissingColumns(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	// Recreate silver.media_daily_stats as an older release had it: without hours_watched.
	ident := l.Identifier(dailyStatsTable)
	require.NoError(t, l.cat.DropTable(ctx, ident))
	full := dailyStatsTable.codec.schema()
	var fields []iceberg.NestedField
	for _, f := range full.Fields() {
		if f.Name != "hours_watched" {
			fields = append(fields, f)
		}
	}
	old := iceberg.NewSchema(0, fields...)
	spec, err := dailyStatsTable.partitionSpec(old)
	require.NoError(t, err)
	_, err = l.cat.CreateTable(ctx, ident, old, catalog.WithPartitionSpec(&spec))
	require.NoError(t, err)
	oldCodec := codec[DailyStat]{}
	for _, c := range dailyStatsTable.codec.columns {
		if c.name != "hours_watched" {
			oldCodec.columns = append(oldCodec.columns, c)
		}
	}
	oldDef := *dailyStatsTable
	oldDef.codec = oldCodec
	_, err = MergeGrouped(ctx, l, &oldDef, Upsert, nil, ByPartition(&oldDef, statRows(10, time.Unix(0, 0), 5)))
	require.NoError(t, err)

	require.NoError(t, l.EnsureTables(ctx))
	tbl, err := l.cat.LoadTable(ctx, ident)
	require.NoError(t, err)
	_, ok := tbl.Schema().FindFieldByName("hours_watched")
	assert.True(t, ok, "hours_watched added")
	rows, err := CollectRows(ctx, l, dailyStatsTable, iceberg.AlwaysTrue{})
	require.NoError(t, err)
	require.Len(t, rows, 1, "the data written before the change is kept")
	assert.Equal(t, int64(5), rows[0].LoadCount)
}

func TestExpireSnapshotsKeepsTheCurrentData(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		mergeStats(t, l, statRows(dates.Date(10+i), t0, 1, 2))
	}
	tbl, err := l.LoadTable(ctx, dailyStatsTable)
	require.NoError(t, err)
	require.Len(t, tbl.Metadata().Snapshots(), 3)

	recent := New(l.cat, l.tables, Options{SnapshotRetention: time.Hour})
	require.NoError(t, recent.ExpireSnapshots(ctx))
	tbl, err = l.LoadTable(ctx, dailyStatsTable)
	require.NoError(t, err)
	assert.Len(t, tbl.Metadata().Snapshots(), 3, "snapshots younger than the retention stay")

	time.Sleep(5 * time.Millisecond)
	expiring := New(l.cat, l.tables, Options{SnapshotRetention: time.Millisecond})
	require.NoError(t, expiring.ExpireSnapshots(ctx))
	tbl, err = l.LoadTable(ctx, dailyStatsTable)
	require.NoError(t, err)
	assert.Len(t, tbl.Metadata().Snapshots(), 1, "only the current snapshot is left")
	rows, err := CollectRows(ctx, l, dailyStatsTable, iceberg.AlwaysTrue{})
	require.NoError(t, err)
	assert.Len(t, rows, 6)
}

// A merge killed before its commit leaves data files no snapshot references. They are
// counted, and deleted once they are orphanAge old; younger ones may be a merge in flight.
func TestExpireSnapshotsDeletesOnlyOldOrphans(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	mergeStats(t, l, statRows(dates.Date(10), t0, 1, 2))
	tbl, err := l.LoadTable(ctx, dailyStatsTable)
	require.NoError(t, err)
	dir := filepath.Join(strings.TrimPrefix(tbl.Location(), "file://"), "data")
	old, young := filepath.Join(dir, "killed-merge.parquet"), filepath.Join(dir, "merge-in-flight.parquet")
	for _, p := range []string{old, young} {
		require.NoError(t, os.WriteFile(p, []byte("PAR1"), 0o644))
	}
	fourDaysAgo := time.Now().Add(-96 * time.Hour)
	require.NoError(t, os.Chtimes(old, fourDaysAgo, fourDaysAgo))

	orphans, err := l.OrphanFiles(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, orphans[dailyStatsTable.TableName()])
	require.NoError(t, l.ExpireSnapshots(ctx))
	assert.NoFileExists(t, old, "an orphan older than orphanAge is deleted")
	assert.FileExists(t, young, "a young unreferenced file may be a merge in flight")
	orphans, err = l.OrphanFiles(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, orphans[dailyStatsTable.TableName()])
	rows, err := CollectRows(ctx, l, dailyStatsTable, iceberg.AlwaysTrue{})
	require.NoError(t, err)
	assert.Len(t, rows, 2, "the table's own files stay")
}

func TestPermuteMovesTheTakenRowsFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 50 {
		rows := make([]string, n)
		for i := range rows {
			rows[i] = fmt.Sprint("row", i)
		}
		take := make([]int32, 0, n)
		for _, i := range r.Perm(n) {
			if r.IntN(3) > 0 {
				take = append(take, int32(i))
			}
		}
		want := make([]string, len(take))
		for j, i := range take {
			want[j] = rows[i]
		}
		rest := map[string]bool{}
		for i, row := range rows {
			if !slices.Contains(take, int32(i)) {
				rest[row] = true
			}
		}
		permute(rows, take)
		assert.Equal(t, want, rows[:len(take)], "n=%d", n)
		for _, row := range rows[len(take):] {
			assert.True(t, rest[row], "n=%d: %s is one of the rows not taken", n, row)
			delete(rest, row)
		}
		assert.Empty(t, rest)
	}
}

// readAhead hands every partition its own load, each loaded once, whether the next partition
// is read ahead or, refused by ahead, only when asked for.
func TestReadAheadLoadsEachPartitionOnce(t *testing.T) {
	ctx := context.Background()
	parts := []int32{1, 2, 3, 4}
	for _, allow := range []bool{true, false} {
		var (
			mu    sync.Mutex
			loads = map[int32]int{}
		)
		load := func(_ context.Context, p int32) (int32, error) {
			mu.Lock()
			defer mu.Unlock()
			loads[p]++
			return p * 10, nil
		}
		next := ReadAhead(parts, load, func(context.Context, int32) bool { return allow })
		for _, p := range parts {
			got, err := next(ctx, p)
			require.NoError(t, err)
			assert.Equal(t, p*10, got)
			if !allow {
				mu.Lock()
				assert.Zero(t, loads[p+1], "partition %d was read ahead though refused", p+1)
				mu.Unlock()
			}
		}
		assert.Equal(t, map[int32]int{1: 1, 2: 1, 3: 1, 4: 1}, loads, "read ahead: %v", allow)
	}
}

// A partition of at least writeLanes×splitRows rows is written as one file per lane, each a
// contiguous range of its rows in key order, and together exactly its rows; a smaller one is
// one file. Merging the same rows again writes the same files' rows.
func TestLargePartitionIsWrittenAsOneFilePerLane(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const big = writeLanes*splitRows + 5
	loads := make([]int64, big)
	for i := range loads {
		loads[i] = int64(i)
	}
	rows := append(statRows(10, t0, loads...), statRows(11, t0, 7, 8)...)

	for run := range 2 {
		res := mergeStats(t, l, rows)
		assert.Equal(t, writeLanes+1, res.FilesAdded, "run %d", run)
		assert.EqualValues(t, big+2, res.RowsWritten, "run %d", run)

		tbl, err := l.LoadTable(ctx, dailyStatsTable)
		require.NoError(t, err)
		files, err := filesByPartition(ctx, tbl, dailyStatsTable, nil)
		require.NoError(t, err)
		require.Len(t, files[10], writeLanes, "run %d", run)
		require.Len(t, files[11], 1, "run %d", run)

		got := map[string]int64{}
		var ranges [][2]string // each file's first and last key, as read
		for _, task := range files[10] {
			part, err := readTasks(ctx, tbl, dailyStatsTable, []table.FileScanTask{task})
			require.NoError(t, err)
			assert.InDelta(t, big/writeLanes, len(part), 1, "run %d: a file holds its share", run)
			assert.True(t, slices.IsSortedFunc(part, func(a, b DailyStat) int { return strings.Compare(a.MediaID, b.MediaID) }), "run %d: a file's rows are in key order", run)
			ranges = append(ranges, [2]string{part[0].MediaID, part[len(part)-1].MediaID})
			for _, r := range part {
				got[r.MediaID] = r.LoadCount
			}
		}
		slices.SortFunc(ranges, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		assert.Less(t, ranges[0][1], ranges[1][0], "run %d: the files' key ranges do not overlap", run)
		want := map[string]int64{}
		for _, r := range rows[:big] {
			want[r.MediaID] = r.LoadCount
		}
		assert.Equal(t, want, got, "run %d", run)
	}
}

// latest of more rows than a sort does on one goroutine keeps, for every key, the row a scan in
// order keeps: the greatest version, and of equal versions the one later in rows.
func TestLatestOfManyRowsAgreesWithAScan(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]DailyStat, 3*splitSortRows+11)
	for i := range rows {
		rows[i] = DailyStat{MediaID: fmt.Sprintf("m%d", r.IntN(len(rows)/3)), Date: dates.Date(r.IntN(2)), LoadCount: int64(i),
			lineage: lineage{IngestedAt: t0.Add(time.Duration(r.IntN(3)) * time.Hour), Source: fmt.Sprintf("k#%d", r.IntN(3))}}
	}
	type key struct {
		media string
		day   dates.Date
	}
	want := map[key]int64{} // the winning row's number
	for i := range rows {
		k := key{rows[i].MediaID, rows[i].Date}
		if w, ok := want[k]; !ok || dailyStatsTable.version(&rows[i], &rows[w]) >= 0 {
			want[k] = int64(i)
		}
	}

	got := Latest(slices.Clone(rows), dailyStatsTable.key, dailyStatsTable.version, nil)
	require.Len(t, got, len(want))
	assert.True(t, slices.IsSortedFunc(got, func(a, b DailyStat) int { return dailyStatsTable.key(&a, &b) }), "sorted by key")
	for _, row := range got {
		assert.Equal(t, want[key{row.MediaID, row.Date}], row.LoadCount, "%s on day %d", row.MediaID, row.Date)
	}
}

// Expiring snapshots day after day on a local warehouse: the manifest of an expiring snapshot
// lists the files an earlier expiry already deleted, and expiry goes on without them.
func TestExpireSnapshotsAgainAfterItDeletedFiles(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	expiring := New(l.cat, l.tables, Options{SnapshotRetention: time.Millisecond})
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 4 { // the same partition rewritten each time, its old file expired after
		mergeStats(t, l, statRows(10, t0.Add(time.Duration(i)*time.Hour), int64(i), 2))
		time.Sleep(5 * time.Millisecond)
		require.NoError(t, expiring.ExpireSnapshots(ctx), "expiry %d", i)
	}
	rows, err := CollectRows(ctx, l, dailyStatsTable, iceberg.AlwaysTrue{})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.ElementsMatch(t, []int64{3, 2}, []int64{rows[0].LoadCount, rows[1].LoadCount})
}

func TestOnlyMissingFilesIsOnlyThat(t *testing.T) {
	missing := &os.PathError{Op: "remove", Path: "/w/a.parquet", Err: syscall.ENOENT}
	denied := &os.PathError{Op: "remove", Path: "/w/b.parquet", Err: syscall.EACCES}
	assert.True(t, onlyMissingFiles(missing))
	assert.True(t, onlyMissingFiles(errors.Join(missing, errors.Join(missing, missing))))
	assert.False(t, onlyMissingFiles(denied))
	assert.False(t, onlyMissingFiles(errors.Join(missing, denied)), "one real failure makes it a failure")
	assert.False(t, onlyMissingFiles(errors.New("commit failed")))
}
