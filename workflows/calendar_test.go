package workflows_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/app"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// TestScheduledDaysEqualTheTruth runs the schedule's daily fires for yesterday and the day
// before, with the worker's real activities against the simulator and a lakehouse on disk,
// and compares every table with the simulator's ground truth after each. Temporal's test
// environment stands in for the server so that every clock the run reads (the workflow's,
// the schedule's fire, the activities', the simulator's) is on testenv.Today: `make
// test-dates` runs it as if on each day of a range. The workflow code, the activities and the
// stores are the ones production runs; only the Temporal service is in memory, and the
// schedule's part, TemporalScheduledStartTime, is set as the schedule sets it.
func TestScheduledDaysEqualTheTruth(t *testing.T) {
	today := testenv.Today(t)
	first := today.AddDate(0, 0, -4) // the first fire's catch-up starts here (no watermarks)
	sim, err := wistiasim.New(wistiasim.Options{Seed: 21, Medias: 3, Visitors: 40, MeanEventsPerDay: 5, LateShare: 0.05,
		QuirkShare: 0.05, DuplicateShare: 0.02, RateLimit: -1, Now: fireOf(first, time.UTC),
		Plant: []wistiasim.Planted{wistiasim.PlantCorrupt, wistiasim.PlantLate, wistiasim.PlantDuplicate, wistiasim.PlantQuirky}})
	require.NoError(t, err)
	res, opts := openWorker(t, sim, first, "UTC")
	clock := sim.Now()
	res.Activities.Now = func() time.Time { return clock }
	res.Activities.Ingester.Now = res.Activities.Now

	var before wistiasim.Truth // the last fire's truth of the day before its date
	for _, day := range []time.Time{today.AddDate(0, 0, -2), today.AddDate(0, 0, -1)} {
		fire := fireOf(day, time.UTC)
		clock = fire.Add(30 * time.Minute)
		sim.SetNow(clock)
		if !before.From.IsZero() {
			// The day before was final for the API by then except for its late events: this
			// fire reads them through its lookback.
			late := newKeys(sim.Truth(before.From, before.To), before)
			require.NotEmpty(t, late, "the simulator plants a late event on %s", dates.DateOf(before.From).String())
		}

		got := scheduledFire(t, res, opts, fire)
		assert.Equal(t, dates.DateOf(day).String(), got.Progress.Date, "the fire at %s runs the day before", fire)
		assert.Equal(t, string(activities.ModeCatchUp), got.Progress.Mode)
		assert.Equal(t, workflows.PhaseDone, got.Progress.Phase)

		truth := sim.Truth(first, day)
		require.Positive(t, truth.Quarantined, "the simulator plants a corrupt event every day")
		truthcheck.AssertLakehouse(t, res.Lake, truth)
		before = sim.Truth(day, day)
	}
}

// fireOf is when the schedule (workflows.DefaultCron, in the account's zone) fires for a day:
// 03:00 there the next day.
func fireOf(day time.Time, zone *time.Location) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day()+1, 3, 0, 0, 0, zone)
}

// newKeys lists the events of now that were not in then.
func newKeys(now, then wistiasim.Truth) []string {
	seen := map[string]bool{}
	for _, e := range then.Events {
		seen[e.EventKey] = true
	}
	var out []string
	for _, e := range now.Events {
		if !seen[e.EventKey] {
			out = append(out, e.EventKey)
		}
	}
	return out
}

// openWorker opens the activities' clients and stores from the environment a worker process
// of the account reads, on the simulator and a fresh data folder.
func openWorker(t *testing.T, sim *wistiasim.Sim, ingestFrom time.Time, zone string, env ...string) (*app.Resources, workflows.Options) {
	t.Helper()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	for i := 0; i+1 < len(env); i += 2 {
		t.Setenv(env[i], env[i+1])
	}
	for k, v := range map[string]string{
		"WISTIA_BASE_URL": srv.URL + wistiasim.BasePath, "WISTIA_API_TOKEN": sim.Token(), "WISTIA_ACCOUNT": "acct",
		"WISTIA_RATE_LIMIT": "10000", "WISTIA_RATE_PERIOD": "1s", "WISTIA_BACKOFF_BASE": "5ms", "WISTIA_BACKOFF_MAX": "50ms",
		"DATA_DIR": t.TempDir(), "INGEST_FIRST_DAY": dates.DateOf(ingestFrom).String(), "METRICS_ADDR": "", "LOG_LEVEL": "warn",
		"WISTIA_STATS_TIMEZONE": zone, "MAX_CONCURRENCY": "3",
	} {
		t.Setenv(k, v)
	}
	cfg, err := app.LoadConfig()
	require.NoError(t, err)
	res, err := app.Open(context.Background(), cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { res.Close() })
	return res, cfg.Options() // as the schedule's action carries them
}

