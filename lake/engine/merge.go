package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/marketing-data/wistia-pipeline/dates"
)

// A merge is copy-on-write of whole partitions: for each touched partition, the rows it holds
// are read, merged with the incoming rows in memory (latest version of each key wins), and
// written as new files; one commit then swaps exactly the files that were read for the new
// ones. Replacing whole files keeps the tables free of delete files (and of iceberg-go issue
// #2042), and memory is bounded by one partition because partitions are worked one at a time.

// mergeMode says what a partition's new content is.
type mergeMode int

const (
	// upsert keeps the partition's rows and lets incoming rows replace those with their key.
	Upsert mergeMode = iota
	// replace makes the incoming rows the partition's whole content (gold recomputes).
	Replace
)

// BatchRows is the number of rows per Arrow batch handed to the Parquet writer.
const BatchRows = 16 << 10

// rowGroupRows bounds a Parquet row group: a day of events makes row groups of tens of
// megabytes, the size Athena reads best, where 64K-row groups were a few each (and writing
// them cost more: bench-peer 1M went from 5.4 s to 5.1-5.2 s).
const rowGroupRows = 512 << 10

// queuedBatches is how many built batches may wait for the Parquet writer: enough to build the
// next while one is written. iceberg-go queues 64 by default, which let a day's batches (a
// hundred megabytes) pile up in front of the writer.
const queuedBatches = 2

// maxCommitAttempts bounds how often a merge is redone after losing a commit race.
const maxCommitAttempts = 10

// MergeResult reports one table merge.
type MergeResult struct {
	Table        string
	Partitions   int   // partitions rewritten
	RowsIn       int64 // incoming rows, before dedupe
	RowsWritten  int64 // rows in the rewritten partitions
	FilesRemoved int
	FilesAdded   int
	Attempts     int // commit attempts; more than 1 when a concurrent merge won a race
	Duration     time.Duration
}

// incomingFunc returns the incoming rows of one partition. It is called once per partition
// of an attempt, in the order of the partitions, so a caller can stream its input by partition.
type incomingFunc[R any] func(ctx context.Context, part int32) ([]R, error)

// Attempt is what one try at a merge brings in. When added is set, an upsert calls it with
// each row it writes under a key its partition did not hold; it is called in attempts whose
// commit is then refused too.
type Attempt[R any] struct {
	Incoming incomingFunc[R]
	Added    func(*R)
}

// prepareFunc readies one attempt of a merge. merge calls it at the start of every attempt,
// after reading the table's current snapshot, so rows it derives from other tables are read no
// earlier than those of the commits the attempt replaces, and an attempt redone after losing a
// race derives them again. State it keeps per attempt (counts) it resets there; once merge
// returns, the last attempt is the one that committed.
type prepareFunc[R any] func(ctx context.Context) (Attempt[R], error)

// fixed prepares every attempt with the same incoming rows, for rows that do not derive from
// the lakehouse's tables (bronze, rows already in memory).
func fixed[R any](incoming incomingFunc[R]) prepareFunc[R] {
	return func(context.Context) (Attempt[R], error) { return Attempt[R]{Incoming: incoming}, nil }
}

// Merge merges incoming rows into the given partitions of a table, retrying from a fresh read
// (and a fresh prepare) when a concurrent commit changed the table underneath.
func Merge[R any](ctx context.Context, l *Warehouse, t *Table[R], parts []int32, mode mergeMode, props iceberg.Properties, prepare prepareFunc[R]) (MergeResult, error) {
	return MergeParts(ctx, l, t, parts, props, func(ctx context.Context, tbl *table.Table, schema *arrow.Schema) (RewriteFunc, func(), error) {
		a, err := prepare(ctx)
		if err != nil {
			return nil, nil, err
		}
		enc, err := t.codec.Encoder(schema, memory.DefaultAllocator)
		if err != nil {
			return nil, nil, err
		}
		return rowRewrite(tbl, t, mode, a, enc), enc.Release, nil
	})
}

