package wistiasim

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTruthAgreesWithTheAPI recomputes the ground truth by hand from the simulator's HTTP
// answers (JSON, not the dataset's structs) and compares.
func TestTruthAgreesWithTheAPI(t *testing.T) {
	sim, srv := start(t, Options{Seed: 21, Medias: 4, MeanEventsPerDay: 15, LateShare: 0.2, CorruptShare: 0.05, DuplicateShare: 0.1})
	from, to := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	truth := sim.Truth(from, to)

	durations := map[string]float64{}
	for _, m := range getArray(t, srv, sim.Token(), "/medias.json?per_page=100") {
		durations[m["hashed_id"].(string)] = m["duration"].(float64)
	}
	require.Len(t, truth.Medias, 4)
	for _, m := range truth.Medias {
		assert.Equal(t, durations[m.HashedID], m.Duration)
	}

	type key struct{ media, visitor, date string }
	plays := map[key]int64{}
	seconds := map[key]float64{}
	distinct := map[string]bool{}
	corrupt := 0
	for _, media := range sim.MediaIDs() {
		for page := 1; ; page++ {
			events := getArray(t, srv, sim.Token(), fmt.Sprintf("/stats/events.json?media_id=%s&start_date=2026-11-20&end_date=2026-11-24&per_page=100&page=%d", media, page))
			for _, e := range events {
				k, ok := e["event_key"].(string)
				if !ok {
					corrupt++
					continue
				}
				if distinct[k] {
					continue // the API lists some events twice
				}
				distinct[k] = true
				at, err := time.Parse(time.RFC3339, e["received_at"].(string))
				require.NoError(t, err)
				g := key{media, e["visitor_key"].(string), at.Format(time.DateOnly)}
				plays[g]++
				seconds[g] += e["percent_viewed"].(float64) * durations[media]
			}
			if len(events) < 100 {
				break
			}
		}
	}
	assert.Len(t, truth.Events, len(distinct))
	assert.Equal(t, corrupt, truth.Quarantined)
	require.Len(t, truth.Engagement, len(plays))
	for _, f := range truth.Engagement {
		g := key{f.MediaID, f.VisitorKey, f.Date.Format(time.DateOnly)}
		assert.Equal(t, plays[g], f.Plays, "%v", g)
		assert.InDelta(t, seconds[g], f.TotalWatchTime, 1e-9, "%v", g)
		assert.InDelta(t, seconds[g]/(float64(plays[g])*durations[f.MediaID]), f.WatchedPercent, 1e-12)
	}

	for _, media := range sim.MediaIDs() {
		rows := getArray(t, srv, sim.Token(), "/stats/medias/"+media+"/by_date.json?start_date=2026-11-20&end_date=2026-11-24")
		for _, row := range rows {
			var fact *FactMediaDaily
			for i := range truth.MediaDaily {
				if truth.MediaDaily[i].MediaID == media && truth.MediaDaily[i].Date.Format(time.DateOnly) == row["date"] {
					fact = &truth.MediaDaily[i]
				}
			}
			require.NotNil(t, fact, "%s %s", media, row["date"])
			loads, playCount := row["load_count"].(float64), row["play_count"].(float64)
			assert.Equal(t, int64(loads), fact.Loads)
			assert.Equal(t, int64(playCount), fact.Plays)
			if loads > 0 {
				assert.InDelta(t, playCount/loads, fact.PlayRate, 1e-12, "play rate is plays over loads")
			}
			assert.Equal(t, row["hours_watched"], fact.HoursWatched)
			assert.LessOrEqual(t, fact.PlayRate, 1.0)
		}
	}
	for _, v := range truth.Visitors {
		assert.NotEmpty(t, v.IP)
		assert.Len(t, v.Country, 2)
	}
	assert.False(t, math.IsNaN(truth.MediaDaily[0].PlayRate))
}
