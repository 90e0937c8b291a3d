package silver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go/table"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomEvents are versions of a few hundred events: landed at a few instants, from sources
// whose line numbers order differently as text ("#10" before "#9") than as numbers, some of
// them not "<object>#<line>" at all, and re-landed with the same content or with changes.
func randomEvents(seed uint64, n int) []Event {
	r := rand.New(rand.NewPCG(seed, 1))
	t0 := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	out := make([]Event, n)
	for i := range out {
		key := r.IntN(n / 4)
		// An event's content comes from its key, so most versions of it are equal but for
		// their lineage; one in four changes it.
		kr := rand.New(rand.NewPCG(seed, uint64(key)))
		if r.IntN(4) == 0 {
			kr = r
		}
		pick := func(vals ...string) string { return vals[kr.IntN(len(vals))] }
		received := t0.Add(time.Duration(kr.IntN(86400e6)) * time.Microsecond)
		e := Event{EventKey: fmt.Sprintf("evt_%d", key), Date: dates.DateOf(received), ReceivedAt: received,
			MediaID: pick("m1", "m2", "m3"), VisitorKey: pick("v1", "v2", ""), PercentViewed: float64(kr.IntN(3)) / 2,
			EmbedURL: pick("https://a.example/x", ""), IP: pick("203.0.113.1", "203.0.113.2"), Country: pick("US", "DE", ""),
			Region: pick("CA", ""), City: pick("San Francisco", "Zürich"), Org: pick("Acme", ""), ConversionType: pick("", "lead")}
		pick = func(vals ...string) string { return vals[r.IntN(len(vals))] }
		e.Lineage = Lineage{IngestedAt: t0.Add(time.Duration(96+r.IntN(3)) * time.Hour), RunID: pick("run-1", "run-2"),
			Source: pick("bronze/a.jsonl.gz#", "bronze/b.jsonl.gz#", "bronze/c#x", "") + pick("9", "10", "007", "")}
		if r.IntN(50) == 0 {
			e.IngestedAt = time.Time{} // a null, as an operator's own row might have
		}
		out[i] = e
	}
	return out
}

// event is row r as an Event.
func (c *eventCols) event(r *eventRow) Event {
	e := Event{EventKey: c.text(r, sEventKey), Date: r.date, ReceivedAt: engine.TimeOfMicros(r.received), MediaID: c.text(r, sMediaID),
		VisitorKey: c.text(r, sVisitorKey), PercentViewed: r.percent, EmbedURL: c.text(r, sEmbedURL), IP: c.text(r, sIP),
		Country: c.text(r, sCountry), Region: c.text(r, sRegion), City: c.text(r, sCity), Org: c.text(r, sOrg),
		ConversionType: c.text(r, sConversionType)}
	e.Lineage = Lineage{IngestedAt: engine.TimeOfMicros(r.ingested), RunID: c.text(r, sRunID), Source: string(c.source(nil, r))}
	return e
}

func eventsArrowSchema(t testing.TB) *arrow.Schema {
	sc, err := table.SchemaToArrowSchema(EventsTable.Schema(), nil, true, false)
	require.NoError(t, err)
	return sc
}

// colsOf builds eventCols from Events the way a merge reads silver: through an Arrow batch the
// generic codec encodes.
func colsOf(t testing.TB, events []Event) *eventCols {
	enc, err := EventsTable.Encoder(eventsArrowSchema(t), memory.DefaultAllocator)
	require.NoError(t, err)
	defer enc.Release()
	for i := range events {
		enc.Append(&events[i])
	}
	rec := enc.Flush()
	defer rec.Release()
	c := &eventCols{}
	require.NoError(t, c.appendBatch(rec))
	return c
}

// eventsOf decodes what the columnar encoder writes for c, with the generic codec.
func eventsOf(t *testing.T, c *eventCols) []Event {
	enc, err := newEventEncoder(eventsArrowSchema(t), memory.DefaultAllocator)
	require.NoError(t, err)
	defer enc.release()
	rec := enc.batch(c, c.rows)
	defer rec.Release()
	return EventsTable.Decode(rec, nil)
}

func TestEventColsRoundTripEvents(t *testing.T) {
	events := randomEvents(1, 400)
	got := eventsOf(t, colsOf(t, events))
	assert.Equal(t, events, got)
}

// The columnar dedupe keeps exactly the rows latest keeps over Events with EventsTable's key,
// version and same, including when the rows come in two sets appended one to the other.
func TestEventColsDedupeAgreesWithEventsTable(t *testing.T) {
	for seed := range uint64(5) {
		events := randomEvents(seed, 2000)
		want := engine.Latest(slices.Clone(events), EventsTable.Key, EventsTable.Version, EventsTable.Same())

		c := colsOf(t, events[:700])
		require.NoError(t, c.appendCols(colsOf(t, events[700:])))
		c.dedupe()
		assert.Equal(t, want, eventsOf(t, c), "seed %d", seed)
	}
}

func TestSplitSourceKeepsWhatItCannotRebuild(t *testing.T) {
	for in, want := range map[string]struct {
		object string
		line   int32
	}{
		"bronze/a.jsonl.gz#12": {"bronze/a.jsonl.gz", 12},
		"a#b#0":                {"a#b", 0},
		"a#007":                {"a#007", -1},
		"a#-1":                 {"a#-1", -1},
		"a#":                   {"a#", -1},
		"a":                    {"a", -1},
		"a#99999999999":        {"a#99999999999", -1},
	} {
		object, line := splitSource(in)
		assert.Equal(t, want.object, object, in)
		assert.Equal(t, want.line, line, in)
	}
}

// The bronze reader fills one buffer with line after line, and the parser hands strBuf views
// of it: a value strBuf remembers must be its own copy, or the next line rewrites it.
func TestStrBufKeepsNoViewOfItsInput(t *testing.T) {
	var c eventCols
	line := []byte("Austin")
	view := unsafe.String(&line[0], len(line))
	for range 2 { // written, then found
		var r eventRow
		require.NoError(t, c.buf.set(&r, sCity, view))
		c.rows = append(c.rows, r)
	}
	copy(line, "Berlin") // the next line
	var r eventRow
	require.NoError(t, c.buf.set(&r, sCity, view))
	c.rows = append(c.rows, r)
	var got []string
	for i := range c.rows {
		got = append(got, c.text(&c.rows[i], sCity))
	}
	assert.Equal(t, []string{"Austin", "Austin", "Berlin"}, got)
}

// BenchmarkEventEncoderBatch builds one batch of engine.BatchRows events, as a merge hands the
// Parquet writers.
func BenchmarkEventEncoderBatch(b *testing.B) {
	c := colsOf(b, randomEvents(1, engine.BatchRows))
	enc, err := newEventEncoder(eventsArrowSchema(b), memory.DefaultAllocator)
	require.NoError(b, err)
	defer enc.release()
	b.ReportAllocs()
	for b.Loop() {
		enc.batch(c, c.rows).Release()
	}
}
