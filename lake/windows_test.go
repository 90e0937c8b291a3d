package lake_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// landWindow lands one events window by hand: the events the API listed for media m on day,
// as (event_key, received_at) pairs.
func landWindow(t *testing.T, f *fixture, runID, day string, events [][2]string) {
	t.Helper()
	d, err := dates.Parse(day)
	require.NoError(t, err)
	var records []json.RawMessage
	for _, e := range events {
		records = append(records, json.RawMessage(fmt.Sprintf(
			`{"event_key":%q,"received_at":%q,"media_id":"m1","visitor_key":"v1","percent_viewed":0.5,"ip":"10.0.0.1","country":"US"}`, e[0], e[1])))
	}
	bw := bronze.NewWriter(f.Store, bronze.Landing{Stream: bronze.StreamEvents, Day: d, Media: "m1", RunID: runID}, nil, func() time.Time { return f.Clock })
	_, err = bw.WritePage(context.Background(), "/v1/stats/events.json", 1, records)
	require.NoError(t, err)
	_, err = bw.Finish(context.Background(), true)
	require.NoError(t, err)
}

// silverByDate is silver.events' keys by partition.
func silverByDate(t *testing.T, lh *lake.Lakehouse) map[string][]string {
	t.Helper()
	rows, err := lake.ReadRows[silver.Event](context.Background(), lh, 0, 0)
	require.NoError(t, err)
	out := map[string][]string{}
	for _, e := range rows {
		out[e.Date.String()] = append(out[e.Date.String()], e.EventKey)
	}
	return out
}

// The API's stats days are in an undocumented zone: a window lists events whose UTC day is
// the window's, the one before (zones east of UTC) or the one after (west). Each lands on the
// UTC day of its received_at; none is quarantined for it.
func TestEventsLandOnTheirUTCDayWhateverWindowListedThem(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "file", wistiasim.Options{Seed: 1, Medias: 1})
	landWindow(t, f, "run-1", "2026-11-18", [][2]string{
		{"e-own", "2026-11-18T10:00:00Z"},
		{"e-west", "2026-11-19T03:00:00Z"}, // 19:00 on the 18th in Los Angeles
		{"e-east", "2026-11-17T22:00:00Z"}, // 07:00 on the 18th in Tokyo
		{"e-far", "2026-11-25T00:00:00Z"},  // no zone explains it
	})
	landWindow(t, f, "run-1", "2026-11-19", [][2]string{
		{"e-west", "2026-11-19T03:00:00Z"}, // listed again by the next window
		{"e-19", "2026-11-19T12:00:00Z"},
	})
	days := []dates.Date{dates.DateOf(time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)), dates.DateOf(time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC))}
	rep, err := f.lh.Transform(ctx, f.Store, days, "run-1")
	require.NoError(t, err)

	assert.Equal(t, map[string][]string{
		"2026-11-17": {"e-east"},
		"2026-11-18": {"e-own"},
		"2026-11-19": {"e-19", "e-west"},
	}, silverByDate(t, f.lh))
	assert.Equal(t, map[string]int{bronze.StreamEvents: 1}, rep.Quarantined, "only the event no zone explains")
	q, err := lake.ReadRows[silver.Quarantined](ctx, f.lh, 0, 0)
	require.NoError(t, err)
	require.Len(t, q, 1)
	assert.Contains(t, q[0].Raw, "e-far")
	assert.Contains(t, q[0].Reason, "is more than a day from the day 2026-11-18 of the window that listed it")
	assert.Contains(t, dates.Strings(rep.Dates), "2026-11-17", "gold is recomputed for the day an event spilled onto")
	engagement, err := lake.ReadRows[gold.FactEngagement](ctx, f.lh, days[0].AddDays(-1), days[0].AddDays(-1))
	require.NoError(t, err)
	require.Len(t, engagement, 1)
	assert.Equal(t, int64(1), engagement[0].PlayCount)

	check, err := f.lh.CheckRead(ctx, f.Store, days, rep.Read)
	require.NoError(t, err)
	assert.Zero(t, check.ProblemsTotal, check.Problems)
	assert.Equal(t, 5, check.BronzeEvents, "e-own, e-west, e-east from the 18th; e-west, e-19 from the 19th; the far one is quarantined")

	// Merging the 19th alone keeps what the 18th's window put on the 17th and the 18th.
	rep, err = f.lh.Transform(ctx, f.Store, days[1:], "run-2")
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{
		"2026-11-17": {"e-east"},
		"2026-11-18": {"e-own"},
		"2026-11-19": {"e-19", "e-west"},
	}, silverByDate(t, f.lh))
	for _, m := range rep.Merges {
		if m.Table == "silver.events" {
			assert.Equal(t, 1, m.Partitions, "only the 19th receives events; its neighbours stay as they are")
		}
	}
}

