package lake

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// silver.events is merged from eventRows rather than Event structs. A day of events is most of
// a transform's memory: as Events, with a Go string per field, it took about 460 bytes an event
// and the garbage collector scanned all of it; an eventRow holds no pointer (its strings are
// ranges of one byte buffer per day, a value that repeats across events written once), so a
// day takes about half the memory and the collector never scans it. Rows go from bronze to
// Arrow builders without a struct in between.

// strRef is a string of an eventCols: its start and end in the buffer.
type strRef [2]uint32

// The string columns of an eventRow, in eventStrFields' order.
const (
	sEventKey = iota
	sMediaID
	sVisitorKey
	sEmbedURL
	sIP
	sCountry
	sRegion
	sCity
	sOrg
	sConversionType
	sRunID
	sSource // the bronze object's key; with eventRow.line, the _source column
	numEventStrs
)

// eventStrFields is the parser field of each string column (the source is not a field).
var eventStrFields = [numEventStrs]int{fEventKey, fMediaID, fVisitorKey, fEmbedURL, fIP, fCountry, fRegion,
	fCity, fOrg, fConversionType, fRunID, -1}

// eventStrColumns is the silver.events column of each string column.
var eventStrColumns = [numEventStrs]string{"event_key", "media_id", "visitor_key", "embed_url", "ip", "country",
	"region", "city", "org", "conversion_type", "_run_id", "_source"}

// uniqueStr marks the columns whose values rarely repeat from one event to the next: they are
// written to the buffer every time, where the others are looked up first.
var uniqueStr = [numEventStrs]bool{sEventKey: true, sVisitorKey: true, sIP: true}

// eventRow is one event of a merge.
type eventRow struct {
	str      [numEventStrs]strRef
	received int64 // µs since the epoch, or nullTime
	ingested int64 // µs since the epoch, or nullTime
	percent  float64
	date     Day
	line     int32 // the bronze line of _source, or -1 when str[sSource] is all of it
}

// nullTime is a null timestamp in an eventRow; it orders before every instant, as the zero
// time.Time that a null decodes to in an Event.
const nullTime = math.MinInt64

// eventCols is a set of events: rows whose strings live in buf.
type eventCols struct {
	rows []eventRow
	buf  strBuf
}

// strBuf is the bytes of an eventCols' strings. While rows are added it remembers where
// repeated values (media ids, places, run ids, bronze objects) were written, so each is
// written once.
type strBuf struct {
	b    []byte
	seen map[string]seenStr
	last [numEventStrs]seenStr // each column's last value: a run of lines often repeats it
}

// seenStr is a value written to a strBuf, and where.
type seenStr struct {
	v   string
	ref strRef
}

// maxSeen bounds the repeated values a strBuf remembers: past it, it forgets them all, and a
// value met again is written again.
const maxSeen = 1 << 16

func (s *strBuf) put(i int, v string) (strRef, error) {
	if uniqueStr[i] {
		return s.write(v)
	}
	if v == "" {
		return strRef{}, nil
	}
	if s.last[i].v == v {
		return s.last[i].ref, nil
	}
	seen, ok := s.seen[v]
	if !ok {
		ref, err := s.write(v)
		if err != nil {
			return ref, err
		}
		if s.seen == nil || len(s.seen) >= maxSeen {
			s.seen = map[string]seenStr{}
		}
		seen = seenStr{strings.Clone(v), ref}
		s.seen[seen.v] = seen
	}
	s.last[i] = seen
	return seen.ref, nil
}

func (s *strBuf) write(v string) (strRef, error) {
	start := len(s.b)
	if start+len(v) > math.MaxUint32 {
		return strRef{}, fmt.Errorf("the events of one day hold more than 4 GiB of strings; merge fewer days at once")
	}
	s.b = append(s.b, v...)
	return strRef{uint32(start), uint32(len(s.b))}, nil
}

// forget drops the values the buffer remembers, once its rows are complete.
func (s *strBuf) forget() {
	s.seen = nil
	s.last = [numEventStrs]seenStr{}
}

