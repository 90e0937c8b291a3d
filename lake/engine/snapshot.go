package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// Snapshot is a table as the catalog held it when it was loaded: every read through it sees
// that snapshot's rows, whatever is committed after, so a reader caching rows by ID never
// files newer rows under an older ID.
type Snapshot[R any] struct {
	def *Table[R]
	tbl *table.Table
}

// LoadSnapshot loads R's table as the catalog holds it now: one catalog load, no data file read.
func LoadSnapshot[R any](ctx context.Context, l *Warehouse) (Snapshot[R], error) {
	def, err := TableOf[R](l)
	if err != nil {
		return Snapshot[R]{}, err
	}
	tbl, err := l.LoadTable(ctx, def)
	if err != nil {
		return Snapshot[R]{}, fmt.Errorf("load %s: %w", def.TableName(), err)
	}
	return Snapshot[R]{def: def, tbl: tbl}, nil
}

// ID is the snapshot's id; 0 for a table never written.
func (s Snapshot[R]) ID() int64 {
	if snap := s.tbl.CurrentSnapshot(); snap != nil {
		return snap.SnapshotID
	}
	return 0
}

// CommittedAt is when the snapshot was committed; the zero time for a table never written.
func (s Snapshot[R]) CommittedAt() time.Time {
	if snap := s.tbl.CurrentSnapshot(); snap != nil {
		return time.UnixMilli(snap.TimestampMs).UTC()
	}
	return time.Time{}
}

// Rows returns the snapshot's rows, sorted by key. Day-partitioned tables are limited to the
// days from..to (inclusive) when both are set; entity tables are returned whole.
func (s Snapshot[R]) Rows(ctx context.Context, from, to dates.Date) ([]R, error) {
	var filter iceberg.BooleanExpression = iceberg.AlwaysTrue{}
	if !s.def.bucketed && !from.IsZero() && !to.IsZero() {
		filter = dateBetween(s.def.partCol, from, to)
	}
	rows, err := collectRows(ctx, s.tbl, s.def, filter, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.def.TableName(), err)
	}
	slices.SortStableFunc(rows, func(a, b R) int { return s.def.key(&a, &b) })
	return rows, nil
}

// Part is one partition of a snapshot: a day, or a bucket of an entity table, and its data
// files. Files written once are never changed, so two snapshots whose partition lists the same
// files hold the same rows there.
type Part struct {
	Value int32    // the day (a dates.Date) or the bucket
	Files []string // the data files' paths, sorted
	Rows  int64    // the rows the files hold
	tasks []table.FileScanTask
}

// Parts lists the snapshot's partitions that hold data files, in partition order. It reads
// the manifests, not the data files.
func (s Snapshot[R]) Parts(ctx context.Context) ([]Part, error) {
	byPart, err := filesByPartition(ctx, s.tbl, s.def, nil)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", s.def.TableName(), err)
	}
	out := make([]Part, 0, len(byPart))
	for v, tasks := range byPart {
		p := Part{Value: v, tasks: tasks}
		for _, task := range tasks {
			p.Files = append(p.Files, task.File.FilePath())
			p.Rows += task.File.Count()
		}
		slices.Sort(p.Files)
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Part) int { return cmp.Compare(a.Value, b.Value) })
	return out, nil
}

// PartOf is the partition a row belongs in: its day, or the bucket of its key.
func (s Snapshot[R]) PartOf(r *R) int32 { return s.def.partOf(r) }

// ScanParts streams the rows of the given partitions to visit, a batch at a time and in no
// particular order; visit may keep the slice. With fields, only those columns are read (the
// others are left at their zero value). All the partitions' files are read in one scan, so
// they are read in parallel.
func (s Snapshot[R]) ScanParts(ctx context.Context, parts []Part, visit func(rows []R) error, fields ...string) error {
	var tasks []table.FileScanTask
	for _, p := range parts {
		tasks = append(tasks, p.tasks...)
	}
	if len(tasks) == 0 {
		return nil
	}
	var opts []table.ScanOption
	if len(fields) > 0 {
		opts = append(opts, table.WithSelectedFields(fields...))
	}
	scan := s.tbl.Scan(opts...)
	defer scan.Close()
	err := readScanTasks(ctx, scan, tasks, func(rec arrow.RecordBatch) error {
		return visit(s.def.codec.decode(rec, nil))
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", s.def.TableName(), err)
	}
	return nil
}
