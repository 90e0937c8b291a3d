package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/marketing-data/wistia-pipeline/dates"
)

// ReadRows returns the rows of R's table as the catalog holds it now, sorted by key.
// Day-partitioned tables are limited to the days from..to (inclusive) when both are set;
// entity tables are returned whole.
func ReadRows[R any](ctx context.Context, l *Warehouse, from, to dates.Date) ([]R, error) {
	snap, err := LoadSnapshot[R](ctx, l)
	if err != nil {
		return nil, err
	}
	return snap.Rows(ctx, from, to)
}

// TableOf is the warehouse's table of rows of type R.
func TableOf[R any](l *Warehouse) (*Table[R], error) {
	for _, t := range l.tables {
		if def, ok := t.(interface{ table() *Table[R] }); ok {
			return def.table(), nil
		}
	}
	var r R
	return nil, fmt.Errorf("no table of the warehouse holds rows of type %T", r)
}

func dateBetween(col string, from, to dates.Date) iceberg.BooleanExpression {
	return iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference(col), iceberg.Date(from)),
		iceberg.LessThanEqual(iceberg.Reference(col), iceberg.Date(to)))
}

// Result is a table's rows in column order, for operators: values are strings, numbers,
// booleans, or nil.
type Result struct {
	Table   string
	Columns []string
	Rows    [][]any
}

// Read returns the rows of the table named "<layer>.<name>" (see TableNames), limited to the
// days from..to on day-partitioned tables when both are set, and to the first limit rows when
// limit is positive: reading stops there.
func (l *Warehouse) Read(ctx context.Context, name string, from, to dates.Date, limit int) (*Result, error) {
	info, err := l.tableNamed(name)
	if err != nil {
		return nil, err
	}
	tbl, err := l.LoadTable(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	res := &Result{Table: name}
	for _, f := range tbl.Schema().Fields() {
		res.Columns = append(res.Columns, f.Name)
	}
	if tbl.CurrentSnapshot() == nil {
		return res, nil
	}
	var filter iceberg.BooleanExpression = iceberg.AlwaysTrue{}
	if _, ok := tbl.Schema().FindFieldByName("date"); ok && !from.IsZero() && !to.IsZero() {
		filter = dateBetween("date", from, to)
	}
	opts := []table.ScanOption{table.WithRowFilter(filter)}
	if limit > 0 {
		opts = append(opts, table.WithLimit(int64(limit)))
	}
	scan := tbl.Scan(opts...)
	defer scan.Close()
	_, batches, err := scan.ToArrowRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	for rec, err := range batches {
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		for i := range int(rec.NumRows()) {
			if limit > 0 && len(res.Rows) == limit {
				break
			}
			row := make([]any, rec.NumCols())
			for j, col := range rec.Columns() {
				if !col.IsNull(i) {
					row[j] = col.GetOneForMarshal(i)
				}
			}
			res.Rows = append(res.Rows, row)
		}
		rec.Release()
		if limit > 0 && len(res.Rows) == limit {
			break
		}
	}
	return res, nil
}

// DataFiles lists a table's current data files by partition ("YYYY-MM-DD" or "bucket=N").
func (l *Warehouse) DataFiles(ctx context.Context, name string) (map[string][]string, error) {
	info, err := l.tableNamed(name)
	if err != nil {
		return nil, err
	}
	return info.dataFiles(ctx, l)
}

// tableNamed finds a table by its "<layer>.<name>".
func (l *Warehouse) tableNamed(name string) (Info, error) {
	for _, t := range l.tables {
		if t.TableName() == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("unknown table %q: the tables are %s", name, strings.Join(l.TableNames(), ", "))
}

// Commit is one snapshot of a table, as its history shows it.
type Commit struct {
	SnapshotID int64     `json:"snapshot_id"`
	At         time.Time `json:"at"`
	Operation  string    `json:"operation"`
	RunID      string    `json:"run_id,omitempty"` // the pipeline run that committed it
	Days       []string  `json:"days,omitempty"`   // the days it merged
}

// Commits lists the snapshots a table still holds (see ExpireSnapshots), oldest first: which
// run merged which days, for operators and for tests that count merges. Metadata keeps
// snapshots in commit order.
func (l *Warehouse) Commits(ctx context.Context, name string) ([]Commit, error) {
	info, err := l.tableNamed(name)
	if err != nil {
		return nil, err
	}
	tbl, err := l.LoadTable(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", name, err)
	}
	var out []Commit
	for _, s := range tbl.Metadata().Snapshots() {
		c := Commit{SnapshotID: s.SnapshotID, At: time.UnixMilli(s.TimestampMs).UTC()}
		if s.Summary != nil {
			c.Operation = string(s.Summary.Operation)
			c.RunID = s.Summary.Properties[runIDProperty]
			if days := s.Summary.Properties[daysProperty]; days != "" {
				c.Days = strings.Split(days, ",")
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func (t *Table[R]) dataFiles(ctx context.Context, l *Warehouse) (map[string][]string, error) {
	tbl, err := l.LoadTable(ctx, t)
	if err != nil {
		return nil, err
	}
	byPart, err := filesByPartition(ctx, tbl, t, nil)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for p, tasks := range byPart {
		name := dates.Date(p).String()
		if t.bucketed {
			name = fmt.Sprintf("bucket=%d", p)
		}
		for _, task := range tasks {
			out[name] = append(out[name], task.File.FilePath())
		}
		slices.Sort(out[name])
	}
	return out, nil
}

// Snapshot summary properties a merge sets, for operators reading history (see Commits).
const (
	runIDProperty = "wistia.run-id"
	daysProperty  = "wistia.days"
)

// SnapshotProps are the summary properties of a merge's snapshot: the run and the days.
func SnapshotProps(runID string, days []dates.Date) iceberg.Properties {
	names := make([]string, len(days))
	for i, d := range days {
		names[i] = d.String()
	}
	return iceberg.Properties{runIDProperty: runID, daysProperty: strings.Join(names, ",")}
}
