package silver

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// silver.events is merged from eventRows rather than Event structs. A day of events is most of
// a transform's memory: as Events, with a Go string per field, it took about 460 bytes an event
// and the garbage collector scanned all of it. An eventRow holds no pointer and takes 88 bytes:
// its strings live in one byte buffer per day, the event's own (key, visitor, IP) back to back,
// and a value that repeats across events (a media id, a place, a run, a bronze object) is
// written once and named by its code. The collector never scans the rows, and they go from
// bronze to Arrow builders without a struct in between.

// The string columns of an eventRow: first those written for every event, then those that
// repeat across events (coded).
const (
	sEventKey = iota
	sVisitorKey
	sIP
	sMediaID
	sEmbedURL
	sCountry
	sRegion
	sCity
	sOrg
	sConversionType
	sRunID
	sSource // the bronze object's key; with eventRow.line, the _source column
	numEventStrs

	numOwnStrs = sIP + 1                   // strings of the event's own
	numCoded   = numEventStrs - numOwnStrs // strings named by code
)

// eventStrFields is the parser field of each string column (the source is not a field).
var eventStrFields = [numEventStrs]int{fEventKey, fVisitorKey, fIP, fMediaID, fEmbedURL, fCountry, fRegion,
	fCity, fOrg, fConversionType, fRunID, -1}

// eventStrColumns is the silver.events column of each string column.
var eventStrColumns = [numEventStrs]string{"event_key", "visitor_key", "ip", "media_id", "embed_url", "country",
	"region", "city", "org", "conversion_type", "_run_id", "_source"}

// eventRow is one event of a merge.
type eventRow struct {
	own      [numOwnStrs + 1]uint32 // in the buffer: the event key's start, then the end of each own string
	code     [numCoded]uint32       // the coded strings, indexes of strBuf.vals
	date     dates.Date
	received int64 // µs since the epoch, or nullTime
	ingested int64 // µs since the epoch, or nullTime
	percent  float64
	line     int32 // the bronze line of _source, or -1 when the source string is all of it
}

// eventCols is a set of events: rows whose strings live in buf.
type eventCols struct {
	rows []eventRow
	buf  strBuf
}

// strBuf holds the strings of an eventCols. While rows are added it remembers the coded values
// it holds, so each is written once.
type strBuf struct {
	b    []byte
	vals [][2]uint32 // each code's value: its start and end in b
	seen map[string]seenStr
	last [numCoded]seenStr // each column's last value: a run of lines often repeats it
}

// seenStr is a value of a strBuf (a copy the buffer owns), and its code.
type seenStr struct {
	v    string
	code uint32
	ok   bool
}

// maxSeen bounds the values a strBuf remembers: past it, it forgets them all, and a value met
// again is written again, under a new code.
const maxSeen = 1 << 16

// errDayTooLarge is a day whose strings do not fit the 32-bit offsets of its buffer.
var errDayTooLarge = errors.New("the events of one day hold more than 4 GiB of strings, more than the events merge can address")

// code returns the code of value v of coded column i, writing v if the buffer lacks it.
func (s *strBuf) code(i int, v string) (uint32, error) {
	k := i - numOwnStrs
	if last := &s.last[k]; last.ok && last.v == v {
		return last.code, nil
	}
	seen, ok := s.seen[v]
	if !ok {
		start := len(s.b)
		if start+len(v) > math.MaxUint32 || len(s.vals) == math.MaxUint32 {
			return 0, errDayTooLarge
		}
		s.b = append(s.b, v...)
		seen = seenStr{strings.Clone(v), uint32(len(s.vals)), true}
		s.vals = append(s.vals, [2]uint32{uint32(start), uint32(len(s.b))})
		if s.seen == nil || len(s.seen) >= maxSeen {
			s.seen = map[string]seenStr{}
		}
		s.seen[seen.v] = seen
	}
	// The buffer's own copy, never v: v is often a view of a bronze line whose buffer the
	// reader fills with the next line.
	s.last[k] = seen
	return seen.code, nil
}