// rowRewrite rewrites a partition from rows of type R: the rows it held (in an upsert) and the
// attempt's incoming rows, latest version of each key.
func rowRewrite[R any](tbl *table.Table, t *Table[R], mode mergeMode, a Attempt[R], enc *Encoder[R]) RewriteFunc {
	return func(ctx context.Context, p int32, held []table.FileScanTask, write WriteFunc) (Rewritten, error) {
		rows, err := a.Incoming(ctx, p)
		if err != nil {
			return Rewritten{}, err
		}
		if mode == Upsert && len(rows) == 0 {
			return Rewritten{Skipped: true}, nil // nothing comes in: the partition stays as it is
		}
		out := Rewritten{RowsIn: int64(len(rows))}
		for i := range rows {
			if got := t.partOf(&rows[i]); got != p {
				return out, fmt.Errorf("incoming row for partition %d belongs to partition %d", p, got)
			}
		}
		var before []R // the partition's rows before the merge, by key, when a.Added asks
		if mode == Upsert && len(held) > 0 {
			old, err := readTasks(ctx, tbl, t, held)
			if err != nil {
				return out, err
			}
			if a.Added != nil {
				before = slices.Clone(old)
				slices.SortFunc(before, func(x, y R) int { return t.key(&x, &y) })
			}
			rows = append(old, rows...)
		}
		rows = Latest(rows, t.key, t.version, t.same)
		if mode == Upsert && a.Added != nil {
			tellAdded(rows, before, t.key, a.Added)
		}
		out.RowsOut = int64(len(rows))
		write(len(rows), func(lo, hi int) arrow.RecordBatch {
			for i := lo; i < hi; i++ {
				enc.Append(&rows[i])
			}
			return enc.Flush()
		})
		return out, nil
	}
}

// partitioned is what a merge needs of a table besides how its rows are built.
type partitioned interface {
	Info
	Partitioning() (col string, bucketed bool)
}

// Partitioning is the column the table is partitioned by, and whether by a bucket of it (else
// by the identity of a date column).
func (t *Table[R]) Partitioning() (string, bool) { return t.partCol, t.bucketed }

// RewriteFunc hands partition p's new content to write; held are the partition's data files
// before the merge, which the commit replaces.
type RewriteFunc func(ctx context.Context, p int32, held []table.FileScanTask, write WriteFunc) (Rewritten, error)

// Rewritten is what rewriting one partition did.
type Rewritten struct {
	Skipped         bool // nothing came in for an upsert: the partition keeps its files
	RowsIn, RowsOut int64
}

// startFunc readies one attempt of a merge on the table as the attempt loaded it, whose
// current schema is schema: it returns how each partition is rewritten and what releases the
// attempt's buffers.
type startFunc func(ctx context.Context, tbl *table.Table, schema *arrow.Schema) (RewriteFunc, func(), error)

// MergeParts rewrites the given partitions of a table in one commit, redoing the whole
// rewrite from a fresh read when a concurrent commit changed the table underneath.
func MergeParts(ctx context.Context, l *Warehouse, t partitioned, parts []int32, props iceberg.Properties, start startFunc) (MergeResult, error) {
	begin := time.Now()
	parts = slices.Clone(parts)
	slices.Sort(parts)
	parts = slices.Compact(parts)
	res := MergeResult{Table: t.TableName()}
	if len(parts) == 0 {
		return res, nil
	}
	for Attempt := 1; ; Attempt++ {
		res.Attempts = Attempt
		err := mergeOnce(ctx, l, t, parts, props, start, &res)
		if err == nil {
			res.Duration = time.Since(begin)
			return res, nil
		}
		if !isStaleBase(err) || Attempt == maxCommitAttempts {
			return res, fmt.Errorf("merge into %s: %w", t.TableName(), err)
		}
		// Another merge committed first: back off with jitter and redo the merge on its result.
		wait := time.Duration(rand.Int64N(int64(50*time.Millisecond) << min(Attempt, 5)))
		select {
		case <-ctx.Done():
			return res, context.Cause(ctx)
		case <-time.After(wait):
		}
	}
}

// isStaleBase reports a commit refused because the table changed since it was read. The SQL
// catalog says so with a failed requirement (`requirement failed: branch "main" has changed`,
// or "was created concurrently" on a table's first commit) rather than table.ErrCommitFailed.
func isStaleBase(err error) bool {
	return errors.Is(err, table.ErrCommitFailed) || strings.Contains(strings.ToLower(err.Error()), "requirement failed")
}

