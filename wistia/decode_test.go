package wistia

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeEventTolerance(t *testing.T) {
	want := time.Date(2026, 11, 20, 14, 3, 9, 0, time.UTC)
	cases := map[string]struct {
		json    string
		percent float64
		at      time.Time
	}{
		"as documented": {`{"event_key":"k","received_at":"2026-11-20T14:03:09Z","percent_viewed":0.5}`, 0.5, want},
		"number as string, offset timestamp": {
			`{"event_key":"k","received_at":"2026-11-20T15:03:09+01:00","percent_viewed":"0.25"}`, 0.25, want},
		"space-separated UTC timestamp": {`{"event_key":"k","received_at":"2026-11-20 14:03:09 UTC"}`, 0, want},
		"fractional seconds":            {`{"event_key":"k","received_at":"2026-11-20T14:03:09.000Z"}`, 0, want},
		"no zone means UTC":             {`{"event_key":"k","received_at":"2026-11-20T14:03:09"}`, 0, want},
		"compact offset":                {`{"event_key":"k","received_at":"2026-11-20T14:03:09+0000"}`, 0, want},
		"unix seconds":                  {`{"event_key":"k","received_at":1795183389}`, 0, want},
		"nulls and unknown fields": {
			`{"event_key":"k","received_at":"2026-11-20T14:03:09Z","percent_viewed":null,"email":null,"brand_new":{"x":1}}`, 0, want},
		"objects as strings or empty": {
			`{"event_key":"k","received_at":"2026-11-20T14:03:09Z","user_agent_details":"","thumbnail":"https://x/y.jpg"}`, 0, want},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e, err := DecodeEvent([]byte(c.json))
			require.NoError(t, err)
			assert.Equal(t, Text("k"), e.EventKey)
			assert.Equal(t, c.at, e.ReceivedAt.Time)
			assert.InDelta(t, c.percent, float64(e.PercentViewed), 1e-12)
		})
	}
}

func TestDecodeEventRejects(t *testing.T) {
	cases := map[string]string{
		"no event key":        `{"received_at":"2026-11-20T14:03:09Z"}`,
		"blank event key":     `{"event_key":"  ","received_at":"2026-11-20T14:03:09Z"}`,
		"no received_at":      `{"event_key":"k"}`,
		"garbage received_at": `{"event_key":"k","received_at":"last tuesday"}`,
		"percent is a word":   `{"event_key":"k","received_at":"2026-11-20T14:03:09Z","percent_viewed":"most"}`,
		"not an object":       `"k"`,
		"agent is a number":   `{"event_key":"k","received_at":"2026-11-20T14:03:09Z","user_agent_details":7}`,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeEvent([]byte(raw))
			assert.Error(t, err)
		})
	}
}

func TestDecodeMediaTolerance(t *testing.T) {
	m, err := DecodeMedia([]byte(`{
		"id": "4812", "hashed_id": "abc123defg", "name": 2024, "archived": "false",
		"created": "2025-01-02T03:04:05+00:00", "duration": "61.5",
		"project": {"id": 7, "name": "YouTube Shorts", "hashedId": "p1"},
		"subfolder": "Launch", "tags": [{"name": "youtube"}, "paid", {"name": ""}],
		"thumbnail": {"url": "https://t/x.jpg", "width": "200"}}`))
	require.NoError(t, err)
	assert.Equal(t, Count(4812), m.ID)
	assert.Equal(t, Text("2024"), m.Name)
	assert.False(t, bool(m.Archived))
	assert.Equal(t, Number(61.5), m.Duration)
	assert.Equal(t, Project{ID: 7, Name: "YouTube Shorts", HashedID: "p1"}, m.Project)
	assert.Equal(t, Subfolder{Name: "Launch"}, m.Subfolder)
	assert.Equal(t, Tags{"youtube", "paid"}, m.Tags)
	assert.Equal(t, Text("https://t/x.jpg"), m.Thumbnail.URL)

	m, err = DecodeMedia([]byte(`{"hashed_id":"x","project":"Facebook Ads","tags":"facebook, paid","subfolder":null,"thumbnail":[]}`))
	require.NoError(t, err)
	assert.Equal(t, Text("Facebook Ads"), m.Project.Name)
	assert.Equal(t, Tags{"facebook", "paid"}, m.Tags)
	assert.Zero(t, m.Subfolder)

	_, err = DecodeMedia([]byte(`{"name":"no id"}`))
	assert.ErrorIs(t, err, errMissing)
	_, err = DecodeMedia([]byte(`{"hashed_id":"x","id":1.5}`))
	assert.Error(t, err, "a fractional id is not an id")
}

