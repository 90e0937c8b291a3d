package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/marketing-data/wistia-pipeline/dates"
)

func DayParts(days []dates.Date) []int32 {
	parts := make([]int32, len(days))
	for i, d := range days {
		parts[i] = int32(d)
	}
	return parts
}

// DateIn selects the rows of the given days of a date column.
func DateIn(col string, days []dates.Date) iceberg.BooleanExpression {
	if len(days) == 0 {
		return iceberg.AlwaysFalse{}
	}
	lits := make([]iceberg.Date, len(days))
	for i, d := range days {
		lits[i] = iceberg.Date(d)
	}
	return iceberg.IsIn(iceberg.Reference(col), lits...)
}

// CollectRows reads all rows of a table matching filter; with fields, only those columns
// (the others are left at their zero value), which spares decoding the rest.
func CollectRows[R any](ctx context.Context, l *Warehouse, t *Table[R], filter iceberg.BooleanExpression, fields ...string) ([]R, error) {
	tbl, err := l.LoadTable(ctx, t)
	if err != nil {
		return nil, err
	}
	return collectRows(ctx, tbl, t, filter, fields)
}

// collectRows is CollectRows on a table already loaded.
func collectRows[R any](ctx context.Context, tbl *table.Table, t *Table[R], filter iceberg.BooleanExpression, fields []string) ([]R, error) {
	var out []R
	err := readBatches(ctx, tbl, filter, fields, func(n int64) { out = make([]R, 0, n) }, func(rec arrow.RecordBatch) error {
		out = t.codec.decode(rec, out)
		return nil
	})
	return out, err
}

// ReadBatches plans the files of a table's rows matching filter (only the given fields, when
// any) and streams their batches to visit, releasing each after. Before the first batch it
// tells sized how many rows the planned files hold, so a caller sizes its output once: a day
// of events grown batch by batch would be copied again at every doubling. A table with no
// snapshot has no rows.
func ReadBatches(ctx context.Context, l *Warehouse, t Info, filter iceberg.BooleanExpression, fields []string,
	sized func(rows int64), visit func(arrow.RecordBatch) error) error {
	tbl, err := l.LoadTable(ctx, t)
	if err != nil {
		return err
	}
	return readBatches(ctx, tbl, filter, fields, sized, visit)
}

// readBatches is ReadBatches on a table already loaded.
func readBatches(ctx context.Context, tbl *table.Table, filter iceberg.BooleanExpression, fields []string,
	sized func(rows int64), visit func(arrow.RecordBatch) error) error {
	if tbl.CurrentSnapshot() == nil {
		return nil
	}
	opts := []table.ScanOption{table.WithRowFilter(filter)}
	if len(fields) > 0 {
		opts = append(opts, table.WithSelectedFields(fields...))
	}
	scan := tbl.Scan(opts...)
	defer scan.Close()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return err
	}
	var n int64
	for _, task := range tasks {
		n += task.File.Count()
	}
	sized(n)
	return readScanTasks(ctx, scan, tasks, visit)
}

// ExpireSnapshots drops snapshots older than the retention from every table (keeping each
// table's current one), deletes the files only they referenced, and compacts the manifests of a
// table that has gathered more than maxManifests.
func (l *Warehouse) ExpireSnapshots(ctx context.Context) error {
	for _, t := range l.tables {
		tbl, err := l.LoadTable(ctx, t)
		if err != nil {
			return fmt.Errorf("expire snapshots of %s: %w", t.TableName(), err)
		}
		tx := tbl.NewTransaction()
		if err := tx.ExpireSnapshots(table.WithOlderThan(l.retention), table.WithRetainLast(1)); err != nil {
			return fmt.Errorf("expire snapshots of %s: %w", t.TableName(), err)
		}
		if tbl, err = tx.Commit(ctx); err != nil && (tbl == nil || !onlyMissingFiles(err)) {
			return fmt.Errorf("expire snapshots of %s: %w", t.TableName(), err)
		}
		if err := compactManifests(ctx, tbl); err != nil {
			return fmt.Errorf("compact the manifests of %s: %w", t.TableName(), err)
		}
		if _, err := tbl.DeleteOrphanFiles(ctx, table.WithFilesOlderThan(orphanAge)); err != nil {
			return fmt.Errorf("delete the orphan files of %s: %w", t.TableName(), err)
		}
	}
	return nil
}

// orphanAge is how old a file that no snapshot references must be before ExpireSnapshots
// deletes it. A merge writes its files before it commits them, so a young unreferenced file
// may be a merge in flight; one this old was left by a merge that died (a killed worker, a
// lost commit race) and will never be committed.
const orphanAge = 72 * time.Hour

// onlyMissingFiles reports an error made only of files that were not there to delete. Once an
// expiry has committed, iceberg-go deletes the expired snapshots' files, among them those a
// manifest lists as removed, which an earlier expiry deleted already. S3 deletes a missing key
// without an error; a local warehouse's file system does not, and expiry failed there from its
// third day on.
func onlyMissingFiles(err error) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if !onlyMissingFiles(e) {
				return false
			}
		}
		return len(joined.Unwrap()) > 0
	}
	return errors.Is(err, fs.ErrNotExist)
}

// OrphanFiles counts, by table, the files under each table's location that no snapshot
// references, whatever their age: what died merges left behind, until ExpireSnapshots
// deletes them at orphanAge.
func (l *Warehouse) OrphanFiles(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range l.tables {
		tbl, err := l.LoadTable(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("orphan files of %s: %w", t.TableName(), err)
		}
		plan, err := tbl.PlanOrphanFiles(ctx, table.WithFilesOlderThan(0))
		if err != nil {
			return nil, fmt.Errorf("orphan files of %s: %w", t.TableName(), err)
		}
		out[t.TableName()] = len(plan.Files())
	}
	return out, nil
}

// MaxManifests bounds a table's data manifests. Every merge commit adds one, and planning a
// merge and committing it read them all, so without compaction a year of daily runs makes each
// run several times slower than the first (BenchmarkDailyTransformOnHistory).
const MaxManifests = 16

// compactManifests rewrites the manifests of a table that has more than maxManifests. Those of
// a date-partitioned table are grouped by month, so a day's merge plans and rewrites the
// manifest of its month and skips the others by their partition summaries.
func compactManifests(ctx context.Context, tbl *table.Table) error {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return err
	}
	manifests, err := snap.Manifests(fs)
	if err != nil || len(manifests) <= MaxManifests {
		return err
	}
	var opts []table.RewriteManifestsOpt
	if spec := tbl.Spec(); spec.NumFields() == 1 {
		if _, identity := spec.Field(0).Transform.(iceberg.IdentityTransform); identity {
			opts = append(opts, table.WithRewriteManifestClusterBy(func(df iceberg.DataFile) any {
				day, err := filePartition(spec, df)
				if err != nil {
					return "" // not a date: one group for whatever it is
				}
				return dates.Date(day).Time().Format("2006-01")
			}))
		}
	}
	tx := tbl.NewTransaction()
	res, err := tx.RewriteManifests(ctx, opts...)
	if err != nil || res.IsNoOp() {
		return err
	}
	_, err = tx.Commit(ctx)
	return err
}