func mergeOnce(ctx context.Context, l *Warehouse, t partitioned, parts []int32, props iceberg.Properties, start startFunc, res *MergeResult) error {
	tbl, err := l.LoadTable(ctx, t)
	if err != nil {
		return err
	}
	existing, err := filesByPartition(ctx, tbl, t, parts)
	if err != nil {
		return err
	}
	arrowSchema, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
	if err != nil {
		return err
	}
	rewrite, release, err := start(ctx, tbl, arrowSchema)
	if err != nil {
		return err
	}
	defer release()
	var (
		removed           []iceberg.DataFile
		partitions        int
		rowsIn, rowsWrite int64
		buildErr          error
	)
	writers := startFileWriters(ctx, tbl, arrowSchema)
	for _, p := range parts {
		r, err := rewrite(ctx, p, existing[p], writers.write)
		if err != nil {
			buildErr = err
			break
		}
		if writers.ctx.Err() != nil {
			break // a writer failed: close says why
		}
		if r.Skipped {
			continue
		}
		for _, task := range existing[p] {
			removed = append(removed, task.File)
		}
		partitions++
		rowsIn += r.RowsIn
		rowsWrite += r.RowsOut
	}
	added, err := writers.close(tbl.Spec())
	if err = errors.Join(err, buildErr, context.Cause(ctx)); err != nil {
		removeFiles(ctx, tbl, added)
		return err
	}
	if len(added) == 0 && len(removed) == 0 {
		return nil
	}
	if err := replaceFiles(ctx, l.cat, tbl, removed, added, props); err != nil {
		return err
	}
	res.Partitions, res.RowsIn, res.RowsWritten = partitions, rowsIn, rowsWrite
	res.FilesRemoved, res.FilesAdded = len(removed), len(added)
	return nil
}

// Latest sorts rows by key and keeps the greatest version of each key; on equal versions the
// row later in rows wins. A newer version whose content equals the one it follows (same, when
// not nil) does not replace it: unchanged data landed again keeps its first lineage.
func Latest[R any](rows []R, key, version func(a, b *R) int, same func(a, b *R) bool) []R {
	// Row numbers are sorted, not rows: a row is a few hundred bytes, which a sort would move
	// (and a comparison by value copy) many times over. The rows move once, at the end.
	order := make([]int32, len(rows))
	for i := range order {
		order[i] = int32(i)
	}
	sortStable(order, func(a, b int32) int {
		if c := key(&rows[a], &rows[b]); c != 0 {
			return c
		}
		return version(&rows[a], &rows[b])
	})
	kept := order[:0]
	for _, i := range order {
		if n := len(kept); n > 0 && key(&rows[kept[n-1]], &rows[i]) == 0 {
			if same == nil || !same(&rows[kept[n-1]], &rows[i]) {
				kept[n-1] = i
			}
			continue
		}
		kept = append(kept, i)
	}
	m := len(kept)
	permute(rows, kept)
	clear(rows[m:])
	return rows[:m]
}

// splitSortRows is the fewest row numbers sortStable sorts in two halves side by side: a day
// of events sorted on one core left the other idle between reading the day and writing it.
const splitSortRows = 64 << 10

// sortStable sorts row numbers by cmp, keeping the order of equal ones; cmp must be safe to
// call from two goroutines at once.
func sortStable(order []int32, cmp func(a, b int32) int) {
	if len(order) < splitSortRows {
		slices.SortStableFunc(order, cmp)
		return
	}
	mid := len(order) / 2
	var wg sync.WaitGroup
	wg.Go(func() { slices.SortStableFunc(order[:mid], cmp) })
	slices.SortStableFunc(order[mid:], cmp)
	wg.Wait()
	merged := make([]int32, 0, len(order))
	i, j := 0, mid
	for i < mid && j < len(order) {
		if cmp(order[j], order[i]) < 0 { // on a tie the first half's goes first
			merged = append(merged, order[j])
			j++
		} else {
			merged = append(merged, order[i])
			i++
		}
	}
	merged = append(append(merged, order[i:mid]...), order[j:]...)
	copy(order, merged)
}

