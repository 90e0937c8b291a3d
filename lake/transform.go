package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
)

// TransformReport is what one transform did. It holds counts only, so it fits in a Temporal
// payload.
type TransformReport struct {
	Days        []string       // bronze days merged
	Dates       []string       // dates whose gold facts were recomputed
	Quarantined map[string]int // rows this transform added to silver.quarantine, by stream; records it already held are not counted
	Events      int64          // typed event lines read from bronze
	// PercentOverOne is the distinct events read whose percent_viewed is above 1: kept, but capped
	// at 1 where gold computes watch time.
	PercentOverOne int
	UnknownMedia   int // media no channel rule matched
	// OffZone is the windows whose events fall outside their day in the configured stats zone
	// beyond a stray record: the setting and the account disagree.
	OffZone []OffZoneWindow `json:",omitempty"`
	Merges  []MergeResult
	// Read is the events bronze the merge read, for checking silver against exactly that;
	// it stays in the process (a payload carries counts only).
	Read BronzeRead `json:"-"`
}

// Transform merges the bronze of the given days into silver, then recomputes gold for every
// date the merge touched. Running it again on the same bronze leaves every table with the
// same rows.
//
// Silver merges may run concurrently (a merge that loses a commit race is redone on the
// winner's result). A gold merge that loses a race is redone from silver as it then is, but a
// gold recompute commits its tables one at a time, each from its own read of silver, so
// transforms whose dates overlap must not interleave: the orchestration runs them one at a time.
func (l *Lakehouse) Transform(ctx context.Context, store bronze.Store, days []dates.Date, runID string) (TransformReport, error) {
	rep := TransformReport{Quarantined: map[string]int{}}
	touched, err := l.mergeSilver(ctx, store, days, runID, &rep)
	if err != nil {
		return rep, err
	}
	err = l.RecomputeGold(ctx, touched, runID, &rep)
	return rep, err
}

// MergeSilver merges the bronze of the given days into silver. The report's Dates are the
// dates whose facts the merge touched.
func (l *Lakehouse) MergeSilver(ctx context.Context, store bronze.Store, days []dates.Date, runID string) (TransformReport, error) {
	rep := TransformReport{Quarantined: map[string]int{}}
	_, err := l.mergeSilver(ctx, store, days, runID, &rep)
	return rep, err
}

// Snapshot summary properties a merge sets, for operators reading history (see Commits).
const (
	runIDProperty = "wistia.run-id"
	daysProperty  = "wistia.days"
)

// props are the summary properties of a merge's snapshot.
func (l *Lakehouse) props(runID string, days []dates.Date) iceberg.Properties {
	names := make([]string, len(days))
	for i, d := range days {
		names[i] = d.String()
	}
	return iceberg.Properties{runIDProperty: runID, daysProperty: strings.Join(names, ",")}
}

func (r *TransformReport) add(res MergeResult, err error) error {
	r.Merges = append(r.Merges, res)
	return err
}

// mergeSilver merges the bronze of days into the silver tables, records the days and the
// dates whose facts changed in rep, and returns those dates.
func (l *Lakehouse) mergeSilver(ctx context.Context, store bronze.Store, days []dates.Date, runID string, rep *TransformReport) ([]dates.Date, error) {
	days = slices.Clone(days)
	slices.Sort(days)
	days = slices.Compact(days)
	for _, d := range days {
		rep.Days = append(rep.Days, d.String())
	}
	touched, err := l.mergeSilverTables(ctx, store, days, l.props(runID, days), rep)
	for _, d := range touched {
		rep.Dates = append(rep.Dates, d.String())
	}
	return touched, err
}

