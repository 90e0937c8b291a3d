package lake_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// API fields named like the lineage columns are kept in bronze as they came, but the lineage
// comes from the bronze writer's metadata.
func TestAPIFieldsCannotOverrideLineage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "file", wistiasim.Options{Seed: 1, Medias: 1})
	day := dates.DateOf(time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC))
	evil := `"_run_id":"evil","_ingested_at":"2099-01-01T00:00:00Z","_source":"evil","_page":99`
	write := func(w bronze.Landing, record string) {
		bw := bronze.NewWriter(f.Store, w, nil, func() time.Time { return f.Clock })
		_, err := bw.WritePage(ctx, "/v1/test.json", 1, []json.RawMessage{json.RawMessage(record)})
		require.NoError(t, err)
		_, err = bw.Finish(ctx, true)
		require.NoError(t, err)
	}
	write(bronze.Landing{Stream: bronze.StreamEvents, Day: day, Media: "m1", RunID: "run-1"},
		`{"event_key":"e1","received_at":"2026-11-18T10:00:00Z","media_id":"m1","visitor_key":"v1","percent_viewed":0.5,`+evil+`}`)
	write(bronze.Landing{Stream: bronze.StreamMedias, Day: day, Media: bronze.AllMedia, RunID: "run-1"},
		`{"hashed_id":"m1","name":"Demo","duration":60,"created":"2026-01-01T00:00:00Z","updated":"2026-01-02T00:00:00Z",`+evil+`}`)
	_, err := f.lh.Transform(ctx, f.Store, []dates.Date{day}, "run-1")
	require.NoError(t, err)

	events, err := lake.ReadRows[silver.Event](ctx, f.lh, day, day)
	require.NoError(t, err)
	require.Len(t, events, 1)
	medias, err := lake.ReadRows[silver.Media](ctx, f.lh, 0, 0)
	require.NoError(t, err)
	require.Len(t, medias, 1)
	for _, got := range []struct {
		runID      string
		ingestedAt time.Time
		source     string
	}{
		{events[0].RunID, events[0].IngestedAt, events[0].Source},
		{medias[0].RunID, medias[0].IngestedAt, medias[0].Source},
	} {
		assert.Equal(t, "run-1", got.runID)
		assert.True(t, f.Clock.Equal(got.ingestedAt), "ingested at %s, the writer's clock", got.ingestedAt)
		assert.Contains(t, got.source, "/run=run-1/part-00001.jsonl.gz#1")
	}
}

// Impossible values are quarantined with their reason when bronze is typed; a percent_viewed
// above 1 is kept, counted, and capped at 1 in gold's watch time.
func TestImpossibleValuesAreQuarantinedAndPercentAboveOneIsCapped(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "file", wistiasim.Options{Seed: 1, Medias: 1})
	day := dates.DateOf(time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC))
	write := func(w bronze.Landing, records ...string) {
		bw := bronze.NewWriter(f.Store, w, nil, func() time.Time { return f.Clock })
		var raw []json.RawMessage
		for _, r := range records {
			raw = append(raw, json.RawMessage(r))
		}
		_, err := bw.WritePage(ctx, "/v1/test.json", 1, raw)
		require.NoError(t, err)
		_, err = bw.Finish(ctx, true)
		require.NoError(t, err)
	}
	event := func(key, percent string) string {
		return `{"event_key":"` + key + `","received_at":"2026-11-18T10:00:00Z","media_id":"m1","visitor_key":"v-` + key + `","percent_viewed":` + percent + `}`
	}
	write(bronze.Landing{Stream: bronze.StreamEvents, Day: day, Media: "m1", RunID: "run-1"},
		event("ok", "0.5"), event("over", "1.5"), event("negative", "-0.2"), event("nan", `"NaN"`), event("inf", `"+Inf"`))
	write(bronze.Landing{Stream: bronze.StreamMedias, Day: day, Media: bronze.AllMedia, RunID: "run-1"},
		`{"hashed_id":"m1","name":"Demo","duration":60,"created":"2026-01-01T00:00:00Z","updated":"2026-01-02T00:00:00Z"}`)
	write(bronze.Landing{Stream: bronze.StreamDailyStats, Day: day, Media: "m1", RunID: "run-1", Start: day, End: day},
		`{"date":"2026-11-18","load_count":4,"play_count":-3,"hours_watched":0.1}`)
	rep, err := f.lh.Transform(ctx, f.Store, []dates.Date{day}, "run-1")
	require.NoError(t, err)

	events, err := lake.ReadRows[silver.Event](ctx, f.lh, day, day)
	require.NoError(t, err)
	var kept []string
	for _, e := range events {
		kept = append(kept, e.EventKey)
	}
	assert.Equal(t, []string{"ok", "over"}, kept)
	assert.Equal(t, 1, rep.PercentOverOne)
	assert.Equal(t, map[string]int{bronze.StreamEvents: 3, bronze.StreamDailyStats: 1}, rep.Quarantined)
	q, err := lake.ReadRows[silver.Quarantined](ctx, f.lh, 0, 0)
	require.NoError(t, err)
	reasons := map[string]string{}
	for _, r := range q {
		reasons[r.Stream+" "+r.Raw] = r.Reason
	}
	assert.Equal(t, "percent_viewed -0.2 is negative or not a finite number", reasons[bronze.StreamEvents+" "+event("negative", "-0.2")])
	assert.Equal(t, `percent_viewed: "NaN" is not a number`, reasons[bronze.StreamEvents+" "+event("nan", `"NaN"`)])
	assert.Equal(t, `percent_viewed: "+Inf" is not a number`, reasons[bronze.StreamEvents+" "+event("inf", `"+Inf"`)])
	assert.Equal(t, "impossible counts: load_count 4, play_count -3, hours_watched 0.1",
		reasons[bronze.StreamDailyStats+` {"date":"2026-11-18","load_count":4,"play_count":-3,"hours_watched":0.1}`])

	engagement, err := lake.ReadRows[gold.FactEngagement](ctx, f.lh, day, day)
	require.NoError(t, err)
	watch := map[string]float64{}
	for _, e := range engagement {
		watch[e.VisitorID] = e.TotalWatchTime
	}
	assert.Equal(t, map[string]float64{"v-ok": 30, "v-over": 60}, watch, "0.5 × 60 s, and 1.5 capped at 1 × 60 s")
	check, err := f.lh.CheckRead(ctx, f.Store, []dates.Date{day}, rep.Read)
	require.NoError(t, err)
	assert.Zero(t, check.ProblemsTotal, check.Problems)
}