// own writes an event's own strings back to back and returns their bounds.
func (s *strBuf) own(key, visitor, ip string) ([numOwnStrs + 1]uint32, error) {
	start := len(s.b)
	if start+len(key)+len(visitor)+len(ip) > math.MaxUint32 {
		return [numOwnStrs + 1]uint32{}, errDayTooLarge
	}
	s.b = append(s.b, key...)
	k := len(s.b)
	s.b = append(s.b, visitor...)
	v := len(s.b)
	s.b = append(s.b, ip...)
	return [numOwnStrs + 1]uint32{uint32(start), uint32(k), uint32(v), uint32(len(s.b))}, nil
}

// set sets string column i of r to v.
func (s *strBuf) set(r *eventRow, i int, v string) (err error) {
	r.code[i-numOwnStrs], err = s.code(i, v)
	return err
}

// forget drops the values the buffer remembers, once its rows are complete.
func (s *strBuf) forget() {
	s.seen = nil
	s.last = [numCoded]seenStr{}
}

func (c *eventCols) str(r *eventRow, i int) []byte {
	if i < numOwnStrs {
		return c.buf.b[r.own[i]:r.own[i+1]]
	}
	v := c.buf.vals[r.code[i-numOwnStrs]]
	return c.buf.b[v[0]:v[1]]
}

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

// rebase moves rows whose buffer is appended to another at base bytes and codeBase codes.
func rebase(rows []eventRow, base, codeBase int) {
	b, cb := uint32(base), uint32(codeBase)
	for i := range rows {
		for j := range rows[i].own {
			rows[i].own[j] += b
		}
		for j := range rows[i].code {
			rows[i].code[j] += cb
		}
	}
}

// appendBuf appends o's strings to s and returns where they start: the bytes and codes by
// which o's rows are to be rebased.
func (s *strBuf) appendBuf(o *strBuf) (base, codeBase int, err error) {
	base, codeBase = len(s.b), len(s.vals)
	if base+len(o.b) > math.MaxUint32 || codeBase+len(o.vals) > math.MaxUint32 {
		return 0, 0, errDayTooLarge
	}
	s.b = append(s.b, o.b...)
	for _, v := range o.vals {
		s.vals = append(s.vals, [2]uint32{v[0] + uint32(base), v[1] + uint32(base)})
	}
	return base, codeBase, nil
}

// appendCols appends o's events to c.
func (c *eventCols) appendCols(o *eventCols) error {
	if len(o.rows) == 0 {
		return nil
	}
	base, codeBase, err := c.buf.appendBuf(&o.buf)
	if err != nil {
		return err
	}
	start := len(c.rows)
	c.rows = append(c.rows, o.rows...)
	rebase(c.rows[start:], base, codeBase)
	return nil
}

// dedupe keeps the latest version of each event key, as EventsTable's key, version and same
// do for Events: later landing wins, then the later _source, then the row later in c; a version
// equal to the one it follows but for its lineage does not replace it.
func (c *eventCols) dedupe() {
	c.rows = engine.Latest(c.rows,
		func(a, b *eventRow) int { return bytes.Compare(c.str(a, sEventKey), c.str(b, sEventKey)) },
		func(a, b *eventRow) int {
			if v := cmp.Compare(a.ingested, b.ingested); v != 0 {
				return v
			}
			// Only versions of one key get here, a few in a hundred events: building their
			// sources costs less than sharing a buffer between the sort's goroutines.
			return bytes.Compare(c.source(nil, a), c.source(nil, b))
		}, c.sameEvent)
}

// sameEvent reports two versions of an event with equal content apart from their bronze
// lineage, as EventsTable.same does for Events.
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

// eventPut builds one column of rows, with b when a builder does it well; a string column
// sizes its data for hint bytes, what the column's last batch held.
type eventPut func(b array.Builder, c *eventCols, rows []eventRow, hint int) arrow.Array

