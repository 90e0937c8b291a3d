package engine

import (
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Readers of the columns of scanned batches, for code that reads a table's files column by
// column rather than as rows (the events merge, gold's plays).

// NullTime is how TimesOf reads a null or missing timestamp: it orders before every instant,
// as the zero time.Time a null decodes to in a row.
const NullTime = math.MinInt64

// TimeOfMicros is a timestamp column's value (µs since the epoch) as a time; NullTime is the
// zero time.
func TimeOfMicros(us int64) time.Time {
	if us == NullTime {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// ColumnOf is the batch's column of that name, or nil.
func ColumnOf(rec arrow.RecordBatch, name string) arrow.Array {
	if idx := rec.Schema().FieldIndices(name); len(idx) == 1 {
		return rec.Column(idx[0])
	}
	return nil
}

// StringsOf reads a string column by row; a null, or a column that is not a string, reads "".
func StringsOf(a arrow.Array) func(int) string {
	switch a := a.(type) {
	case *array.String:
		return func(i int) string {
			if a.IsNull(i) {
				return ""
			}
			return a.Value(i)
		}
	case *array.LargeString:
		return func(i int) string {
			if a.IsNull(i) {
				return ""
			}
			return a.Value(i)
		}
	}
	return func(int) string { return "" }
}

// TimesOf reads a timestamp column by row, in µs; a null, or a column that is not a
// timestamp, reads NullTime.
func TimesOf(a arrow.Array) func(int) int64 {
	ts, ok := a.(*array.Timestamp)
	if !ok {
		return func(int) int64 { return NullTime }
	}
	return func(i int) int64 {
		if ts.IsNull(i) {
			return NullTime
		}
		return int64(ts.Value(i))
	}
}