func TestDecodeDailyStatAndVisitor(t *testing.T) {
	s, err := DecodeDailyStat([]byte(`{"date":"2026-11-20","load_count":"12","play_count":3,"hours_watched":"0.75"}`))
	require.NoError(t, err)
	assert.Equal(t, DailyStat{Date: Timestamp{time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)}, LoadCount: 12, PlayCount: 3, HoursWatched: 0.75}, s)
	_, err = DecodeDailyStat([]byte(`{"load_count":1}`))
	assert.ErrorIs(t, err, errMissing)

	v, err := DecodeVisitor([]byte(`{"visitor_key":"v1","play_count":"4","visitor_identity":{"name":"Ann","email":null,"org":{"name":"Acme","title":null}},"user_agent_details":{"browser":"Firefox","mobile":"1"}}`))
	require.NoError(t, err)
	assert.Equal(t, Count(4), v.PlayCount)
	assert.Equal(t, Text("Acme"), v.Identity.Org.Name)
	assert.True(t, bool(v.UserAgentDetails.Mobile))
	_, err = DecodeVisitor([]byte(`{"play_count":1}`))
	assert.ErrorIs(t, err, errMissing)
}

func TestNewPageKeepsRejectsAndRaw(t *testing.T) {
	body := []byte(`[{"event_key":"a","received_at":"2026-11-20T00:00:01Z"}, {"received_at":"2026-11-20T00:00:02Z"}, 42]`)
	p, err := newPage(3, "/stats/events.json?page=3", body, DecodeEvent)
	require.NoError(t, err)
	assert.Equal(t, body, p.Body)
	assert.Len(t, p.Records, 3)
	require.Len(t, p.Items, 1)
	assert.Equal(t, Text("a"), p.Items[0].EventKey)
	require.Len(t, p.Rejects, 2)
	assert.Equal(t, 1, p.Rejects[0].Index)
	assert.Contains(t, p.Rejects[0].Reason, "event_key")
	assert.JSONEq(t, `42`, string(p.Rejects[1].Raw))

	_, err = newPage(1, "/medias.json", []byte(`{"error":"oops"}`), DecodeMedia)
	assert.ErrorIs(t, err, ErrMalformedBody)
	_, err = newPage(1, "/medias.json", []byte(`[{"hashed_id":"a"},{"hash`), DecodeMedia)
	assert.ErrorIs(t, err, ErrMalformedBody)
}

// The fuzz targets check that no input panics a decoder and that an accepted record has the
// fields it was accepted for. Their seed corpus runs with every `go test`.

func FuzzDecodeEvent(f *testing.F) {
	for _, seed := range []string{
		`{"event_key":"k","received_at":"2026-11-20T14:03:09Z","percent_viewed":"0.5","lat":"1e2"}`,
		`{"event_key":1,"received_at":1795183389.5,"user_agent_details":{"mobile":"yes"}}`,
		`{"event_key":"k","received_at":"2026-11-20 14:03:09 -0500","thumbnail":""}`,
		`[]`, `null`, `{"event_key":{"a":[1,2]},"received_at":"2026-01-01"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := DecodeEvent(raw)
		if err != nil {
			return
		}
		if e.EventKey == "" || e.ReceivedAt.IsZero() {
			t.Fatalf("accepted an event without key or time: %+v", e)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatalf("accepted event does not re-encode: %v", err)
		}
	})
}

func FuzzDecodeMedia(f *testing.F) {
	for _, seed := range []string{
		`{"hashed_id":"abc","id":"7","project":{"id":"3","name":"x"},"tags":[{"name":"a"},"b"]}`,
		`{"hashed_id":"abc","project":"P","subfolder":"","tags":"a,b,,c","archived":"1"}`,
		`{"hashed_id":"abc","created":"2024-02-29","duration":null,"thumbnail":[]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := DecodeMedia(raw)
		if err == nil && m.HashedID == "" {
			t.Fatalf("accepted a media without hashed_id: %+v", m)
		}
	})
}

func FuzzParseTimestamp(f *testing.F) {
	for _, seed := range []string{"2026-11-20T14:03:09Z", "2026-11-20 14:03:09 UTC", "2026-11-20", "2026-13-45", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTimestamp(s)
		if err == nil && ts.Location() != time.UTC {
			t.Fatalf("%q parsed outside UTC: %v", s, ts)
		}
	})
}