func (c *eventCols) str(r *eventRow, i int) []byte { return c.buf.b[r.str[i][0]:r.str[i][1]] }

// text is a view of a row's string i, valid while c is.
func (c *eventCols) text(r *eventRow, i int) string {
	b := c.str(r, i)
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// source appends a row's _source to dst.
func (c *eventCols) source(dst []byte, r *eventRow) []byte {
	dst = append(dst, c.str(r, sSource)...)
	if r.line < 0 {
		return dst
	}
	return strconv.AppendInt(append(dst, '#'), int64(r.line), 10)
}

// splitSource splits a _source into the object and line it names; one that is not
// "<object>#<line>" in that form is kept whole.
func splitSource(s string) (string, int32) {
	i := strings.LastIndexByte(s, '#')
	if i < 0 {
		return s, -1
	}
	n, err := strconv.ParseInt(s[i+1:], 10, 32)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s[i+1:] {
		return s, -1
	}
	return s[:i], int32(n)
}

// rebase moves rows' refs by base bytes, for rows whose buffer is appended at base.
func rebase(rows []eventRow, base int) {
	if base == 0 {
		return
	}
	b := uint32(base)
	for i := range rows {
		for j := range rows[i].str {
			rows[i].str[j][0] += b
			rows[i].str[j][1] += b
		}
	}
}

// appendCols appends o's events to c.
func (c *eventCols) appendCols(o *eventCols) error {
	if len(o.rows) == 0 {
		return nil
	}
	base := len(c.buf.b)
	if base+len(o.buf.b) > math.MaxUint32 {
		return fmt.Errorf("the events of one day hold more than 4 GiB of strings; merge fewer days at once")
	}
	c.buf.b = append(c.buf.b, o.buf.b...)
	start := len(c.rows)
	c.rows = append(c.rows, o.rows...)
	rebase(c.rows[start:], base)
	return nil
}

// event is row r as an Event.
func (c *eventCols) event(r *eventRow) Event {
	e := Event{EventKey: c.text(r, sEventKey), Date: r.date, ReceivedAt: timeOfMicros(r.received), MediaID: c.text(r, sMediaID),
		VisitorKey: c.text(r, sVisitorKey), PercentViewed: r.percent, EmbedURL: c.text(r, sEmbedURL), IP: c.text(r, sIP),
		Country: c.text(r, sCountry), Region: c.text(r, sRegion), City: c.text(r, sCity), Org: c.text(r, sOrg),
		ConversionType: c.text(r, sConversionType)}
	e.lineage = lineage{IngestedAt: timeOfMicros(r.ingested), RunID: c.text(r, sRunID), Source: string(c.source(nil, r))}
	return e
}

func timeOfMicros(us int64) time.Time {
	if us == nullTime {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func microsOf(t time.Time) int64 {
	if t.IsZero() {
		return nullTime
	}
	return t.UnixMicro()
}

// dedupe keeps the latest version of each event key, as eventsTable's key, version and same
// do for Events: later landing wins, then the later _source, then the row later in c; a version
// equal to the one it follows but for its lineage does not replace it.
func (c *eventCols) dedupe() {
	var sa, sb []byte // the sort compares on one goroutine
	c.rows = latest(c.rows,
		func(a, b *eventRow) int { return bytes.Compare(c.str(a, sEventKey), c.str(b, sEventKey)) },
		func(a, b *eventRow) int {
			if v := cmp.Compare(a.ingested, b.ingested); v != 0 {
				return v
			}
			sa, sb = c.source(sa[:0], a), c.source(sb[:0], b)
			return bytes.Compare(sa, sb)
		}, c.sameEvent)
}

// sameEvent reports two versions of an event with equal content apart from their bronze
// lineage, as eventsTable.same does for Events.
func (c *eventCols) sameEvent(a, b *eventRow) bool {
	if a.date != b.date || a.received != b.received || a.percent != b.percent {
		return false
	}
	for i := range numEventStrs {
		if i != sRunID && i != sSource && !bytes.Equal(c.str(a, i), c.str(b, i)) {
			return false
		}
	}
	return true
}

// eventPut appends one column of rows to a builder.
type eventPut func(b array.Builder, c *eventCols, rows []eventRow)

// eventPuts appends each silver.events column, by name.
var eventPuts = map[string]eventPut{
	"date": func(b array.Builder, _ *eventCols, rows []eventRow) {
		db := b.(*array.Date32Builder)
		db.Reserve(len(rows))
		for i := range rows {
			db.UnsafeAppend(arrow.Date32(rows[i].date))
		}
	},
	"received_at":  putTime(func(r *eventRow) int64 { return r.received }),
	"_ingested_at": putTime(func(r *eventRow) int64 { return r.ingested }),
	"percent_viewed": func(b array.Builder, _ *eventCols, rows []eventRow) {
		fb := b.(*array.Float64Builder)
		fb.Reserve(len(rows))
		for i := range rows {
			fb.UnsafeAppend(rows[i].percent)
		}
	},
	"_source": func(b array.Builder, c *eventCols, rows []eventRow) {
		sb := b.(*array.StringBuilder)
		sb.Reserve(len(rows))
		var src []byte
		for i := range rows {
			src = c.source(src[:0], &rows[i])
			sb.BinaryBuilder.Append(src)
		}
	},
}

func init() {
	for i, name := range eventStrColumns {
		if i == sSource {
			continue
		}
		eventPuts[name] = func(b array.Builder, c *eventCols, rows []eventRow) {
			sb := b.(*array.StringBuilder)
			n := 0
			for j := range rows {
				n += int(rows[j].str[i][1] - rows[j].str[i][0])
			}
			sb.Reserve(len(rows))
			sb.ReserveData(n)
			for j := range rows {
				sb.BinaryBuilder.Append(c.str(&rows[j], i))
			}
		}
	}
}

func putTime(f func(*eventRow) int64) eventPut {
	return func(b array.Builder, _ *eventCols, rows []eventRow) {
		tb := b.(*array.TimestampBuilder)
		tb.Reserve(len(rows))
		for i := range rows {
			if v := f(&rows[i]); v == nullTime {
				tb.UnsafeAppendBoolToBitmap(false)
			} else {
				tb.UnsafeAppend(arrow.Timestamp(v))
			}
		}
	}
}

// eventEncoder builds Arrow batches of events in the layout of silver.events' current schema;
// columns the table has but the code does not know (added later by an operator) are nulls.
type eventEncoder struct {
	bld  *array.RecordBuilder
	puts []eventPut // by arrow field index; nil for unknown columns
}

func newEventEncoder(schema *arrow.Schema, mem memory.Allocator) (*eventEncoder, error) {
	e := &eventEncoder{bld: array.NewRecordBuilder(mem, schema), puts: make([]eventPut, schema.NumFields())}
	known := map[string]bool{}
	for _, col := range eventsTable.codec.columns {
		idx := schema.FieldIndices(col.name)
		if len(idx) != 1 {
			e.bld.Release()
			return nil, fmt.Errorf("column %q is missing from the table schema", col.name)
		}
		put, ok := eventPuts[col.name]
		if !ok {
			e.bld.Release()
			return nil, fmt.Errorf("silver.events column %q has no columnar encoding", col.name)
		}
		e.puts[idx[0]] = put
		known[col.name] = true
	}
	for _, f := range schema.Fields() {
		if !known[f.Name] && !f.Nullable {
			e.bld.Release()
			return nil, fmt.Errorf("the table has a required column %q this code does not write", f.Name)
		}
	}
	return e, nil
}

// batch is rows as one Arrow batch; the caller releases it.
func (e *eventEncoder) batch(c *eventCols, rows []eventRow) arrow.RecordBatch {
	for i, put := range e.puts {
		if put == nil {
			e.bld.Field(i).AppendNulls(len(rows))
			continue
		}
		put(e.bld.Field(i), c, rows)
	}
	return e.bld.NewRecordBatch()
}

func (e *eventEncoder) release() { e.bld.Release() }

// appendBatch appends the events of a scanned silver.events batch. Columns the code does not
// know are ignored; a column the batch lacks reads as null, as in codec.decode.
func (c *eventCols) appendBatch(rec arrow.RecordBatch) error {
	col := func(name string) arrow.Array {
		if idx := rec.Schema().FieldIndices(name); len(idx) == 1 {
			return rec.Column(idx[0])
		}
		return nil
	}
	var strs [numEventStrs]func(int) string
	for i, name := range eventStrColumns {
		strs[i] = stringsOf(col(name))
	}
	received, ingested := timesOf(col("received_at")), timesOf(col("_ingested_at"))
	date, _ := col("date").(*array.Date32)
	percent, _ := col("percent_viewed").(*array.Float64)
	n := int(rec.NumRows())
	for i := range n {
		r := eventRow{received: received(i), ingested: ingested(i), line: -1}
		if date != nil && date.IsValid(i) {
			r.date = Day(date.Value(i))
		}
		if percent != nil && percent.IsValid(i) {
			r.percent = percent.Value(i)
		}
		for j, get := range strs {
			v := get(i)
			if j == sSource {
				v, r.line = splitSource(v)
			}
			var err error
			if r.str[j], err = c.buf.put(j, v); err != nil {
				return err
			}
		}
		c.rows = append(c.rows, r)
	}
	return nil
}

func stringsOf(a arrow.Array) func(int) string {
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

func timesOf(a arrow.Array) func(int) int64 {
	ts, ok := a.(*array.Timestamp)
	if !ok {
		return func(int) int64 { return nullTime }
	}
	return func(i int) int64 {
		if ts.IsNull(i) {
			return nullTime
		}
		return int64(ts.Value(i))
	}
}

// readEventTasks appends the events of the given silver.events files to c.
func readEventTasks(ctx context.Context, tbl *table.Table, tasks []table.FileScanTask, c *eventCols) error {
	scan := tbl.Scan()
	defer scan.Close()
	_, batches, err := scan.ReadTasks(ctx, tasks)
	if err != nil {
		return err
	}
	for rec, err := range batches {
		if err != nil {
			return err
		}
		err = c.appendBatch(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	c.buf.forget()
	return nil
}

// eventIncoming returns the incoming events of one partition, as incomingFunc does for rows.
type eventIncoming func(ctx context.Context, part int32) (*eventCols, error)

// mergeEvents merges incoming events into the given partitions of silver.events (an upsert:
// the latest version of each event key wins), as merge does for tables of row structs.
// prepare readies each attempt.
func mergeEvents(ctx context.Context, l *Lakehouse, parts []int32, props iceberg.Properties, prepare func(context.Context) (eventIncoming, error)) (MergeResult, error) {
	return mergeParts(ctx, l, eventsTable, parts, props, func(ctx context.Context, tbl *table.Table, schema *arrow.Schema) (rewriteFunc, func(), error) {
		incoming, err := prepare(ctx)
		if err != nil {
			return nil, nil, err
		}
		enc, err := newEventEncoder(schema, memory.DefaultAllocator)
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context, p int32, held []table.FileScanTask, emit func(arrow.RecordBatch) bool) (rewritten, error) {
			in, err := incoming(ctx, p)
			if err != nil {
				return rewritten{}, err
			}
			if in == nil || len(in.rows) == 0 {
				return rewritten{skipped: true}, nil
			}
			out := rewritten{rowsIn: int64(len(in.rows))}
			for i := range in.rows {
				if got := int32(in.rows[i].date); got != p {
					return out, fmt.Errorf("incoming row for partition %d belongs to partition %d", p, got)
				}
			}
			all := in
			if len(held) > 0 { // the partition's events first: on equal versions the incoming one wins
				all = &eventCols{}
				if err := readEventTasks(ctx, tbl, held, all); err != nil {
					return out, err
				}
				if err := all.appendCols(in); err != nil {
					return out, err
				}
			}
			all.dedupe()
			out.rowsOut = int64(len(all.rows))
			for i := 0; i < len(all.rows); i += batchRows {
				if !emit(enc.batch(all, all.rows[i:min(i+batchRows, len(all.rows))])) {
					break
				}
			}
			return out, nil
		}, enc.release, nil
	})
}