// scheduledFire runs DailyRunWorkflow as the schedule starts it at fire, in a test
// environment whose clock starts there.
func scheduledFire(t *testing.T, res *app.Resources, opts workflows.Options, fire time.Time) workflows.DailyRunResult {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(fire)
	// The deadlock detector times a workflow task by the wall clock: with packages tested side
	// by side on two cores, a task can wait more than its default second for a core (seen
	// under `make test-dates` while another package ran).
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: fmt.Sprintf("wistia-daily-%s", fire.Format(time.RFC3339))})
	env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime").ValueSet(fire)))
	app.Register(env, res.Activities)
	app.RegisterMerges(env, res.Activities)
	env.SetTestTimeout(5 * time.Minute)
	env.ExecuteWorkflow(workflows.DailyRunType, workflows.DailyRunInput{Options: opts})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var out workflows.DailyRunResult
	require.NoError(t, env.GetWorkflowResult(&out))
	return out
}

// zoneCases are accounts counting their days west of UTC, on it and east of it. New York's
// day is the one after its spring change, so the run's window holds a 23-hour day.
var zoneCases = []struct {
	zone string
	day  func(today time.Time) time.Time // the date the single scheduled run makes final
}{
	{"Pacific/Honolulu", yesterdayOf}, // UTC-10
	{"America/New_York", func(time.Time) time.Time { return time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC) }},
	{"UTC", yesterdayOf},
	{"Asia/Kolkata", yesterdayOf},      // UTC+05:30
	{"Asia/Tokyo", yesterdayOf},        // UTC+09
	{"Pacific/Tongatapu", yesterdayOf}, // UTC+13
}

func yesterdayOf(today time.Time) time.Time { return today.AddDate(0, 0, -1) }

// TestScheduledRunMakesTheLocalDayFinal: with the account's stats days in its zone, the single
// scheduled fire after local day D has ended (03:00 there the next day) leaves silver's events
// of D equal to every event the API lists for local D, fact_media_daily of D equal to the
// API's by_date of D, and the two facts' plays per media-day equal wherever the API lists
// every play as an event. The simulator's clock, not the real one, drives it.
func TestScheduledRunMakesTheLocalDayFinal(t *testing.T) {
	for _, c := range zoneCases {
		t.Run(c.zone, func(t *testing.T) {
			loc, err := time.LoadLocation(c.zone)
			require.NoError(t, err)
			day := c.day(testenv.Today(t))
			first := day.AddDate(0, 0, -3)
			fire := fireOf(day, loc)
			sim, err := wistiasim.New(wistiasim.Options{Seed: 25, Medias: 3, Visitors: 40, MeanEventsPerDay: 8, LateShare: 0.05,
				QuirkShare: 0.05, RateLimit: -1, Now: fire.Add(30 * time.Minute), Zone: loc,
				Plant: []wistiasim.Planted{wistiasim.PlantCorrupt, wistiasim.PlantDuplicate},
				// Launched at 15:00 local on the day: unwatched on the days before, by_date says.
				Launches: []time.Time{fire.Add(-12 * time.Hour)}})
			require.NoError(t, err)
			res, opts := openWorker(t, sim, first, c.zone)
			res.Activities.Now = sim.Now
			res.Activities.Ingester.Now = sim.Now

			got := scheduledFire(t, res, opts, fire)
			assert.Equal(t, dates.DateOf(day).String(), got.Progress.Date, "the fire at %s runs the local day before", fire)
			assert.Equal(t, c.zone, got.Progress.Zone)
			assert.Equal(t, workflows.PhaseDone, got.Progress.Phase)
			assert.Empty(t, got.Progress.OffZone, "the events fit the configured zone")

			truth := sim.Truth(first, day)
			truthcheck.AssertLakehouse(t, res.Lake, truth)
			assertFactsAgree(t, res.Lake, truth)
			unwatched := 0
			for _, st := range truth.Daily { // the days the run read, no watermark yet: first..day
				if st.Loads == 0 && st.Plays == 0 {
					unwatched++
				}
			}
			require.GreaterOrEqual(t, unwatched, 3, "the launched media's days before its launch")
			assert.Equal(t, unwatched, got.Progress.Unwatched, "media-days by_date shows unwatched: their events are not asked for")
		})
	}
}