// mergeSilverTables merges bronze into each silver table and returns the dates whose facts
// changed.
func (l *Lakehouse) mergeSilverTables(ctx context.Context, store bronze.Store, days []dates.Date, props iceberg.Properties, rep *TransformReport) ([]dates.Date, error) {
	// Events go to the day of their received_at in the stats zone, whichever window listed
	// them, so the merge covers the days next to the windows too (events fall there only when
	// the zone is set wrong); a partition no event falls on is left as it is.
	var windows *eventWindows
	parts := spillPartitions(days)
	res, err := mergeEvents(ctx, l, parts, props, func(context.Context) (eventIncoming, error) {
		windows = newEventWindows(store, l.zone, days) // an attempt redone after a lost race reads again
		return readAhead(parts, windows.partition, windows.ahead), nil
	})
	var (
		quarantined []Quarantined
		filled      []dates.Date
	)
	if windows != nil {
		quarantined, filled = windows.report(rep)
	}
	if err := rep.add(res, err); err != nil {
		return nil, err
	}

	stats, q, err := readStream(ctx, store, bronze.StreamDailyStats, days, typeDailyStat)
	if err != nil {
		return nil, err
	}
	quarantined = append(quarantined, q...)
	statGroups := byPartition(dailyStatsTable, stats)
	if err := rep.add(mergeGrouped(ctx, l, dailyStatsTable, upsert, props, statGroups)); err != nil {
		return nil, err
	}

	medias, q, err := readStream(ctx, store, bronze.StreamMedias, days, typeMedia)
	if err != nil {
		return nil, err
	}
	quarantined = append(quarantined, q...)
	if err := rep.add(mergeGrouped(ctx, l, mediaTable, upsert, props, byPartition(mediaTable, medias))); err != nil {
		return nil, err
	}

	visitors, q, err := readStream(ctx, store, bronze.StreamVisitors, days, typeVisitor)
	if err != nil {
		return nil, err
	}
	quarantined = append(quarantined, q...)
	if err := rep.add(mergeGrouped(ctx, l, visitorsTable, upsert, props, byPartition(visitorsTable, visitors))); err != nil {
		return nil, err
	}

	for i := range quarantined { // as the record came, but for its emails (see PII)
		quarantined[i].Raw = l.pii.scrub(quarantined[i].Raw)
	}

	// Only rows new to silver.quarantine are counted, in the attempt that commits: lines read
	// again (a lookback day, a record landed again) were counted when they were added.
	var added map[string]int
	groups := byPartition(quarantineTable, quarantined)
	res, err = merge(ctx, l, quarantineTable, slices.Collect(maps.Keys(groups)), upsert, props, func(context.Context) (attempt[Quarantined], error) {
		added = map[string]int{}
		return attempt[Quarantined]{incoming: grouped(groups), added: func(q *Quarantined) { added[q.Stream]++ }}, nil
	})
	if err := rep.add(res, err); err != nil {
		return nil, err
	}
	for stream, n := range added {
		rep.Quarantined[stream] += n
	}

	touched := append(slices.Clone(days), filled...)
	for p := range statGroups {
		touched = append(touched, dates.Date(p))
	}
	slices.Sort(touched)
	return slices.Compact(touched), nil
}

func dayParts(days []dates.Date) []int32 {
	parts := make([]int32, len(days))
	for i, d := range days {
		parts[i] = int32(d)
	}
	return parts
}

// dateIn selects the rows of the given days of a date column.
func dateIn(col string, days []dates.Date) iceberg.BooleanExpression {
	if len(days) == 0 {
		return iceberg.AlwaysFalse{}
	}
	lits := make([]iceberg.Date, len(days))
	for i, d := range days {
		lits[i] = iceberg.Date(d)
	}
	return iceberg.IsIn(iceberg.Reference(col), lits...)
}

// collectRows reads all rows of a table matching filter; with fields, only those columns
// (the others are left at their zero value), which spares decoding the rest.
func collectRows[R any](ctx context.Context, l *Lakehouse, t *tableDef[R], filter iceberg.BooleanExpression, fields ...string) ([]R, error) {
	var out []R
	err := readBatches(ctx, l, t, filter, fields, func(n int64) { out = make([]R, 0, n) }, func(rec arrow.RecordBatch) error {
		out = t.codec.decode(rec, out)
		return nil
	})
	return out, err
}

// readBatches plans the files of a table's rows matching filter (only the given fields, when
// any) and streams their batches to visit, releasing each after. Before the first batch it
// tells sized how many rows the planned files hold, so a caller sizes its output once: a day
// of events grown batch by batch would be copied again at every doubling. A table with no
// snapshot has no rows.
func readBatches(ctx context.Context, l *Lakehouse, t tableInfo, filter iceberg.BooleanExpression, fields []string,
	sized func(rows int64), visit func(arrow.RecordBatch) error) error {
	tbl, err := l.cat.LoadTable(ctx, l.identifier(t))
	if err != nil || tbl.CurrentSnapshot() == nil {
		return err
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
func (l *Lakehouse) ExpireSnapshots(ctx context.Context) error {
	for _, t := range allTables {
		tbl, err := l.cat.LoadTable(ctx, l.identifier(t))
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
func (l *Lakehouse) OrphanFiles(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range allTables {
		tbl, err := l.cat.LoadTable(ctx, l.identifier(t))
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

// maxManifests bounds a table's data manifests. Every merge commit adds one, and planning a
// merge and committing it read them all, so without compaction a year of daily runs makes each
// run several times slower than the first (BenchmarkDailyTransformOnHistory).
const maxManifests = 16

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
	if err != nil || len(manifests) <= maxManifests {
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
