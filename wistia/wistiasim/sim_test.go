package wistiasim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
)

var testNow = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)

func start(t *testing.T, opts Options) (*Sim, *httptest.Server) {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	sim, err := New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return sim, srv
}

func get(t *testing.T, srv *httptest.Server, token, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+BasePath+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func getArray(t *testing.T, srv *httptest.Server, token, path string) []map[string]any {
	t.Helper()
	resp, body := get(t, srv, token, path)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var out []map[string]any
	require.NoError(t, json.Unmarshal(body, &out), "a bare JSON array")
	return out
}

func TestSameOptionsSameData(t *testing.T) {
	opts := Options{Seed: 42, Medias: 5, Now: testNow, LateShare: 0.1, QuirkShare: 0.2}
	_, a := start(t, opts)
	_, b := start(t, opts)
	for _, path := range []string{"/medias.json?per_page=100", "/stats/events.json?start_date=2026-11-20&end_date=2026-11-24&per_page=100&page=2"} {
		_, bodyA := get(t, a, "sim-token", path)
		_, bodyB := get(t, b, "sim-token", path)
		assert.Equal(t, bodyA, bodyB, path)
	}
	_, c := start(t, Options{Seed: 43, Medias: 5, Now: testNow})
	_, bodyC := get(t, c, "sim-token", "/medias.json")
	_, bodyA := get(t, a, "sim-token", "/medias.json")
	assert.NotEqual(t, bodyA, bodyC, "another seed gives other data")
}

func TestRealisticValues(t *testing.T) {
	sim, srv := start(t, Options{Seed: 3, Medias: 30})
	medias := getArray(t, srv, sim.Token(), "/medias.json?per_page=100")
	require.Len(t, medias, 30)
	channels := map[string]bool{}
	for _, m := range medias {
		assert.Regexp(t, `^[0-9a-z]{10}$`, m["hashed_id"])
		channels[sim.medias[sim.mediaByID[m["hashed_id"].(string)]].channel] = true
	}
	assert.True(t, channels["Facebook"] && channels["YouTube"], "the channels the marketing team reports on are present: %v", channels)

	events := getArray(t, srv, sim.Token(), "/stats/events.json?start_date=2026-11-01&end_date=2026-11-24&per_page=100")
	require.NotEmpty(t, events)
	for _, e := range events {
		assert.Regexp(t, `^\d+\.\d+\.\d+\.\d+$`, e["ip"])
		assert.Regexp(t, `^https://`, e["embed_url"])
		assert.Regexp(t, `^v\d{8}_`, e["visitor_key"])
		p := e["percent_viewed"].(float64)
		assert.True(t, p >= 0 && p <= 1, "percent_viewed %v", p)
	}
}

func TestHeavyTailedEvents(t *testing.T) {
	sim, err := New(Options{Seed: 9, Medias: 200, Now: testNow})
	require.NoError(t, err)
	truth := sim.Truth(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	perMedia := map[string]int{}
	for _, e := range truth.Events {
		perMedia[e.MediaID]++
	}
	counts := make([]int, 0, len(perMedia))
	total := 0
	for _, n := range perMedia {
		counts = append(counts, n)
		total += n
	}
	slices.Sort(counts)
	top := 0
	for _, n := range counts[len(counts)-20:] {
		top += n
	}
	assert.Greater(t, float64(top)/float64(total), 0.3, "the top 10%% of medias draw a large share of the views")
}

func TestPagingRules(t *testing.T) {
	sim, srv := start(t, Options{Seed: 1, Medias: 250})
	assert.Len(t, getArray(t, srv, sim.Token(), "/medias.json"), 10, "per_page defaults to 10")
	assert.Len(t, getArray(t, srv, sim.Token(), "/medias.json?per_page=500"), 100, "per_page is silently capped at 100")
	assert.Len(t, getArray(t, srv, sim.Token(), "/medias.json?per_page=100&page=3"), 50, "the last page is short")
	assert.Empty(t, getArray(t, srv, sim.Token(), "/medias.json?per_page=100&page=4"), "past the end is empty")
	assert.Len(t, getArray(t, srv, sim.Token(), "/medias?per_page=100&page=3"), 50, "paths work without .json")
}

func TestEventsNewestFirstWithInclusiveDates(t *testing.T) {
	sim, srv := start(t, Options{Seed: 5, Medias: 3, MeanEventsPerDay: 40})
	media := sim.MediaIDs()[0]
	var received []time.Time
	for page := 1; ; page++ {
		events := getArray(t, srv, sim.Token(), "/stats/events.json?per_page=100&media_id="+media+"&start_date=2026-11-22&end_date=2026-11-23&page="+strconv.Itoa(page))
		for _, e := range events {
			at, err := time.Parse(time.RFC3339, e["received_at"].(string))
			require.NoError(t, err)
			received = append(received, at)
		}
		if len(events) < 100 {
			break
		}
	}
	require.NotEmpty(t, received)
	assert.True(t, slices.IsSortedFunc(received, func(a, b time.Time) int { return b.Compare(a) }), "newest first")
	assert.Equal(t, "2026-11-23", received[0].Format(time.DateOnly), "end_date is included")
	assert.Equal(t, "2026-11-22", received[len(received)-1].Format(time.DateOnly), "start_date is included")
}

func TestByDateZeroFilled(t *testing.T) {
	sim, srv := start(t, Options{Seed: 5, Medias: 2, HistoryDays: 3})
	rows := getArray(t, srv, sim.Token(), "/stats/medias/"+sim.MediaIDs()[0]+"/by_date.json?start_date=2026-11-10&end_date=2026-11-16")
	require.Len(t, rows, 7, "one row per day, inclusive, days without plays included")
	assert.Equal(t, "2026-11-10", rows[0]["date"])
	assert.Equal(t, 0.0, rows[0]["play_count"], "the dataset starts 2026-11-22, so earlier days are zero")
	defaults := getArray(t, srv, sim.Token(), "/stats/medias/"+sim.MediaIDs()[0]+"/by_date.json")
	require.Len(t, defaults, 2, "without dates: yesterday and today")
	assert.Equal(t, "2026-11-24", defaults[0]["date"])
}

func TestErrorAnswers(t *testing.T) {
	sim, srv := start(t, Options{Seed: 5, Medias: 2})
	resp, body := get(t, srv, "bad-token", "/medias.json")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.JSONEq(t, `{"code":"unauthorized","error":"Invalid credentials."}`, string(body))

	resp, body = get(t, srv, sim.Token(), "/stats/medias/unknown123/by_date.json")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Empty(t, body, "stats 404s have an empty body")

	resp, body = get(t, srv, sim.Token(), "/stats/visitors/unknown.json")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Empty(t, body)

	resp, body = get(t, srv, sim.Token(), "/stats/events.json?start_date=yesterday")
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Contains(t, string(body), "start_date")

	resp, _ = get(t, srv, sim.Token(), "/stats/medias/"+sim.MediaIDs()[0]+"/by_date.json?start_date=2026-11-10&end_date=2026-11-01")
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
}

func TestRateLimitAnswers429(t *testing.T) {
	sim, srv := start(t, Options{Seed: 5, Medias: 2, RateLimit: 3, RatePeriod: time.Hour})
	for range 3 {
		resp, _ := get(t, srv, sim.Token(), "/medias.json")
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	resp, body := get(t, srv, sim.Token(), "/medias.json")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.NotEmpty(t, body)
	retryAfter := resp.Header.Get("Retry-After")
	assert.Regexp(t, `^\d+$`, retryAfter)
	assert.Equal(t, int64(1), sim.Stats().OverLimit)
}

func TestLateEventsAppearLater(t *testing.T) {
	sim, err := New(Options{Seed: 11, Medias: 10, Now: testNow, LateShare: 0.3})
	require.NoError(t, err)
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	early := len(sim.Truth(day, day).Events)
	sim.SetNow(testNow.Add(72 * time.Hour))
	later := len(sim.Truth(day, day).Events)
	assert.Greater(t, later, early, "events of 11-24 kept arriving after the day closed")
}

func TestFaultsAreInjectedAndCounted(t *testing.T) {
	sim, srv := start(t, Options{Seed: 5, Medias: 2})
	sim.SetFaults(Faults{ErrorRate: 1})
	resp, _ := get(t, srv, sim.Token(), "/medias.json")
	assert.GreaterOrEqual(t, resp.StatusCode, 500)
	sim.SetFaults(Faults{ResetRate: 1})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+BasePath+"/medias.json", nil)
	req.Header.Set("Authorization", "Bearer "+sim.Token())
	_, err := srv.Client().Do(req)
	assert.Error(t, err, "the connection is reset")
	sim.SetFaults(Faults{})
	st := sim.Stats()
	assert.Equal(t, int64(1), st.Errors)
	// Go's transport may retry a GET once on a reset pooled connection, so one or two.
	assert.GreaterOrEqual(t, st.Resets, int64(1))
}

func TestLaunchedMediasAppearAtTheirLaunch(t *testing.T) {
	launch := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	sim, srv := start(t, Options{Seed: 5, Medias: 2, MeanEventsPerDay: 400, Now: launch.Add(-time.Hour), Launches: []time.Time{launch}})
	require.Len(t, sim.MediaIDs(), 3)
	newID := sim.MediaIDs()[2]
	assert.Len(t, getArray(t, srv, "sim-token", "/medias.json"), 2, "not listed before its launch")
	resp, _ := get(t, srv, "sim-token", "/stats/medias/"+newID+"/by_date.json?start_date=2026-11-23&end_date=2026-11-23")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	sim.SetNow(time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC))
	assert.Len(t, getArray(t, srv, "sim-token", "/medias.json"), 3)
	events := getArray(t, srv, "sim-token", "/stats/events.json?media_id="+newID+"&start_date=2026-11-22&end_date=2026-11-24&per_page=100")
	require.NotEmpty(t, events)
	for _, e := range events {
		at, err := time.Parse(time.RFC3339, e["received_at"].(string))
		require.NoError(t, err)
		assert.False(t, at.Before(launch), "an event at %s, before the launch", at)
	}
	truth := sim.Truth(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	assert.Len(t, truth.Medias, 3)
}

func TestDeletedMediasKeepWhatWasServed(t *testing.T) {
	del := time.Date(2026, 11, 24, 2, 30, 0, 0, time.UTC)
	opts := Options{Seed: 6, Medias: 3, MeanEventsPerDay: 30, LateShare: 0.3, LateDays: 3, Now: del.Add(-time.Second),
		Deletions: []Deletion{{Index: 1, At: del}}}
	sim, srv := start(t, opts)
	gone := sim.MediaIDs()[1]
	from, to := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	before := sim.Truth(from, to)

	sim.SetNow(time.Date(2026, 11, 26, 2, 30, 0, 0, time.UTC))
	for _, m := range getArray(t, srv, "sim-token", "/medias.json") {
		assert.NotEqual(t, gone, m["hashed_id"], "a deleted media is not listed")
	}
	resp, _ := get(t, srv, "sim-token", "/stats/medias/"+gone+"/by_date.json")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Empty(t, getArray(t, srv, "sim-token", "/stats/events.json?media_id="+gone+"&start_date=2026-11-20&end_date=2026-11-25"))

	after := sim.Truth(from, to.AddDate(0, 0, 2))
	keep := func(events []TruthEvent) []string {
		var keys []string
		for _, e := range events {
			if e.MediaID == gone {
				keys = append(keys, e.EventKey)
			}
		}
		return keys
	}
	require.NotEmpty(t, keep(before.Events))
	assert.Equal(t, keep(before.Events), keep(after.Events), "late events that came after the deletion are not the truth")
	var days []string
	for _, d := range after.Daily {
		if d.MediaID == gone {
			days = append(days, dates.DateOf(d.Date).String())
		}
	}
	assert.Equal(t, []string{"2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"}, days, "by_date rows up to the day before the deletion")
	assert.Len(t, after.Medias, 3, "a deleted media stays in the dimension")

	_, err := New(Options{Medias: 2, Deletions: []Deletion{{Index: 2}}})
	assert.ErrorContains(t, err, "deletion of media 2: the account has 2")
}

func TestBurstDayMultipliesTheEvents(t *testing.T) {
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // a Monday
	count := func(opts Options) int {
		sim, err := New(opts)
		require.NoError(t, err)
		return len(sim.Truth(day, day).Events)
	}
	opts := Options{Seed: 8, Medias: 10, MeanEventsPerDay: 40, Now: testNow}
	usual := count(opts)
	opts.Bursts = map[time.Time]float64{day: 5}
	burst := count(opts)
	assert.InDelta(t, 5*usual, burst, float64(usual), "five times the usual %d events", usual)
}

func TestStormAnswers429WithAnHTTPDate(t *testing.T) {
	sim, srv := start(t, Options{Seed: 1, Medias: 1})
	sim.SetFaults(Faults{Storm: 30 * time.Second})
	resp, _ := get(t, srv, "sim-token", "/medias.json")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	at, err := http.ParseTime(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q is an HTTP date", resp.Header.Get("Retry-After"))
	assert.WithinDuration(t, time.Now().Add(30*time.Second), at, 2*time.Second)
	sim.SetFaults(Faults{})
	resp, _ = get(t, srv, "sim-token", "/medias.json")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	st := sim.Stats()
	assert.Equal(t, []int64{1, 0, 1}, []int64{st.Stormed, st.OverLimit, st.PeakWindow}, "stormed requests take no budget")
}

// A planted record is there on every day, whatever the seed and the day: a year of days from
// a leap year's January, each asked for at the next day's fire and after its late noon.
func TestPlantedRecordsAreOnEveryDay(t *testing.T) {
	all := []Planted{PlantCorrupt, PlantLate, PlantDuplicate, PlantQuirky, PlantHostileVisitor, PlantDayEdges}
	first := time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
	for seed := range int64(3) {
		sim, srv := start(t, Options{Seed: seed, Medias: 2, MeanEventsPerDay: 0.1, Now: first, Plant: all})
		media := sim.MediaIDs()[0]
		for day := first; day.Before(first.AddDate(1, 0, 0)); day = day.AddDate(0, 0, 1) {
			d := dates.DateOf(day).String()
			sim.SetNow(day.AddDate(0, 0, 1).Add(2 * time.Hour))
			fire := getArray(t, srv, "sim-token", "/stats/events.json?media_id="+media+"&start_date="+d+"&end_date="+d+"&per_page=100")
			keys, corrupt, quirky, hostile, edges := map[string]int{}, 0, 0, 0, 0
			for _, e := range fire {
				if e["visitor_key"] == HostileVisitorKey {
					hostile++
				}
				if at, err := time.Parse(time.RFC3339, fmt.Sprint(e["received_at"])); err == nil &&
					(at.Sub(day) == 30*time.Second || day.AddDate(0, 0, 1).Sub(at) == 30*time.Second) {
					edges++
				}
				k, ok := e["event_key"].(string)
				if !ok {
					corrupt++
					continue
				}
				keys[k]++
				if _, err := time.Parse(time.RFC3339, e["received_at"].(string)); err != nil {
					quirky++
				}
			}
			twice := 0
			for _, n := range keys {
				if n == 2 {
					twice++
				}
			}
			require.Positive(t, corrupt, "seed %d %s: a corrupt event", seed, d)
			require.Positive(t, twice, "seed %d %s: an event listed twice", seed, d)
			require.Positive(t, quirky, "seed %d %s: an event in an undocumented form", seed, d)
			require.Positive(t, hostile, "seed %d %s: an event whose visitor_key is a path", seed, d)
			require.GreaterOrEqual(t, edges, 2, "seed %d %s: events half a minute from either end of the day", seed, d)
			early := len(sim.Truth(day, day).Events)
			sim.SetNow(day.AddDate(0, 0, 1).Add(12 * time.Hour))
			require.Greater(t, len(sim.Truth(day, day).Events), early, "seed %d %s: a late event arrives at noon of the next day", seed, d)
		}
	}
}

func TestPlantRefusesAnUnknownKind(t *testing.T) {
	_, err := New(Options{Seed: 1, Medias: 1, Plant: []Planted{PlantDayEdges + 1}})
	assert.ErrorContains(t, err, "Plant holds 7")
}
