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
	"github.com/marketing-data/wistia-pipeline/internal/app"
	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
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
	first := dates.AddDays(today, -4) // the first fire's catch-up starts here (no watermarks)
	sim, err := wistiasim.New(wistiasim.Options{Seed: 21, Medias: 3, Visitors: 40, MeanEventsPerDay: 5, LateShare: 0.05,
		QuirkShare: 0.05, DuplicateShare: 0.02, RateLimit: -1, Now: fireOf(first),
		Plant: []wistiasim.Planted{wistiasim.PlantCorrupt, wistiasim.PlantLate, wistiasim.PlantDuplicate, wistiasim.PlantQuirky}})
	require.NoError(t, err)
	res := openWorker(t, sim, first)
	clock := sim.Now()
	res.Activities.Now = func() time.Time { return clock }
	res.Activities.Ingester.Now = res.Activities.Now

	var before wistiasim.Truth // the last fire's truth of the day before its date
	for _, day := range []time.Time{dates.AddDays(today, -2), dates.AddDays(today, -1)} {
		fire := fireOf(day)
		clock = fire.Add(30 * time.Minute)
		sim.SetNow(clock)
		if !before.From.IsZero() {
			// The day before was final for the API by then except for its late events: this
			// fire reads them through its lookback.
			late := newKeys(sim.Truth(before.From, before.To), before)
			require.NotEmpty(t, late, "the simulator plants a late event on %s", dates.Format(before.From))
		}

		got := scheduledFire(t, res, fire)
		assert.Equal(t, dates.Format(day), got.Progress.Date, "the fire at %s runs the day before", fire)
		assert.Equal(t, string(activities.ModeCatchUp), got.Progress.Mode)
		assert.Equal(t, workflows.PhaseDone, got.Progress.Phase)

		truth := sim.Truth(first, day)
		require.Positive(t, truth.Quarantined, "the simulator plants a corrupt event every day")
		truthcheck.AssertLakehouse(t, res.Lake, truth)
		before = sim.Truth(day, day)
	}
}

// fireOf is when the schedule (workflows.DefaultCron) fires for a day: 02:00 UTC the next day.
func fireOf(day time.Time) time.Time { return dates.AddDays(day, 1).Add(2 * time.Hour) }

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
func openWorker(t *testing.T, sim *wistiasim.Sim, ingestFrom time.Time) *app.Resources {
	t.Helper()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{
		"WISTIA_BASE_URL": srv.URL + wistiasim.BasePath, "WISTIA_API_TOKEN": sim.Token(), "WISTIA_ACCOUNT": "acct",
		"WISTIA_RATE_LIMIT": "10000", "WISTIA_RATE_PERIOD": "1s", "WISTIA_BACKOFF_BASE": "5ms", "WISTIA_BACKOFF_MAX": "50ms",
		"DATA_DIR": t.TempDir(), "INGEST_FIRST_DAY": dates.Format(ingestFrom), "METRICS_ADDR": "", "LOG_LEVEL": "warn",
	} {
		t.Setenv(k, v)
	}
	cfg, err := app.LoadConfig()
	require.NoError(t, err)
	res, err := app.Open(context.Background(), cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { res.Close() })
	return res
}

// scheduledFire runs DailyRunWorkflow as the schedule starts it at fire, in a test
// environment whose clock starts there.
func scheduledFire(t *testing.T, res *app.Resources, fire time.Time) workflows.DailyRunResult {
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
	env.ExecuteWorkflow(workflows.DailyRunType, workflows.DailyRunInput{Options: workflows.Options{Account: "acct", MaxConcurrency: 3}})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var out workflows.DailyRunResult
	require.NoError(t, env.GetWorkflowResult(&out))
	return out
}
