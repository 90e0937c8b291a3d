package ingest

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/wistia"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

var simNow = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

// ingester lands from a simulator into a local store, with a clock the test moves.
func ingester(t testing.TB, opts wistiasim.Options) (*Ingester, *wistiasim.Sim, *time.Time) {
	t.Helper()
	opts.Now, opts.RateLimit = simNow, -1
	sim, err := wistiasim.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client, err := wistia.New(wistia.Config{BaseURL: srv.URL + wistiasim.BasePath, APIToken: config.Secret(sim.Token()),
		RateLimit: 10_000, RatePeriod: time.Second, RequestTimeout: 5 * time.Second, MaxAttempts: 3,
		BackoffBase: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond, MaxRetryAfter: time.Second, PerPage: 100})
	require.NoError(t, err)
	store, err := bronze.NewLocalStore(t.TempDir())
	require.NoError(t, err)
	clock := simNow
	return &Ingester{Client: client, Store: store, Now: func() time.Time { return clock }, VisitorsPerObject: 10}, sim, &clock
}

// landEvents lands every media's events of the days for runID and returns, by media, the
// visitor keys of the events the simulator serves for those days (its own ground truth).
func landEvents(t testing.TB, in *Ingester, sim *wistiasim.Sim, days []dates.Date, runID string) map[string][]string {
	t.Helper()
	for _, media := range sim.MediaIDs() {
		for _, day := range days {
			_, err := in.Events(context.Background(), media, day, runID, EventsProgress{}, nil)
			require.NoError(t, err)
		}
	}
	byMedia := map[string][]string{}
	for _, e := range sim.Truth(days[0].Time(), days[len(days)-1].Time()).Events {
		if !slices.Contains(byMedia[e.MediaID], e.VisitorKey) {
			byMedia[e.MediaID] = append(byMedia[e.MediaID], e.VisitorKey)
		}
	}
	return byMedia
}

func TestVisitorsAreFetchedOncePerRunAcrossMedias(t *testing.T) {
	ctx := context.Background()
	in, sim, clock := ingester(t, wistiasim.Options{Seed: 9, Medias: 6, Visitors: 40, MeanEventsPerDay: 15})
	last := dates.DateOf(simNow).AddDays(-1)
	days := []dates.Date{last.AddDays(-1), last}
	byMedia := landEvents(t, in, sim, days, "run-1")
	distinct, perMedia := map[string]bool{}, 0
	for _, keys := range byMedia {
		perMedia += len(keys)
		for _, k := range keys {
			distinct[k] = true
		}
	}
	require.Greater(t, perMedia, len(distinct), "some visitors watched several medias")

	l, err := in.Visitors(ctx, bronze.AllMedia, days, last, "run-1", VisitorsProgress{}, nil)
	require.NoError(t, err)
	assert.Equal(t, len(distinct), l.Requests, "one request per distinct visitor (one per media and visitor was %d)", perMedia)
	assert.Equal(t, len(distinct), l.Records)
	var m bronze.Manifest
	manifests, err := bronze.Manifests(ctx, in.Store, bronze.StreamVisitors, last)
	require.NoError(t, err)
	require.Len(t, manifests, 1)
	m = manifests[0]
	assert.Len(t, m.Objects, (len(distinct)+9)/10, "ten records an object")

	// The next run, within a day: the visitors are fresh and have not played since.
	landEvents(t, in, sim, days, "run-2")
	l, err = in.Visitors(ctx, bronze.AllMedia, days, last, "run-2", VisitorsProgress{}, nil)
	require.NoError(t, err)
	assert.Zero(t, l.Requests, "fetched within the last day by run-1")

	// A day later they are fetched again.
	*clock = clock.Add(25 * time.Hour)
	landEvents(t, in, sim, days, "run-3")
	l, err = in.Visitors(ctx, bronze.AllMedia, days, last, "run-3", VisitorsProgress{}, nil)
	require.NoError(t, err)
	assert.Equal(t, len(distinct), l.Requests)
}

func TestVisitorsResumeFromTheirCursor(t *testing.T) {
	ctx := context.Background()
	in, sim, _ := ingester(t, wistiasim.Options{Seed: 9, Medias: 6, Visitors: 200, MeanEventsPerDay: 30})
	last := dates.DateOf(simNow).AddDays(-1)
	days := []dates.Date{last.AddDays(-1), last}
	distinct := map[string]bool{}
	for _, keys := range landEvents(t, in, sim, days, "run-1") {
		for _, k := range keys {
			distinct[k] = true
		}
	}
	require.Greater(t, len(distinct), 30)

	// The first attempt dies after its second object: its last heartbeat is what it left.
	var beats []VisitorsProgress
	stop, cancel := context.WithCancel(ctx)
	_, err := in.Visitors(stop, bronze.AllMedia, days, last, "run-1", VisitorsProgress{}, func(p VisitorsProgress) {
		beats = append(beats, p)
		if len(beats) == 2 {
			cancel()
		}
	})
	require.Error(t, err)
	resume := beats[1]
	require.Len(t, resume.Objects, 2)

	l, err := in.Visitors(ctx, bronze.AllMedia, days, last, "run-1", resume, nil)
	require.NoError(t, err)
	assert.Equal(t, len(distinct), l.Records, "the resumed fetch lands every visitor once")
	assert.Equal(t, len(distinct)-20, l.Requests-resume.Requests, "and does not ask again for the 20 landed before the crash")
}
