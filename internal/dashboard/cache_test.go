package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/dashboard"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// truePlays is the plays of the truth's days, in all and of one media.
func truePlays(truth wistiasim.Truth, media string) (all, ofMedia int64) {
	for _, f := range truth.MediaDaily {
		all += f.Plays
		if f.MediaID == media {
			ofMedia += f.Plays
		}
	}
	return all, ofMedia
}

// A run's commit shows on the next request: what the dashboard keeps is keyed by the tables'
// snapshots, so nothing read before the commit is served after it.
func TestNextRequestShowsANewRun(t *testing.T) {
	for _, warehouse := range []string{"file", "s3"} {
		t.Run(warehouse, func(t *testing.T) {
			s := emptySite(t, warehouse)
			last := dates.DateOf(simNow).AddDays(-1)
			all := dates.Range(last.AddDays(-9), last)
			media := "/api/media/"
			query := "?from=" + all[0].String() + "&to=" + last.String()

			var f dashboard.Freshness
			require.Equal(t, http.StatusOK, s.get(t, "/api/freshness", &f))
			assert.Empty(t, f.DataThrough, "no run yet")
			var rep dashboard.ChannelsReport
			require.Equal(t, http.StatusOK, s.get(t, "/api/channels"+query, &rep))
			assert.Zero(t, rep.Total.Plays, "no run yet")

			s.run(t, "run-1", all[:9])
			id := s.truth.Medias[0].HashedID
			plays9, media9 := truePlays(s.truth, id)
			require.Equal(t, http.StatusOK, s.get(t, "/api/channels"+query, &rep))
			assert.Equal(t, plays9, rep.Total.Plays, "the first run's nine days")
			var m dashboard.MediaReport
			require.Equal(t, http.StatusOK, s.get(t, media+id+query, &m))
			assert.Equal(t, media9, m.Total.Plays)
			require.Equal(t, http.StatusOK, s.get(t, "/api/freshness", &f))
			assert.Equal(t, all[8].String(), f.DataThrough)

			s.run(t, "run-2", all)
			plays10, media10 := truePlays(s.truth, id)
			require.Greater(t, plays10, plays9, "the tenth day has plays")
			require.Equal(t, http.StatusOK, s.get(t, "/api/channels"+query, &rep))
			assert.Equal(t, plays10, rep.Total.Plays, "the second run's ten days, on the first request after it")
			require.Equal(t, http.StatusOK, s.get(t, media+id+query, &m))
			assert.Equal(t, media10, m.Total.Plays)
			assert.Equal(t, countries(s.truth, id), m.Countries)
			require.Equal(t, http.StatusOK, s.get(t, "/api/freshness", &f))
			assert.Equal(t, last.String(), f.DataThrough)
			var def dashboard.ChannelsReport
			require.Equal(t, http.StatusOK, s.get(t, "/api/channels", &def))
			assert.Equal(t, last.String(), def.To, "the default range ends on the new last day")
		})
	}
}

// everyEndpoint requests each API endpoint once, over the site's days and by default.
func (s *site) everyEndpoint(t *testing.T) {
	t.Helper()
	query := "?from=" + s.from + "&to=" + s.to
	for _, path := range []string{"/api/freshness", "/api/channels", "/api/channels" + query, "/api/top-media" + query,
		"/api/media/" + s.truth.Medias[0].HashedID + query, "/api/media/" + s.truth.Medias[1].HashedID} {
		var v map[string]any
		require.Equal(t, http.StatusOK, s.get(t, path, &v), path)
	}
}

// snapshots are the current snapshot ids of the gold tables the dashboard reads, by name.
func snapshots(t *testing.T, lh *lake.Lakehouse) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	out := map[string]int64{}
	add := func(name string, id int64, err error) {
		require.NoError(t, err)
		out[name] = id
	}
	facts, err := lake.LoadSnapshot[gold.FactMediaDaily](ctx, lh)
	add("gold.fact_media_daily", facts.ID(), err)
	dims, err := lake.LoadSnapshot[gold.DimMedia](ctx, lh)
	add("gold.dim_media", dims.ID(), err)
	engagement, err := lake.LoadSnapshot[gold.FactEngagement](ctx, lh)
	add("gold.fact_media_engagement", engagement.ID(), err)
	visitors, err := lake.LoadSnapshot[gold.DimVisitor](ctx, lh)
	add("gold.dim_visitor", visitors.ID(), err)
	return out
}

// readsAfter is the reads to expect after a commit that moved the tables from the snapshots
// before to those after: one more for each table whose snapshot changed.
func readsAfter(reads map[string]int, before, after map[string]int64) map[string]int {
	want := map[string]int{}
	for name, n := range reads {
		want[name] = n
		if before[name] != after[name] {
			want[name]++
		}
	}
	return want
}

// Requests on the same snapshots read no table again; a commit makes the next request read
// the tables it changed, once.
func TestSameSnapshotIsReadOnce(t *testing.T) {
	s := newSite(t, "file")
	s.everyEndpoint(t)
	once := map[string]int{"gold.fact_media_daily": 1, "gold.dim_media": 1, "gold.fact_media_engagement": 1, "gold.dim_visitor": 1}
	assert.Equal(t, once, s.reports.Reads(), "each table read once")
	for range 3 {
		s.everyEndpoint(t)
	}
	assert.Equal(t, once, s.reports.Reads(), "the same snapshots are not read again")

	before := snapshots(t, s.lake)
	last := dayOf(t, s.to)
	s.run(t, "run-2", []dates.Date{last.AddDays(-1), last}) // a daily run: the last day and the one before
	after := snapshots(t, s.lake)
	require.NotEqual(t, before["gold.fact_media_daily"], after["gold.fact_media_daily"], "the run committed the daily fact")
	want := readsAfter(once, before, after)
	for range 3 {
		s.everyEndpoint(t)
	}
	assert.Equal(t, want, s.reports.Reads(), "each changed table read once more")
}

// Requests that arrive together on a new snapshot wait for one read of it.
func TestConcurrentRequestsOnANewSnapshotReadOnce(t *testing.T) {
	s := newSite(t, "file")
	s.everyEndpoint(t)
	reads, before := s.reports.Reads(), snapshots(t, s.lake)
	last := dayOf(t, s.to)
	s.run(t, "run-2", []dates.Date{last.AddDays(-1), last})
	after := snapshots(t, s.lake)

	id := s.truth.Medias[0].HashedID
	_, want := truePlays(s.truth, id)
	const requests = 8
	got := make([]dashboard.MediaReport, requests)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			<-start
			resp, err := http.Get(s.url + "/api/media/" + id + "?from=" + s.from + "&to=" + s.to)
			if assert.NoError(t, err) {
				defer resp.Body.Close()
				assert.NoError(t, json.NewDecoder(resp.Body).Decode(&got[i]))
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, readsAfter(reads, before, after), s.reports.Reads(), "each changed table read once for %d requests", requests)
	for i, m := range got {
		assert.Equal(t, want, m.Total.Plays, "request %d", i)
	}
}
