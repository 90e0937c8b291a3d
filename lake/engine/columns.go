package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// A table's columns are declared once, as typed accessors into its row struct. The same
// declaration gives the Iceberg schema, encodes rows into Arrow batches and decodes scanned
// batches back, with no reflection on the hot path.

// Column binds one Iceberg field to a field of the row type R.
type Column[R any] struct {
	name     string
	typ      iceberg.Type
	required bool
	doc      string
	put      func(b array.Builder, r *R)
	get      func(a arrow.Array, i int, r *R)
}

func StrCol[R any](name string, required bool, doc string, f func(*R) *string) Column[R] {
	return Column[R]{name: name, typ: iceberg.PrimitiveTypes.String, required: required, doc: doc,
		put: func(b array.Builder, r *R) { b.(*array.StringBuilder).Append(*f(r)) },
		get: func(a arrow.Array, i int, r *R) {
			switch a := a.(type) {
			case *array.String:
				*f(r) = a.Value(i)
			case *array.LargeString:
				*f(r) = a.Value(i)
			}
		},
	}
}

func Int64Col[R any](name string, required bool, doc string, f func(*R) *int64) Column[R] {
	return Column[R]{name: name, typ: iceberg.PrimitiveTypes.Int64, required: required, doc: doc,
		put: func(b array.Builder, r *R) { b.(*array.Int64Builder).Append(*f(r)) },
		get: func(a arrow.Array, i int, r *R) { *f(r) = a.(*array.Int64).Value(i) },
	}
}

func Float64Col[R any](name string, required bool, doc string, f func(*R) *float64) Column[R] {
	return Column[R]{name: name, typ: iceberg.PrimitiveTypes.Float64, required: required, doc: doc,
		put: func(b array.Builder, r *R) { b.(*array.Float64Builder).Append(*f(r)) },
		get: func(a arrow.Array, i int, r *R) { *f(r) = a.(*array.Float64).Value(i) },
	}
}

func BoolCol[R any](name string, required bool, doc string, f func(*R) *bool) Column[R] {
	return Column[R]{name: name, typ: iceberg.PrimitiveTypes.Bool, required: required, doc: doc,
		put: func(b array.Builder, r *R) { b.(*array.BooleanBuilder).Append(*f(r)) },
		get: func(a arrow.Array, i int, r *R) { *f(r) = a.(*array.Boolean).Value(i) },
	}
}

// DateCol holds a UTC day as days since the Unix epoch.
func DateCol[R any](name string, required bool, doc string, f func(*R) *dates.Date) Column[R] {
	return Column[R]{name: name, typ: iceberg.PrimitiveTypes.Date, required: required, doc: doc,
		put: func(b array.Builder, r *R) { b.(*array.Date32Builder).Append(arrow.Date32(*f(r))) },
		get: func(a arrow.Array, i int, r *R) { *f(r) = dates.Date(a.(*array.Date32).Value(i)) },
	}
}

// TimeCol holds a UTC instant with microsecond precision; the zero time is null (decode
// leaves nulls at the zero value).
func TimeCol[R any](name string, required bool, doc string, f func(*R) *time.Time) Column[R] {
	return Column[R]{name: name, typ: iceberg.PrimitiveTypes.TimestampTz, required: required, doc: doc,
		put: func(b array.Builder, r *R) {
			t := *f(r)
			if t.IsZero() {
				b.AppendNull()
				return
			}
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(t.UnixMicro()))
		},
		get: func(a arrow.Array, i int, r *R) { *f(r) = time.UnixMicro(int64(a.(*array.Timestamp).Value(i))).UTC() },
	}
}

// codec encodes and decodes rows of type R for one table.
type codec[R any] struct {
	columns []Column[R]
}

// schema is the Iceberg schema the columns declare, with field IDs in declaration order.
func (c codec[R]) schema() *iceberg.Schema {
	fields := make([]iceberg.NestedField, len(c.columns))
	for i, col := range c.columns {
		fields[i] = iceberg.NestedField{ID: i + 1, Name: col.name, Type: col.typ, Required: col.required, Doc: col.doc}
	}
	return iceberg.NewSchema(0, fields...)
}

// Encoder builds Arrow batches in the layout of a table's current schema. Columns the table
// has but the code does not know (added later by an operator) are written as nulls.
type Encoder[R any] struct {
	schema *arrow.Schema
	bld    *array.RecordBuilder
	puts   []func(array.Builder, *R) // by arrow field index; nil for unknown columns
}

func (c codec[R]) Encoder(schema *arrow.Schema, mem memory.Allocator) (*Encoder[R], error) {
	idx, err := FieldIndices(schema, c.columns)
	if err != nil {
		return nil, err
	}
	e := &Encoder[R]{schema: schema, puts: make([]func(array.Builder, *R), schema.NumFields())}
	for i, col := range c.columns {
		e.puts[idx[i]] = col.put
	}
	e.bld = array.NewRecordBuilder(mem, schema)
	return e, nil
}

// FieldIndices is the index in a table's current Arrow schema of each column the code
// declares. Every declared column must be there, and every column the code does not know
// (added later by an operator) must be nullable: it is written as nulls.
func FieldIndices[R any](schema *arrow.Schema, cols []Column[R]) ([]int, error) {
	out := make([]int, len(cols))
	known := map[string]bool{}
	for i, col := range cols {
		idx := schema.FieldIndices(col.name)
		if len(idx) != 1 {
			return nil, fmt.Errorf("Column %q is missing from the table schema", col.name)
		}
		out[i] = idx[0]
		known[col.name] = true
	}
	for _, f := range schema.Fields() {
		if !known[f.Name] && !f.Nullable {
			return nil, fmt.Errorf("the table has a required Column %q this code does not write", f.Name)
		}
	}
	return out, nil
}

func (e *Encoder[R]) Append(r *R) {
	for i, put := range e.puts {
		if put == nil {
			e.bld.Field(i).AppendNull()
			continue
		}
		put(e.bld.Field(i), r)
	}
}

// Flush returns the rows appended so far as one batch; the caller releases it.
func (e *Encoder[R]) Flush() arrow.RecordBatch { return e.bld.NewRecordBatch() }

func (e *Encoder[R]) Release() { e.bld.Release() }

// decode appends the rows of a batch to rows. Columns the code does not know are ignored.
func (c codec[R]) decode(rec arrow.RecordBatch, rows []R) []R {
	schema := rec.Schema()
	gets := make([]func(arrow.Array, int, *R), 0, len(c.columns))
	arrs := make([]arrow.Array, 0, len(c.columns))
	for _, col := range c.columns {
		idx := schema.FieldIndices(col.name)
		if len(idx) != 1 {
			continue
		}
		gets = append(gets, col.get)
		arrs = append(arrs, rec.Column(idx[0]))
	}
	n := int(rec.NumRows())
	start := len(rows)
	rows = slices.Grow(rows, n)[:start+n] // no batch-sized slice made only to be copied
	clear(rows[start:])
	for j, get := range gets {
		a := arrs[j]
		for i := range n {
			if a.IsNull(i) {
				continue
			}
			get(a, i, &rows[start+i])
		}
	}
	return rows
}

// Name is the column's name in the table's schema.
func (c Column[R]) Name() string { return c.name }
