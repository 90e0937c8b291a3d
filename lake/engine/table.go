package engine

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/marketing-data/wistia-pipeline/dates"
)

// EntityBuckets is the bucket count of entity tables: each merge rewrites only the buckets
// its keys fall in.
const EntityBuckets = 16

// Layer names a table's namespace role.
type Layer string

const (
	Silver Layer = "silver"
	Gold   Layer = "gold"
)

// Table describes one table: its columns, its partitioning and how rows are merged.
type Table[R any] struct {
	layer Layer
	name  string
	codec codec[R]
	// partCol is the column the table is partitioned by; bucketed tables use the
	// bucket[entityBuckets] transform of it, the others the identity of a date column.
	partCol  string
	bucketed bool
	// key orders rows by their merge key; rows with equal keys are one row.
	key func(a, b *R) int
	// version orders the versions of one key; the greatest wins. Ties keep the row read last.
	version func(a, b *R) int
	// same reports two versions with equal content apart from their bronze lineage: the older
	// one is kept, so re-landing unchanged data leaves the rows exactly as they were. Nil for
	// tables without lineage.
	same   func(a, b *R) bool
	bucket func(any) iceberg.Optional[int32]
	partOf func(r *R) int32
}

func NewTable[R any](layer Layer, name string, cols []Column[R], partCol string, bucketed bool,
	key, version func(a, b *R) int, partOf func(*R) string, day func(*R) dates.Date) *Table[R] {
	t := &Table[R]{layer: layer, name: name, codec: codec[R]{columns: cols}, partCol: partCol, bucketed: bucketed, key: key, version: version}
	if bucketed {
		t.bucket = iceberg.BucketTransform{NumBuckets: EntityBuckets}.Transformer(iceberg.PrimitiveTypes.String)
		t.partOf = func(r *R) int32 { return t.bucket(partOf(r)).Val }
	} else {
		t.partOf = func(r *R) int32 { return int32(day(r)) }
	}
	return t
}

// TableName is "<layer>.<name>" as callers and operators name tables.
func (t *Table[R]) TableName() string { return string(t.layer) + "." + t.name }

func (t *Table[R]) transform() iceberg.Transform {
	if t.bucketed {
		return iceberg.BucketTransform{NumBuckets: EntityBuckets}
	}
	return iceberg.IdentityTransform{}
}

// Key orders rows by the table's merge key; rows with equal keys are one row.
func (t *Table[R]) Key(a, b *R) int { return t.key(a, b) }

// Version orders two versions of one key; the greatest wins.
func (t *Table[R]) Version(a, b *R) int { return t.version(a, b) }

// WithSame sets how two versions with equal content apart from their lineage are told: the
// older one is kept, so re-landing unchanged data leaves the rows exactly as they were.
func (t *Table[R]) WithSame(same func(a, b *R) bool) *Table[R] {
	t.same = same
	return t
}

// Columns are the table's columns, in schema order.
func (t *Table[R]) Columns() []Column[R] { return t.codec.columns }

// Encoder appends rows to arrow batches of schema (the table's schema as a file holds it).
func (t *Table[R]) Encoder(schema *arrow.Schema, mem memory.Allocator) (*Encoder[R], error) {
	return t.codec.Encoder(schema, mem)
}

// table is how TableOf finds the table of a row type among the warehouse's tables.
func (t *Table[R]) table() *Table[R] { return t }

// Same reports two versions equal apart from their lineage (nil: no such rule).
func (t *Table[R]) Same() func(a, b *R) bool { return t.same }

// Decode appends the rows of rec (a batch of the table's schema) to rows.
func (t *Table[R]) Decode(rec arrow.RecordBatch, rows []R) []R { return t.codec.decode(rec, rows) }