// eventPuts builds each silver.events column, by name.
var eventPuts = map[string]eventPut{
	"date": func(b array.Builder, _ *eventCols, rows []eventRow, _ int) arrow.Array {
		db := b.(*array.Date32Builder)
		db.Reserve(len(rows))
		for i := range rows {
			db.UnsafeAppend(arrow.Date32(rows[i].date))
		}
		return db.NewArray()
	},
	"received_at":  putTime(func(r *eventRow) int64 { return r.received }),
	"_ingested_at": putTime(func(r *eventRow) int64 { return r.ingested }),
	"percent_viewed": func(b array.Builder, _ *eventCols, rows []eventRow, _ int) arrow.Array {
		fb := b.(*array.Float64Builder)
		fb.Reserve(len(rows))
		for i := range rows {
			fb.UnsafeAppend(rows[i].percent)
		}
		return fb.NewArray()
	},
	"_source": func(_ array.Builder, c *eventCols, rows []eventRow, hint int) arrow.Array {
		return stringArray(len(rows), hint, func(dst []byte, i int) []byte { return c.source(dst, &rows[i]) })
	},
}

func init() {
	for i, name := range eventStrColumns {
		if i == sSource {
			continue
		}
		eventPuts[name] = func(_ array.Builder, c *eventCols, rows []eventRow, hint int) arrow.Array {
			return stringArray(len(rows), hint, func(dst []byte, j int) []byte { return append(dst, c.str(&rows[j], i)...) })
		}
	}
}

// stringArray builds a string array of n values, appended by add in turn, straight into its
// buffers, with room for hint bytes of them (or 16 a value): appending them one by one to a
// builder cost twice as much, a second of a 4M-event transform.
func stringArray(n, hint int, add func(dst []byte, i int) []byte) arrow.Array {
	if hint <= 0 {
		hint = 16 * n
	}
	offsets := make([]int32, n+1)
	data := make([]byte, 0, hint)
	for i := range n {
		data = add(data, i)
		if len(data) > math.MaxInt32 {
			panic(fmt.Sprintf("a batch of %d events holds more than 2 GiB of one string engine.Column", n))
		}
		offsets[i+1] = int32(len(data))
	}
	d := array.NewData(arrow.BinaryTypes.String, n,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets)), memory.NewBufferBytes(data)}, nil, 0, 0)
	defer d.Release()
	return array.NewStringData(d)
}

func putTime(f func(*eventRow) int64) eventPut {
	return func(b array.Builder, _ *eventCols, rows []eventRow, _ int) arrow.Array {
		tb := b.(*array.TimestampBuilder)
		tb.Reserve(len(rows))
		for i := range rows {
			if v := f(&rows[i]); v == engine.NullTime {
				tb.UnsafeAppendBoolToBitmap(false)
			} else {
				tb.UnsafeAppend(arrow.Timestamp(v))
			}
		}
		return tb.NewArray()
	}
}

// eventEncoder builds Arrow batches of events in the layout of silver.events' current schema;
// columns the table has but the code does not know (added later by an operator) are nulls.
type eventEncoder struct {
	schema *arrow.Schema
	bld    []array.Builder
	puts   []eventPut // by arrow field index; nil for unknown columns
	perRow []int      // by arrow field index: the bytes a row of a string column took in the last batch
}

func newEventEncoder(schema *arrow.Schema, mem memory.Allocator) (*eventEncoder, error) {
	idx, err := engine.FieldIndices(schema, EventsTable.Columns())
	if err != nil {
		return nil, err
	}
	e := &eventEncoder{schema: schema, puts: make([]eventPut, schema.NumFields()), perRow: make([]int, schema.NumFields())}
	for i, col := range EventsTable.Columns() {
		put, ok := eventPuts[col.Name()]
		if !ok {
			return nil, fmt.Errorf("silver.events engine.Column %q has no columnar encoding", col.Name())
		}
		e.puts[idx[i]] = put
	}
	for _, f := range schema.Fields() {
		e.bld = append(e.bld, array.NewBuilder(mem, f.Type))
	}
	return e, nil
}

