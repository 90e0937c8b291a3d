package engine

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statsTable loads the daily stats table as it is now.
func statsTable(t *testing.T, l *Warehouse) *table.Table {
	t.Helper()
	tbl, err := l.LoadTable(context.Background(), dailyStatsTable)
	require.NoError(t, err)
	return tbl
}

// currentManifests lists the manifests of tbl's current snapshot.
func currentManifests(t *testing.T, tbl *table.Table) []iceberg.ManifestFile {
	t.Helper()
	fs, err := tbl.FS(context.Background())
	require.NoError(t, err)
	manifests, err := tbl.CurrentSnapshot().Manifests(fs)
	require.NoError(t, err)
	return manifests
}

// localPath is the file behind a file:// location of the test's warehouse.
func localPath(t *testing.T, location string) string {
	t.Helper()
	u, err := url.Parse(location)
	require.NoError(t, err)
	return u.Path
}

// metadataFiles counts the files under tbl's metadata directory.
func metadataFiles(t *testing.T, tbl *table.Table) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(localPath(t, tbl.Location()), "metadata"))
	require.NoError(t, err)
	return len(entries)
}

// A merge's commit reads only the manifests whose partition summary may list a file it
// replaces. Here the manifests of a month the merge does not touch are deleted from storage:
// the merge of a day of the next month commits all the same, and carries them over unread.
func TestCommitReadsNoManifestOfAMonthItDoesNotTouch(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	firstOfDecember := dates.DateOf(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	for d := firstOfDecember - 20; d < firstOfDecember+5; d++ { // a commit a day, as daily runs make them
		mergeStats(t, l, statRows(d, t0, 1, 2, 3))
	}
	require.NoError(t, compactManifests(ctx, statsTable(t, l)))

	var november []string
	for _, m := range currentManifests(t, statsTable(t, l)) {
		if hi, ok := int32Bound(m.Partitions()[0].UpperBound); ok && dates.Date(hi) < firstOfDecember {
			november = append(november, m.FilePath())
			require.NoError(t, os.Remove(localPath(t, m.FilePath())))
		}
	}
	require.NotEmpty(t, november, "compaction groups the manifests by month")

	day := firstOfDecember + 2
	res := mergeStats(t, l, statRows(day, t0.Add(time.Hour), 7, 8, 9))
	assert.Equal(t, 1, res.Partitions)

	tbl := statsTable(t, l)
	var listed []string
	for _, m := range currentManifests(t, tbl) {
		listed = append(listed, m.FilePath())
	}
	assert.Subset(t, listed, november, "November's manifests are carried over")
	files, err := filesByPartition(ctx, tbl, dailyStatsTable, []int32{int32(day)})
	require.NoError(t, err)
	got, err := readTasks(ctx, tbl, dailyStatsTable, files[int32(day)])
	require.NoError(t, err)
	loads := map[string]int64{}
	for _, r := range got {
		loads[r.MediaID] = r.LoadCount
	}
	assert.Equal(t, map[string]int64{"m00": 7, "m01": 8, "m02": 9}, loads)
}

// The snapshot a merge commits counts the table's files and rows as a scan of the table finds
// them, and what it added and removed as the scans before and after it differ; it names its
// operation and carries the run's properties.
func TestCommitSummaryCountsTheTablesFiles(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	run := iceberg.Properties{runIDProperty: "run-7"}
	merge := func(op table.Operation, rows []DailyStat) {
		t.Helper()
		before := plannedFiles(t, statsTable(t, l))
		_, err := MergeGrouped(ctx, l, dailyStatsTable, Upsert, run, ByPartition(dailyStatsTable, rows))
		require.NoError(t, err)
		tbl := statsTable(t, l)
		after := plannedFiles(t, tbl)
		s := tbl.CurrentSnapshot().Summary
		assert.Equal(t, op, s.Operation)
		assert.Equal(t, "run-7", s.Properties[runIDProperty])
		assert.Equal(t, "0", s.Properties["total-delete-files"])
		sum := func(files map[string]iceberg.DataFile, key string) {
			t.Helper()
			var n, rows, bytes int64
			for _, f := range files {
				n, rows, bytes = n+1, rows+f.Count(), bytes+f.FileSizeBytes()
			}
			counts := map[string]int64{key + "-data-files": n, key + "-records": rows, key + "-files-size": bytes}
			if key == "deleted" {
				counts = map[string]int64{"deleted-data-files": n, "deleted-records": rows, "removed-files-size": bytes}
			}
			for k, v := range counts {
				got := s.Properties.GetInt64(k, 0)
				assert.Equal(t, v, got, k)
			}
		}
		sum(after, "total")
		sum(minus(after, before), "added")
		sum(minus(before, after), "deleted")
	}
	merge(table.OpAppend, append(statRows(1, t0, 1, 2), statRows(2, t0, 3)...)) // the first commit
	merge(table.OpAppend, statRows(3, t0, 4, 5, 6))                             // a new partition only
	merge(table.OpOverwrite, statRows(1, t0.Add(time.Hour), 10, 20, 30))        // day 1 replaced, a row more
	merge(table.OpOverwrite, append(statRows(2, t0.Add(time.Hour), 40), statRows(3, t0.Add(time.Hour), 50)...))
	assert.Len(t, plannedFiles(t, statsTable(t, l)), 3)
}

// plannedFiles is the data files a scan of tbl plans, by path.
func plannedFiles(t *testing.T, tbl *table.Table) map[string]iceberg.DataFile {
	t.Helper()
	out := map[string]iceberg.DataFile{}
	if tbl.CurrentSnapshot() == nil {
		return out
	}
	tasks, err := tbl.Scan().PlanFiles(context.Background())
	require.NoError(t, err)
	for _, task := range tasks {
		out[task.File.FilePath()] = task.File
	}
	return out
}

// minus is the files of a that b does not hold.
func minus(a, b map[string]iceberg.DataFile) map[string]iceberg.DataFile {
	out := map[string]iceberg.DataFile{}
	for path, f := range a {
		if _, ok := b[path]; !ok {
			out[path] = f
		}
	}
	return out
}

// Merging one partition over and over keeps the number of manifests flat: a manifest whose
// files were all replaced is dropped by the next commit.
func TestCommitDropsManifestsWithNoLiveFile(t *testing.T) {
	l := testLakehouse(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 6 {
		mergeStats(t, l, statRows(5, t0.Add(time.Duration(i)*time.Hour), int64(i), 1))
	}
	// The last commit's files, and the files it replaced, listed as DELETED.
	assert.Len(t, currentManifests(t, statsTable(t, l)), 2)
}

// A commit that names a file the table does not hold is refused before anything is committed,
// and leaves no file behind.
func TestCommitRefusesToRemoveAFileTheTableDoesNotHold(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	mergeStats(t, l, statRows(5, t0, 1, 2))
	tbl := statsTable(t, l)
	before := metadataFiles(t, tbl)

	stranger, err := iceberg.NewDataFileBuilder(tbl.Spec(), iceberg.EntryContentData,
		tbl.Location()+"/data/not-ours.parquet", iceberg.ParquetFile, map[int]any{1000: int32(5)}, nil, nil, 1, 100)
	require.NoError(t, err)
	err = replaceFiles(ctx, l.cat, tbl, []iceberg.DataFile{stranger.Build()}, nil, nil)
	require.ErrorContains(t, err, "1 of the 1 data files to remove are not in the table")
	assert.False(t, isStaleBase(err))

	after := statsTable(t, l)
	assert.Equal(t, tbl.CurrentSnapshot().SnapshotID, after.CurrentSnapshot().SnapshotID)
	assert.Equal(t, before, metadataFiles(t, after), "no manifest is left behind")
}

// A commit on a table that changed since it was read is refused as stale, so the merge redoes
// it, and deletes what it wrote: its manifests and the data files it would have added.
func TestCommitOnAStaleTableIsRefusedAndCleansUp(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	mergeStats(t, l, statRows(5, t0, 1, 2))
	stale := statsTable(t, l)
	files, err := filesByPartition(ctx, stale, dailyStatsTable, []int32{5})
	require.NoError(t, err)
	mergeStats(t, l, statRows(5, t0.Add(time.Hour), 3, 4)) // another merge commits first
	before := metadataFiles(t, stale)

	// The files the stale merge would add: the current ones, copied.
	var added []iceberg.DataFile
	for _, task := range files[5] {
		src := localPath(t, task.File.FilePath())
		dst := src + ".copy.parquet"
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dst, data, 0o644))
		b, err := iceberg.NewDataFileBuilder(stale.Spec(), iceberg.EntryContentData, "file://"+dst, iceberg.ParquetFile,
			task.File.Partition(), nil, nil, task.File.Count(), task.File.FileSizeBytes())
		require.NoError(t, err)
		added = append(added, b.Build())
	}
	err = replaceFiles(ctx, l.cat, stale, []iceberg.DataFile{files[5][0].File}, added, nil)
	require.Error(t, err)
	assert.True(t, isStaleBase(err), "refused as stale: %v", err)
	assert.Equal(t, before, metadataFiles(t, stale), "the refused commit's manifests are deleted")
	for _, f := range added {
		assert.NoFileExists(t, localPath(t, f.FilePath()))
	}
}