// permute moves rows in place so that rows[j] becomes the row at take[j] for every j of take
// (distinct row numbers); the rows not taken end up after them, in no particular order.
func permute[R any](rows []R, take []int32) {
	from := make([]int32, len(rows)) // from[j]: the row that moves to position j
	copy(from, take)
	taken := make([]bool, len(rows))
	for _, i := range take {
		taken[i] = true
	}
	j := len(take)
	for i := range rows {
		if !taken[i] {
			from[j] = int32(i)
			j++
		}
	}
	// Follow each cycle of the permutation once, holding one row aside.
	for start := range from {
		if from[start] < 0 || int(from[start]) == start {
			continue
		}
		held := rows[start]
		k := start
		for {
			src := int(from[k])
			from[k] = -1
			if src == start {
				rows[k] = held
				break
			}
			rows[k] = rows[src]
			k = src
		}
	}
}

// tellAdded calls added with each of rows whose key is not among held's; both are sorted by key.
func tellAdded[R any](rows, held []R, key func(a, b *R) int, added func(*R)) {
	j := 0
	for i := range rows {
		for j < len(held) && key(&held[j], &rows[i]) < 0 {
			j++
		}
		if j == len(held) || key(&held[j], &rows[i]) != 0 {
			added(&rows[i])
		}
	}
}

// filesByPartition lists the table's current data files by partition value: of the given
// partitions, or of all when parts is nil. Planning only the partitions of a date-partitioned
// table lets the scan skip the manifests of other days by their partition summaries, so a daily
// merge does not slow down as the table's history grows.
func filesByPartition(ctx context.Context, tbl *table.Table, t partitioned, parts []int32) (map[int32][]table.FileScanTask, error) {
	out := map[int32][]table.FileScanTask{}
	if tbl.CurrentSnapshot() == nil {
		return out, nil
	}
	partCol, bucketed := t.Partitioning()
	var opts []table.ScanOption
	if parts != nil && !bucketed {
		days := make([]dates.Date, len(parts))
		for i, p := range parts {
			days[i] = dates.Date(p)
		}
		opts = append(opts, table.WithRowFilter(DateIn(partCol, days)))
	}
	tasks, err := tbl.Scan(opts...).PlanFiles(ctx)
	if err != nil {
		return nil, err
	}
	spec := tbl.Spec()
	for _, task := range tasks {
		if len(task.DeleteFiles)+len(task.EqualityDeleteFiles)+len(task.DeletionVectorFiles) > 0 {
			return nil, fmt.Errorf("table %s has delete files, which this pipeline never writes; compact it first", t.TableName())
		}
		v, err := filePartition(spec, task.File)
		if err != nil {
			return nil, fmt.Errorf("table %s file %s: %w", t.TableName(), task.File.FilePath(), err)
		}
		out[v] = append(out[v], task)
	}
	return out, nil
}

// filePartition is the partition a data file holds in a table partitioned by one field: its
// day, or its bucket.
func filePartition(spec iceberg.PartitionSpec, f iceberg.DataFile) (int32, error) {
	if spec.NumFields() != 1 {
		return 0, fmt.Errorf("the table is partitioned by %d fields; the merge expects one", spec.NumFields())
	}
	value := f.Partition()[spec.Field(0).FieldID]
	switch v := value.(type) {
	case int32:
		return v, nil
	case iceberg.Date:
		return int32(v), nil
	case int64:
		return int32(v), nil
	}
	return 0, fmt.Errorf("unexpected partition value %v (%T)", value, value)
}

// readTasks reads the rows of the given files.
func readTasks[R any](ctx context.Context, tbl *table.Table, t *Table[R], tasks []table.FileScanTask) ([]R, error) {
	var rows []R
	err := ReadFiles(ctx, tbl, tasks, func(rec arrow.RecordBatch) error {
		rows = t.codec.decode(rec, rows)
		return nil
	})
	return rows, err
}

// ReadFiles streams the batches of the given files to visit, releasing each after.
func ReadFiles(ctx context.Context, tbl *table.Table, tasks []table.FileScanTask, visit func(arrow.RecordBatch) error) error {
	scan := tbl.Scan()
	defer scan.Close()
	return readScanTasks(ctx, scan, tasks, visit)
}

