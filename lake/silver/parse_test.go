package silver

import (
	"testing"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventParserTypesLikeTheClient(t *testing.T) {
	p := eventParserPool.Get().(*eventParser)
	defer eventParserPool.Put(p)
	reason := p.parse([]byte(`{"_ingested_at":"2026-11-01T00:00:00.5Z","_run_id":"r1","event_key":"a\"b\u00e9",` +
		`"received_at":"2026-11-01 10:00:00 UTC","percent_viewed":"0.5","ip":12,"country":null,"media_id":"m1","unknown":{"x":[1]}}`))
	require.Empty(t, reason)
	var c eventCols
	require.NoError(t, p.row(&c, "", -1))
	assert.Equal(t, Event{EventKey: "a\"bé", Date: dates.DateOf(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)),
		ReceivedAt: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), MediaID: "m1", PercentViewed: 0.5, IP: "12",
		Lineage: Lineage{IngestedAt: time.Date(2026, 11, 1, 0, 0, 0, 5e8, time.UTC), RunID: "r1"}}, c.event(&c.rows[0]))

	for line, want := range map[string]string{
		`{"_ingested_at":"2026-11-01T00:00:00Z","received_at":"2026-11-01T10:00:00Z"}`:                               "event_key is missing",
		`{"_ingested_at":"2026-11-01T00:00:00Z","event_key":"k"}`:                                                    "received_at is missing",
		`{"_ingested_at":"2026-11-01T00:00:00Z","event_key":"k","received_at":"yesterday"}`:                          "received_at: ",
		`{"_ingested_at":"2026-11-01T00:00:00Z","event_key":"k","received_at":"2026-11-01","percent_viewed":"lots"}`: "percent_viewed: ",
		`{"event_key":"k","received_at":"2026-11-01"}`:                                                               "bronze _ingested_at",
		`[1,2]`: "not a JSON object",
	} {
		assert.Contains(t, p.parse([]byte(line)), want, line)
	}
}

// The parser reuses the _ingested_at it parsed last only for the same text: a line with another
// time, or with none or an unreadable one, after it gets its own reading.
func TestEventParserReadsEachLinesIngestedAt(t *testing.T) {
	p := eventParserPool.Get().(*eventParser)
	defer eventParserPool.Put(p)
	line := func(ingested string) []byte {
		return []byte(`{` + ingested + `"event_key":"k","received_at":"2026-11-01T10:00:00Z"}`)
	}
	t1, t2 := time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 1, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		field  string
		want   time.Time
		reason string
	}{
		{field: `"_ingested_at":"2026-11-02T01:00:00Z",`, want: t1},
		{field: `"_ingested_at":"2026-11-02T01:00:00Z",`, want: t1},
		{field: `"_ingested_at":"2026-11-03T01:00:00Z",`, want: t2},
		{field: ``, reason: "bronze _ingested_at is missing or unreadable"},
		{field: `"_ingested_at":"2026-11-03T01:00:0Z",`, reason: "bronze _ingested_at is missing or unreadable"},
		{field: `"_ingested_at":"2026-11-03T01:00:00Z",`, want: t2},
		{field: `"_ingested_at":"2026-11-02T01:00:00Z",`, want: t1},
	} {
		reason := p.parse(line(step.field))
		assert.Equal(t, step.reason, reason, step.field)
		if reason == "" {
			assert.Equal(t, step.want, p.ingested, step.field)
		}
	}
}
