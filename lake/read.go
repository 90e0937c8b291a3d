package lake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/marketing-data/wistia-pipeline/internal/dates"
)

// Row is any row type of the pipeline's tables.
type Row interface {
	Event | Media | DailyStat | Visitor | Quarantined | DimMedia | DimVisitor | FactEngagement | FactMediaDaily
}

// ReadRows returns the rows of R's table, sorted by key. Day-partitioned tables are limited to
// the days from..to (inclusive) when both are set; entity tables are returned whole.
func ReadRows[R Row](ctx context.Context, l *Lakehouse, from, to time.Time) ([]R, error) {
	var def *tableDef[R]
	switch t := any(&def).(type) {
	case **tableDef[Event]:
		*t = eventsTable
	case **tableDef[Media]:
		*t = mediaTable
	case **tableDef[DailyStat]:
		*t = dailyStatsTable
	case **tableDef[Visitor]:
		*t = visitorsTable
	case **tableDef[Quarantined]:
		*t = quarantineTable
	case **tableDef[DimMedia]:
		*t = dimMediaTable
	case **tableDef[DimVisitor]:
		*t = dimVisitorTable
	case **tableDef[FactEngagement]:
		*t = engagementTable
	case **tableDef[FactMediaDaily]:
		*t = mediaDailyTable
	}
	var filter iceberg.BooleanExpression = iceberg.AlwaysTrue{}
	if !def.bucketed && !from.IsZero() && !to.IsZero() {
		filter = dateBetween(def.partCol, from, to)
	}
	rows, err := collectRows(ctx, l, def, filter)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", def.TableName(), err)
	}
	slices.SortStableFunc(rows, func(a, b R) int { return def.key(&a, &b) })
	return rows, nil
}

func dateBetween(col string, from, to time.Time) iceberg.BooleanExpression {
	return iceberg.NewAnd(
		iceberg.GreaterThanEqual(iceberg.Reference(col), iceberg.Date(dates.DateOf(from))),
		iceberg.LessThanEqual(iceberg.Reference(col), iceberg.Date(dates.DateOf(to))))
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
func (l *Lakehouse) Read(ctx context.Context, name string, from, to time.Time, limit int) (*Result, error) {
	info, err := tableNamed(name)
	if err != nil {
		return nil, err
	}
	tbl, err := l.cat.LoadTable(ctx, l.identifier(info))
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
func (l *Lakehouse) DataFiles(ctx context.Context, name string) (map[string][]string, error) {
	info, err := tableNamed(name)
	if err != nil {
		return nil, err
	}
	return info.dataFiles(ctx, l)
}

// tableNamed finds a table by its "<layer>.<name>".
func tableNamed(name string) (tableInfo, error) {
	for _, t := range allTables {
		if t.TableName() == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("unknown table %q: the tables are %s", name, strings.Join(TableNames(), ", "))
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
func (l *Lakehouse) Commits(ctx context.Context, name string) ([]Commit, error) {
	info, err := tableNamed(name)
	if err != nil {
		return nil, err
	}
	tbl, err := l.cat.LoadTable(ctx, l.identifier(info))
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

func (t *tableDef[R]) dataFiles(ctx context.Context, l *Lakehouse) (map[string][]string, error) {
	tbl, err := l.cat.LoadTable(ctx, l.identifier(t))
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