// readScanTasks streams the batches a scan reads from tasks to visit, releasing each after.
func readScanTasks(ctx context.Context, scan *table.Scan, tasks []table.FileScanTask, visit func(arrow.RecordBatch) error) error {
	_, batches, err := scan.ReadTasks(ctx, tasks)
	if err != nil {
		return err
	}
	for rec, err := range batches {
		if err != nil {
			return err
		}
		err = visit(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// removeFiles deletes data files a failed merge wrote; they were never committed, so no reader
// can see them. A leftover is only wasted space.
func removeFiles(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) {
	fs, err := tbl.FS(ctx)
	if err != nil {
		return
	}
	for _, f := range files {
		_ = fs.Remove(f.FilePath())
	}
}

// ScanRows streams a table's rows, optionally restricted to partitions; it backs reads.
func ScanRows[R any](ctx context.Context, l *Warehouse, t *Table[R], filter iceberg.BooleanExpression) iter.Seq2[[]R, error] {
	return func(yield func([]R, error) bool) {
		tbl, err := l.LoadTable(ctx, t)
		if err != nil {
			yield(nil, err)
			return
		}
		if tbl.CurrentSnapshot() == nil {
			return
		}
		scan := tbl.Scan(table.WithRowFilter(filter))
		defer scan.Close()
		_, batches, err := scan.ToArrowRecords(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		for rec, err := range batches {
			if err != nil {
				yield(nil, err)
				return
			}
			rows := t.codec.decode(rec, nil)
			rec.Release()
			if !yield(rows, nil) {
				return
			}
		}
	}
}

// ReadAhead wraps the function that loads a partition's incoming rows so that while one
// partition is merged and written, the next is already being read: reading bronze and writing
// Parquet then use two cores. At most two partitions' incoming rows are held at once. When
// ahead is set, a partition it refuses is read only when asked for.
func ReadAhead[T any](parts []int32, load func(context.Context, int32) (T, error), ahead func(context.Context, int32) bool) func(context.Context, int32) (T, error) {
	type result struct {
		rows T
		err  error
	}
	var (
		mu      sync.Mutex
		pending = map[int32]chan result{}
	)
	start := func(ctx context.Context, p int32) chan result {
		ch := make(chan result, 1)
		go func() {
			rows, err := load(ctx, p)
			ch <- result{rows, err}
		}()
		return ch
	}
	return func(ctx context.Context, p int32) (T, error) {
		mu.Lock()
		ch, ok := pending[p]
		delete(pending, p)
		if !ok {
			ch = start(ctx, p)
		}
		if i := slices.Index(parts, p); i >= 0 && i+1 < len(parts) && (ahead == nil || ahead(ctx, parts[i+1])) {
			if _, ok := pending[parts[i+1]]; !ok {
				pending[parts[i+1]] = start(ctx, parts[i+1])
			}
		}
		mu.Unlock()
		r := <-ch
		return r.rows, r.err
	}
}

// ByPartition groups rows by their table partition.
func ByPartition[R any](t *Table[R], rows []R) map[int32][]R {
	out := map[int32][]R{}
	for _, r := range rows {
		p := t.partOf(&r)
		out[p] = append(out[p], r)
	}
	return out
}

// Grouped serves rows already in memory, grouped by partition.
func Grouped[R any](groups map[int32][]R) incomingFunc[R] {
	return func(_ context.Context, p int32) ([]R, error) {
		return slices.Clone(groups[p]), nil
	}
}

// MergeGrouped merges rows already in memory into their partitions. Every attempt merges the
// same rows: a merge redone after losing a race does not derive them again, so rows derived
// from other tables prepare each attempt instead (see recomputeGold).
func MergeGrouped[R any](ctx context.Context, l *Warehouse, t *Table[R], mode mergeMode, props map[string]string, groups map[int32][]R, extra ...int32) (MergeResult, error) {
	parts := append(slices.Collect(maps.Keys(groups)), extra...)
	return Merge(ctx, l, t, parts, mode, props, fixed(Grouped(groups)))
}