// batch is rows as one Arrow batch; the caller releases it.
func (e *eventEncoder) batch(c *eventCols, rows []eventRow) arrow.RecordBatch {
	cols := make([]arrow.Array, len(e.puts))
	for i, put := range e.puts {
		if put == nil {
			e.bld[i].AppendNulls(len(rows))
			cols[i] = e.bld[i].NewArray()
			continue
		}
		cols[i] = put(e.bld[i], c, rows, e.perRow[i]*len(rows)*17/16) // a sixteenth to spare
		if s, ok := cols[i].(*array.String); ok && len(rows) > 0 {
			e.perRow[i] = (len(s.ValueBytes()) + len(rows) - 1) / len(rows)
		}
	}
	defer func() {
		for _, a := range cols {
			a.Release()
		}
	}()
	return array.NewRecordBatch(e.schema, cols, int64(len(rows)))
}

func (e *eventEncoder) release() {
	for _, b := range e.bld {
		b.Release()
	}
}

// appendBatch appends the events of a scanned silver.events batch. Columns the code does not
// know are ignored; a column the batch lacks reads as null, as in codec.decode.
func (c *eventCols) appendBatch(rec arrow.RecordBatch) error {
	col := func(name string) arrow.Array { return engine.ColumnOf(rec, name) }
	var strs [numEventStrs]func(int) string
	for i, name := range eventStrColumns {
		strs[i] = engine.StringsOf(col(name))
	}
	received, ingested := engine.TimesOf(col("received_at")), engine.TimesOf(col("_ingested_at"))
	date, _ := col("date").(*array.Date32)
	percent, _ := col("percent_viewed").(*array.Float64)
	n := int(rec.NumRows())
	for i := range n {
		r := eventRow{received: received(i), ingested: ingested(i)}
		if date != nil && date.IsValid(i) {
			r.date = dates.Date(date.Value(i))
		}
		if percent != nil && percent.IsValid(i) {
			r.percent = percent.Value(i)
		}
		var err error
		if r.own, err = c.buf.own(strs[sEventKey](i), strs[sVisitorKey](i), strs[sIP](i)); err != nil {
			return err
		}
		for j := numOwnStrs; j < numEventStrs; j++ {
			v := strs[j](i)
			if j == sSource {
				v, r.line = splitSource(v)
			}
			if err := c.buf.set(&r, j, v); err != nil {
				return err
			}
		}
		c.rows = append(c.rows, r)
	}
	return nil
}

// readEventTasks appends the events of the given silver.events files to c.
func readEventTasks(ctx context.Context, tbl *table.Table, tasks []table.FileScanTask, c *eventCols) error {
	err := engine.ReadFiles(ctx, tbl, tasks, c.appendBatch)
	c.buf.forget()
	return err
}

// eventIncoming returns the incoming events of one partition, as incomingFunc does for rows.
type eventIncoming func(ctx context.Context, part int32) (*eventCols, error)

// mergeEvents merges incoming events into the given partitions of silver.events (an upsert:
// the latest version of each event key wins), as merge does for tables of row structs.
// prepare readies each attempt.
func mergeEvents(ctx context.Context, w *engine.Warehouse, parts []int32, props iceberg.Properties, prepare func(context.Context) (eventIncoming, error)) (engine.MergeResult, error) {
	return engine.MergeParts(ctx, w, EventsTable, parts, props, func(ctx context.Context, tbl *table.Table, schema *arrow.Schema) (engine.RewriteFunc, func(), error) {
		incoming, err := prepare(ctx)
		if err != nil {
			return nil, nil, err
		}
		enc, err := newEventEncoder(schema, memory.DefaultAllocator)
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context, p int32, held []table.FileScanTask, write engine.WriteFunc) (engine.Rewritten, error) {
			in, err := incoming(ctx, p)
			if err != nil {
				return engine.Rewritten{}, err
			}
			if in == nil || len(in.rows) == 0 {
				return engine.Rewritten{Skipped: true}, nil
			}
			out := engine.Rewritten{RowsIn: int64(len(in.rows))}
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
			out.RowsOut = int64(len(all.rows))
			write(len(all.rows), func(lo, hi int) arrow.RecordBatch { return enc.batch(all, all.rows[lo:hi]) })
			return out, nil
		}, enc.release, nil
	})
}