// A merge moves the main branch and keeps the retention an operator set on it.
func TestCommitKeepsTheMainBranchsRetention(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	mergeStats(t, l, statRows(5, t0, 1, 2))
	tbl := statsTable(t, l)
	_, _, err := l.cat.CommitTable(ctx, tbl.Identifier(), nil, []table.Update{
		table.NewSetSnapshotRefUpdate(table.MainBranch, tbl.CurrentSnapshot().SnapshotID, table.BranchRef, 0, 86_400_000, 5)})
	require.NoError(t, err)

	mergeStats(t, l, statRows(5, t0.Add(time.Hour), 3, 4))
	after := statsTable(t, l)
	require.NotEqual(t, tbl.CurrentSnapshot().SnapshotID, after.CurrentSnapshot().SnapshotID)
	for name, ref := range after.Metadata().Refs() {
		if name == table.MainBranch {
			assert.Equal(t, after.CurrentSnapshot().SnapshotID, ref.SnapshotID)
			require.NotNil(t, ref.MinSnapshotsToKeep)
			assert.Equal(t, 5, *ref.MinSnapshotsToKeep)
			require.NotNil(t, ref.MaxSnapshotAgeMs)
			assert.EqualValues(t, 86_400_000, *ref.MaxSnapshotAgeMs)
		}
	}
}

// Once the snapshots before a merge expire, the data files it replaced are deleted from
// storage, the files it added stay, and no file of the table is left unreferenced.
func TestFilesAMergeReplacedAreDeletedWhenTheirSnapshotsExpire(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	mergeStats(t, l, append(statRows(5, t0, 1, 2), statRows(6, t0, 3)...))
	replaced := plannedFiles(t, statsTable(t, l))
	mergeStats(t, l, statRows(5, t0.Add(time.Hour), 4, 5)) // replaces day 5's file
	current := plannedFiles(t, statsTable(t, l))
	gone := minus(replaced, current)
	require.Len(t, gone, 1)

	time.Sleep(5 * time.Millisecond)
	expiring := New(l.cat, l.tables, Options{SnapshotRetention: time.Millisecond})
	require.NoError(t, expiring.ExpireSnapshots(ctx))
	for path := range gone {
		assert.NoFileExists(t, localPath(t, path), "a replaced file is deleted")
	}
	for path := range current {
		assert.FileExists(t, localPath(t, path), "a current file stays")
	}
	orphans, err := l.OrphanFiles(ctx)
	require.NoError(t, err)
	assert.Zero(t, orphans[dailyStatsTable.TableName()], "no file is left that no snapshot references")
}