// With the account's stats days in a zone west or east of UTC (or on it, London in winter),
// and the lakehouse configured with it, silver and gold equal the ground truth on the
// account's days (across daylight-saving changes under `make test-dates`), every event lies on
// the day of the window that listed it, and the zone check finds nothing.
func TestAnyStatsZoneMatchesGroundTruth(t *testing.T) {
	for _, name := range []string{"Pacific/Honolulu", "America/Los_Angeles", "America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Tokyo", "Pacific/Tongatapu"} {
		t.Run(name, func(t *testing.T) {
			zone, err := time.LoadLocation(name)
			require.NoError(t, err)
			opts := simOptions
			opts.Zone = zone
			f := newFixture(t, "file", opts)
			days := lastDays(t, 3)
			f.Land(t, "run-1", days)
			rep, err := f.lh.Transform(context.Background(), f.Store, days, "run-1")
			require.NoError(t, err)
			assert.Empty(t, rep.OffZone)
			truth := f.Sim.Truth(days[0].Time(), days[len(days)-1].Time())
			truthcheck.AssertLakehouse(t, f.lh, truth)
			silver := silverByDate(t, f.lh)
			assert.Len(t, silver, len(days), "events only on the days that listed them")
		})
	}
}

// A lakehouse configured with another zone than the account's cuts the days at the wrong
// midnight: the zone check counts the events outside their window's day and names the offset
// they fit, which is the account's, whichever day it runs on.
func TestAStatsZoneSetWrongIsNamed(t *testing.T) {
	for _, c := range []struct{ account, configured, want string }{
		{"America/New_York", "UTC", ""}, // -05:00 or -04:00, by the day's offsets in New York
		{"Asia/Kolkata", "UTC", "UTC+05:30"},
		{"UTC", "Asia/Tokyo", "UTC"},
	} {
		t.Run(c.account+" as "+c.configured, func(t *testing.T) {
			zone, err := time.LoadLocation(c.account)
			require.NoError(t, err)
			opts := simOptions
			opts.Zone = zone
			opts.Plant = append(opts.Plant, wistiasim.PlantDayEdges) // the events bound the zone to the minute
			f := newFixture(t, "file", opts)
			f.Config.StatsTimezone = c.configured
			lh := f.Lakehouse(t)
			days := lastDays(t, 2)
			f.Land(t, "run-1", days)
			rep, err := lh.Transform(context.Background(), f.Store, days, "run-1")
			require.NoError(t, err)
			require.Len(t, rep.OffZone, len(days), "every window's events fall partly outside its day")
			for i, w := range rep.OffZone {
				want := []string{c.want}
				if c.want == "" {
					// The account's offset as the day begins and as it ends: on the day its
					// clocks change the events fit either, and are named by one of them.
					z := dates.ZoneOf(zone)
					want = []string{z.Offset(z.Start(days[i])), z.Offset(z.Start(days[i].AddDays(1)).Add(-time.Second))}
				}
				assert.Equal(t, days[i], w.Day)
				assert.Equal(t, c.configured, w.Zone)
				assert.Contains(t, want, w.PointsTo, w.String())
				assert.Positive(t, w.OffZone)
			}
		})
	}
}