// assertFactsAgree checks that fact_media_daily's plays (the API's by_date) equal the plays
// fact_media_engagement counts from the events, for each media-day of truth where the API
// lists every play as an event (none of them corrupt), and that there are such media-days.
func assertFactsAgree(t *testing.T, lh *lake.Lakehouse, truth wistiasim.Truth) {
	t.Helper()
	type mediaDay struct {
		media string
		day   dates.Date
	}
	listed := map[mediaDay]int64{}
	for _, e := range truth.Events {
		listed[mediaDay{e.MediaID, dates.DateOf(e.Day)}]++
	}
	daily, err := lake.ReadRows[gold.FactMediaDaily](context.Background(), lh, dates.DateOf(truth.From), dates.DateOf(truth.To))
	require.NoError(t, err)
	engagement, err := lake.ReadRows[gold.FactEngagement](context.Background(), lh, dates.DateOf(truth.From), dates.DateOf(truth.To))
	require.NoError(t, err)
	fromEvents := map[mediaDay]int64{}
	for _, f := range engagement {
		fromEvents[mediaDay{f.MediaID, f.Date}] += f.PlayCount
	}
	compared := 0
	for _, f := range daily {
		k := mediaDay{f.MediaID, f.Date}
		if f.PlayCount == 0 || listed[k] != f.PlayCount {
			continue // a corrupt event: a play by_date counts that no typeable event lists
		}
		compared++
		assert.Equal(t, f.PlayCount, fromEvents[k], "plays of %s on %s: by_date against the events", f.MediaID, f.Date)
	}
	assert.Positive(t, compared, "media-days whose every play is an event")
}

// A worker configured with UTC for an account that counts its days in Kolkata (the setting
// every account had before it existed) cuts events at the wrong midnight: the run still
// completes, its report lists the windows whose events fall outside their day, and an alert
// through SNS names the offset the events fit.
func TestARunInAnotherZoneThanTheAccountsAlertsWithTheZoneItFits(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	day := yesterdayOf(testenv.Today(t))
	fire := fireOf(day, time.UTC)
	sim, err := wistiasim.New(wistiasim.Options{Seed: 26, Medias: 3, Visitors: 40, MeanEventsPerDay: 30, RateLimit: -1,
		Now: fire.Add(30 * time.Minute), Zone: kolkata, Plant: []wistiasim.Planted{wistiasim.PlantDayEdges}})
	require.NoError(t, err)
	topic := testenv.StartSNS(t)
	res, opts := openWorker(t, sim, day.AddDate(0, 0, -1), "UTC",
		"ALERT_SNS_TOPIC_ARN", topic.TopicARN, "ALERT_SNS_ENDPOINT", topic.Endpoint,
		"AWS_REGION", topic.Region, "AWS_ACCESS_KEY_ID", "goaws", "AWS_SECRET_ACCESS_KEY", "goaws-not-a-secret")
	res.Activities.Now = sim.Now
	res.Activities.Ingester.Now = sim.Now

	got := scheduledFire(t, res, opts, fire)
	assert.Equal(t, workflows.PhaseDone, got.Progress.Phase)
	require.NotEmpty(t, got.Progress.OffZone)
	for _, w := range got.Progress.OffZone {
		assert.Equal(t, "UTC+05:30", w.PointsTo, w.String())
		assert.Equal(t, "UTC", w.Zone)
	}
	bodies := topic.Receive(t)
	require.Len(t, bodies, 1, "one alert")
	for _, want := range []string{`"zone check"`, "WISTIA_STATS_TIMEZONE", "UTC+05:30", dates.DateOf(day).String()} {
		assert.Contains(t, bodies[0], want)
	}
}
