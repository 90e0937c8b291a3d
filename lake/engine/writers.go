package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"golang.org/x/sync/errgroup"
)

// writeLanes is how many Parquet files a merge writes at once. iceberg-go encodes and
// compresses one file on one goroutine, so a day of events written as one file left the
// second core idle for as long as reading the day had taken. The number is fixed rather than
// taken from the CPUs so the files a merge writes do not depend on the machine.
const writeLanes = 2

// splitRows is the fewest rows a file gets when a partition is split: a partition of fewer
// than writeLanes×splitRows rows is written as one file, as small files cost Athena more to
// list and open than they save in writing.
const splitRows = 64 << 10

// WriteFunc hands over one partition's new content: n rows, in the order they are written,
// and batch, which builds the Arrow batch of rows [lo, hi) in the table's current schema (it
// is called once for each batch, in turn, never concurrently). Once writing has failed it
// returns without building more; the merge reports why.
type WriteFunc func(n int, batch func(lo, hi int) arrow.RecordBatch)

// fileWriters writes a merge's partitions on writeLanes concurrent Parquet writers. A
// partition of at least writeLanes×splitRows rows is split in contiguous ranges of its rows,
// one file per lane, its batches handed to the lanes in turn so they encode side by side; a
// smaller partition is one file, on the next lane in turn. A lane gets its share of each
// partition in one run, partition after partition, as the clustered writer requires.
type fileWriters struct {
	ctx   context.Context // done once a lane has failed
	g     *errgroup.Group
	lanes []chan arrow.RecordBatch
	files [][]iceberg.DataFile // by lane, in the order written
	next  int                  // the lane the next unsplit partition goes to
}

func startFileWriters(ctx context.Context, tbl *table.Table, schema *arrow.Schema) *fileWriters {
	g, gctx := errgroup.WithContext(ctx)
	w := &fileWriters{ctx: gctx, g: g, lanes: make([]chan arrow.RecordBatch, writeLanes), files: make([][]iceberg.DataFile, writeLanes)}
	for i := range w.lanes {
		ch := make(chan arrow.RecordBatch)
		w.lanes[i] = ch
		g.Go(func() error {
			records := func(yield func(arrow.RecordBatch, error) bool) {
				for rec := range ch {
					if !yield(rec, nil) {
						return
					}
				}
			}
			for df, err := range table.WriteRecords(gctx, tbl, schema, records, table.WithClusteredWrite(),
				table.WithParquetRowGroupLimit(rowGroupRows), table.WithRecordBatchBufferSize(queuedBatches)) {
				if err != nil {
					return err
				}
				w.files[i] = append(w.files[i], df)
			}
			return nil
		})
	}
	return w
}

// write is the merge's writeFunc.
func (w *fileWriters) write(n int, batch func(lo, hi int) arrow.RecordBatch) {
	pieces := 1
	if n >= writeLanes*splitRows {
		pieces = writeLanes
	}
	lo := make([]int, pieces) // piece j is rows [j*n/pieces, (j+1)*n/pieces)
	for j := range lo {
		lo[j] = j * n / pieces
	}
	for more := n > 0; more; {
		more = false
		for j := range pieces {
			hi := (j + 1) * n / pieces
			if lo[j] == hi {
				continue
			}
			end := min(lo[j]+BatchRows, hi)
			if !w.send((w.next+j)%writeLanes, batch(lo[j], end)) {
				return
			}
			lo[j] = end
			more = more || end < hi
		}
	}
	if n > 0 {
		w.next = (w.next + pieces) % writeLanes
	}
}

func (w *fileWriters) send(lane int, rec arrow.RecordBatch) bool {
	select {
	case w.lanes[lane] <- rec:
		return true
	case <-w.ctx.Done():
		rec.Release()
		return false
	}
}

// close waits for the lanes to finish their files and returns them by partition: the files
// of a partition in lane order, so the same merge commits its files in the same order.
// On an error it returns the files written, for the caller to remove.
func (w *fileWriters) close(spec iceberg.PartitionSpec) ([]iceberg.DataFile, error) {
	for _, ch := range w.lanes {
		close(ch)
	}
	err := w.g.Wait()
	files := slices.Concat(w.files...)
	if err != nil {
		return files, err
	}
	parts := make(map[iceberg.DataFile]int32, len(files))
	for _, f := range files {
		if parts[f], err = filePartition(spec, f); err != nil {
			return files, fmt.Errorf("file %s: %w", f.FilePath(), err)
		}
	}
	slices.SortStableFunc(files, func(a, b iceberg.DataFile) int { return cmp.Compare(parts[a], parts[b]) })
	return files, nil
}