// IDs that are not plain tokens never reach an object key or a workflow: the media list drops
// them (and a media listed twice is ingested once), and the transform quarantines their records.
func TestHostileIDsAreQuarantinedAndNeverUsedAsNames(t *testing.T) {
	ctx := context.Background()
	opts := simOptions
	opts.HostileIDs = true
	f := newFixture(t, "file", opts)
	days := lastDays(t, 2)
	f.Land(t, "run-1", days)

	_, listed, err := f.In.Medias(ctx, days[1], "run-2")
	require.NoError(t, err)
	assert.Equal(t, f.Sim.MediaIDs(), listed, "every media once, none of the hostile IDs")
	keys, err := f.Store.List(ctx, "bronze/")
	require.NoError(t, err)
	for _, key := range keys {
		assert.NotContains(t, key, "..", key)
		assert.NotContains(t, key, " ", key)
		assert.NotContains(t, key, "media=/", key)
		assert.NotContains(t, key, "media=a/b", key)
	}

	rep, err := f.lh.Transform(ctx, f.Store, days, "run-1")
	require.NoError(t, err)
	truthcheck.AssertLakehouse(t, f.lh, f.Sim.Truth(days[0].Time(), days[1].Time()))
	reasons, _ := quarantined(t, f.lh, bronze.StreamMedias)
	assert.ElementsMatch(t, []string{
		`hashed_id "../../etc" holds '.': only letters, digits, '_' and '-' are allowed`,
		`hashed_id "a/b" holds '/': only letters, digits, '_' and '-' are allowed`,
		`hashed_id "has space" holds ' ': only letters, digits, '_' and '-' are allowed`,
		`missing required field "hashed_id"`, // the decoder already refuses an empty one
		`hashed_id "xxxxxxxxxxxxxxxxxxxx"… is 65 characters long, more than 64`,
	}, reasons)
	assert.Equal(t, len(wistiasim.HostileIDs), rep.Quarantined[bronze.StreamMedias])
}

// The quarantine keeps a bad record as it came, but for its emails: a salted hash with
// PII_SALT, "redacted" without, as they came with PII_COLUMNS_IN_SILVER. Bronze stays raw.
func TestQuarantineHidesEmailsUnlessPIIIsAllowed(t *testing.T) {
	ctx := context.Background()
	day := dates.DateOf(time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC))
	record := `{"received_at":"2026-11-18T10:00:00Z","media_id":"m1","visitor_key":"v1","email":"Ann@Example.com","visitor_identity":{"email":"ann@example.com"},"ip":"10.0.0.1"}`
	mac := hmac.New(sha256.New, []byte("pepper"))
	mac.Write([]byte("ann@example.com"))
	hashed := "hmac-sha256:" + hex.EncodeToString(mac.Sum(nil))
	for name, c := range map[string]struct {
		inSilver bool
		salt     string
		want     string
	}{
		"default":  {want: `{"email":"redacted","ip":"10.0.0.1","media_id":"m1","received_at":"2026-11-18T10:00:00Z","visitor_identity":{"email":"redacted"},"visitor_key":"v1"}`},
		"salted":   {salt: "pepper", want: `{"email":"` + hashed + `","ip":"10.0.0.1","media_id":"m1","received_at":"2026-11-18T10:00:00Z","visitor_identity":{"email":"` + hashed + `"},"visitor_key":"v1"}`},
		"inSilver": {inSilver: true, salt: "pepper", want: record},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, "file", wistiasim.Options{Seed: 1, Medias: 1})
			cfg := f.Config
			cfg.PIIInSilver, cfg.PIISalt = c.inSilver, config.Secret(c.salt)
			lh, err := cfg.OpenLakehouse(ctx)
			require.NoError(t, err)
			t.Cleanup(func() { lh.Close() })
			w := bronze.Landing{Stream: bronze.StreamEvents, Day: day, Media: "m1", RunID: "run-1"}
			bw := bronze.NewWriter(f.Store, w, nil, func() time.Time { return f.Clock })
			_, err = bw.WritePage(ctx, "/v1/stats/events.json", 1, []json.RawMessage{json.RawMessage(record)})
			require.NoError(t, err)
			m, err := bw.Finish(ctx, true)
			require.NoError(t, err)
			_, err = lh.Transform(ctx, f.Store, []dates.Date{day}, "run-1")
			require.NoError(t, err)

			q, err := lake.ReadRows[silver.Quarantined](ctx, lh, 0, 0)
			require.NoError(t, err)
			require.Len(t, q, 1)
			assert.Equal(t, "event_key is missing", q[0].Reason)
			assert.Equal(t, c.want, q[0].Raw)
			for line, err := range bronze.ReadObject(ctx, f.Store, m.Objects[0]) {
				require.NoError(t, err)
				assert.Contains(t, string(line.Bytes), `"email":"Ann@Example.com"`, "bronze keeps the record raw")
			}
		})
	}
}

// An event of a normal media whose visitor_key is a path is quarantined with its reason: it
// reaches neither silver.events nor fact_media_engagement, and no visitor is fetched for it.
func TestHostileVisitorKeyIsQuarantined(t *testing.T) {
	ctx := context.Background()
	opts := simOptions
	opts.Plant = []wistiasim.Planted{wistiasim.PlantHostileVisitor}
	opts.CorruptShare = 0 // the planted event is the only one quarantined
	f := newFixture(t, "file", opts)
	days := lastDays(t, 2)
	f.Land(t, "run-1", days)
	keys, err := f.Store.List(ctx, "bronze/")
	require.NoError(t, err)
	for _, key := range keys {
		assert.NotContains(t, key, "tmp", key)
	}
	rep, err := f.lh.Transform(ctx, f.Store, days, "run-1")
	require.NoError(t, err)
	truthcheck.AssertLakehouse(t, f.lh, f.Sim.Truth(days[0].Time(), days[1].Time()))

	reasons, raws := quarantined(t, f.lh, bronze.StreamEvents)
	for _, raw := range raws {
		assert.Contains(t, raw, wistiasim.HostileVisitorKey)
	}
	want := `visitor_key "../../../tmp/visitor" holds '.': only letters, digits, '_' and '-' are allowed`
	assert.Equal(t, []string{want, want}, reasons, "one planted per day")
	assert.Equal(t, 2, rep.Quarantined[bronze.StreamEvents])
	engagement, err := lake.ReadRows[gold.FactEngagement](ctx, f.lh, days[0], days[1])
	require.NoError(t, err)
	for _, e := range engagement {
		assert.NotEqual(t, wistiasim.HostileVisitorKey, e.VisitorID)
	}
}

// quarantined is the reasons and raw records silver.quarantine holds for stream.
func quarantined(t *testing.T, lh *lake.Lakehouse, stream string) (reasons, raws []string) {
	t.Helper()
	q, err := lake.ReadRows[silver.Quarantined](context.Background(), lh, 0, 0)
	require.NoError(t, err)
	for _, r := range q {
		if r.Stream == stream {
			reasons, raws = append(reasons, r.Reason), append(raws, r.Raw)
		}
	}
	return reasons, raws
}
