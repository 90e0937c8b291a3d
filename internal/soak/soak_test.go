package soak_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/devserver"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

const (
	account = "acct"
	queue   = "wistia-soak"
	// rateLimit requests per second is the account's budget in the simulator and the workers.
	// The shared budget grants limit/22 requests per twentieth of the period, rounded down: 44
	// lets the workers use 91% of it, as Wistia's 600 a minute does.
	rateLimit = 44
	// killsPerDay is how many workers each day SIGKILLs: 21 over a week.
	killsPerDay = 3
	outage      = 30 * time.Second
	dayDeadline = 8 * time.Minute
)

// baseFaults are injected all week: 5% of requests fail with a 5xx, a reset or a cut body.
var baseFaults = wistiasim.Faults{ErrorRate: 0.03, ResetRate: 0.01, TruncateRate: 0.01}

// settings are the soak's knobs: SOAK_DAYS (1 by default, 7 in `make soak`), SOAK_SEED
// (every random choice; the report prints it, so a failing week can be run again) and
// SOAK_RECORD=1, which writes the report to docs/soak.md.
type settings struct {
	days   int
	seed   uint64
	record bool
}

func readSettings(t *testing.T) settings {
	t.Helper()
	s := settings{days: 1, seed: 20261126, record: os.Getenv("SOAK_RECORD") == "1"}
	if v := os.Getenv("SOAK_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "SOAK_DAYS=%q: want a number of days from 1 to 7", v)
		require.True(t, n >= 1 && n <= 7, "SOAK_DAYS=%d: want 1 to 7", n)
		s.days = n
	}
	if v := os.Getenv("SOAK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "SOAK_SEED=%q: want a non-negative integer", v)
		s.seed = n
	}
	return s
}

// TestSoak runs SOAK_DAYS consecutive days through the schedule with faults, and after each
// day compares every table with the simulator's ground truth for every date so far.
func TestSoak(t *testing.T) {
	cfg := readSettings(t)
	t.Logf("soak: %d days, seed %d (SOAK_SEED=%d reruns these faults)", cfg.days, cfg.seed, cfg.seed)
	w := newWeek(t, cfg)
	for k := range cfg.days {
		w.runDay(t, k)
	}
	w.report(t)
	assert.GreaterOrEqual(t, w.totalKills(), killsPerDay*cfg.days, "every planned kill happened")
}

// week is the stack and the state carried from day to day.
type week struct {
	cfg   settings
	r     *rand.Rand
	dir   string
	days  []time.Time // the logical dates, one per soak day
	first time.Time   // the first day the lakehouse holds (INGEST_FIRST_DAY)

	sim     *wistiasim.Sim
	simURL  string
	s3      *testenv.S3
	ddb     *testenv.DynamoDB
	sns     *testenv.SNS
	tp      *devserver.Server
	tpOpts  devserver.Options
	tc      client.Client
	lakeCfg lake.Config
	s3c     *s3.Client

	workerBin string
	workerEnv []string
	workers   []*testenv.Server

	deletions  []wistiasim.Deletion
	bronze     map[string]string // bronze object key → ETag, as first seen
	alertsSeen int
	rows       []dayReport
}

// dayReport is one row of the report.
type dayReport struct {
	Day         int
	Date        string
	Events      int // events the API lists for the date (ground truth)
	Medias      int // medias listed that day
	Requests    int64
	PeakBudget  float64  // the most requests in one rate period, as a share of the budget
	OverBudget  int64    // requests the simulator refused for exceeding the budget
	Kills       []string // where each SIGKILL struck
	Faults      []string // outages and storms
	OutageSecs  float64
	RunsRetried int // workflow runs that failed and ran again
	ActRetried  int // activity attempts after the first
	Quarantined int
	TruthOK     bool
	LiveFiles   int // data files in the fullest partition of any table's current snapshot
	StoredFiles int // data files in the store under the fullest partition, old snapshots' included
	Orphans     int // files no snapshot references: killed merges' output, deleted at three days
	Bronze      int // bronze objects, none ever rewritten
	Wall        time.Duration
}

// weekDays returns the logical dates of n soak days, one each: they end the day before
// yesterday, so every date has ended by the real clock, as a run requires.
func weekDays(n int) []time.Time {
	last := dates.DateOf(time.Now()).AddDays(-2)
	out := make([]time.Time, n)
	for k := range n {
		out[k] = last.AddDays(k - n + 1).Time()
	}
	return out
}

// fireTime is when the schedule fires for date: 03:00 the next day (workflows.DefaultCron) in
// the account's stats zone, UTC here.
func fireTime(date time.Time) time.Time { return date.AddDate(0, 0, 1).Add(3 * time.Hour) }

// simNow is the simulator's clock during day's run: half an hour after the fire.
func simNow(date time.Time) time.Time { return fireTime(date).Add(30 * time.Minute) }

func newWeek(t *testing.T, cfg settings) *week {
	t.Helper()
	w := &week{cfg: cfg, r: rand.New(rand.NewPCG(cfg.seed, 0x50a4)), dir: t.TempDir(), bronze: map[string]string{}}
	w.days = weekDays(cfg.days)
	w.first = w.days[0].AddDate(0, 0, -2)
	w.startSim(t)
	w.startStorage(t)
	w.startTemporal(t)
	w.startWorkers(t)
	w.createSchedule(t)
	return w
}

// errStop ends a wait early; it is not a failure.
var errStop = errors.New("stop")

// eventually polls f every interval until it returns true or an error, or the deadline passes.
func eventually(ctx context.Context, interval time.Duration, f func(context.Context) (bool, error)) error {
	for {
		ok, err := f(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(interval):
		}
	}
}

func (w *week) lakehouse(t *testing.T) *lake.Lakehouse {
	t.Helper()
	lh, err := w.lakeCfg.OpenLakehouse(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { lh.Close() })
	return lh
}

// runDay runs soak day k: the clock moves to the fire, the schedule fires for the date, the
// day's faults strike while it runs, and the tables are checked.
func (w *week) runDay(t *testing.T, k int) {
	t.Helper()
	date := w.days[k]
	row := dayReport{Day: k + 1, Date: dates.DateOf(date).String()}
	w.sim.SetNow(simNow(date))
	w.sim.SetFaults(baseFaults)
	w.sim.ResetPeakWindow()
	before := w.sim.Stats()
	start := time.Now()

	w.fire(t, date)
	for _, a := range w.plan(k) {
		w.strike(t, date, a, &row)
	}
	w.awaitRun(t, date, &row)
	row.Wall = time.Since(start)

	after := w.sim.Stats()
	row.Requests = after.Requests - before.Requests
	row.OverBudget = after.OverLimit - before.OverLimit
	row.PeakBudget = float64(after.PeakWindow) / rateLimit
	truth := w.sim.Truth(date, date)
	row.Events, row.Quarantined, row.Medias = len(truth.Events), truth.Quarantined, len(truth.Medias)-w.deletedBy(simNow(date))
	w.check(t, date, &row)
	if t.Failed() {
		for _, wk := range w.workers {
			t.Logf("worker %d's log:\n%s", wk.PID(), wk.Logs())
		}
	}
	w.rows = append(w.rows, row)
	t.Logf("day %d (%s) done in %s: %d kills, %.0f s of outage", row.Day, row.Date, row.Wall.Round(time.Second), len(row.Kills), row.OutageSecs)
}

// deletedBy counts the medias deleted by now: they stay in the tables, but are no longer listed.
func (w *week) deletedBy(now time.Time) int {
	n := 0
	for _, d := range w.deletions {
		if !d.At.After(now) {
			n++
		}
	}
	return n
}

// check runs the after-day checks, each as a subtest so the report can say which held.
func (w *week) check(t *testing.T, date time.Time, row *dayReport) {
	t.Helper()
	lh := w.lakehouse(t)
	name := fmt.Sprintf("day_%d_%s", row.Day, row.Date)
	row.TruthOK = t.Run(name+"/tables_equal_ground_truth", func(t *testing.T) {
		truthcheck.AssertLakehouse(t, lh, w.sim.Truth(w.first, date))
	})
	t.Run(name+"/keys_unique", func(t *testing.T) { assertUniqueKeys(t, lh) })
	t.Run(name+"/bronze_never_rewritten", func(t *testing.T) { row.Bronze = w.assertBronzeImmutable(t) })
	t.Run(name+"/budget_never_exceeded", func(t *testing.T) {
		assert.Zero(t, row.OverBudget, "requests the simulator refused as over the budget of %d/s", rateLimit)
	})
	t.Run(name+"/runs_finished_or_alerted", func(t *testing.T) {
		row.RunsRetried, row.ActRetried = w.assertRuns(t, dates.DateOf(date).String())
	})
	t.Run(name+"/files_per_partition_bounded", func(t *testing.T) { row.LiveFiles, row.StoredFiles, row.Orphans = w.assertFilesBounded(t, lh) })
}

// awaitRun waits for the date's run, following continue-as-new and riding out a server
// restart. A run still open at the deadline fails the soak at once; a failed run fails it too,
// but only after its alert is checked, and the week goes on, as production would: the next
// day's catch-up is what repairs it, and the report shows whether it did.
func (w *week) awaitRun(t *testing.T, date time.Time, row *dayReport) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dayDeadline)
	defer cancel()
	id := workflows.DailyRunID(account, dates.DateOf(date).String())
	var res workflows.DailyRunResult
	err := eventually(ctx, time.Second, func(ctx context.Context) (bool, error) {
		w.reviveCrashed(t, row)
		poll, cancel := context.WithTimeout(ctx, 5*time.Second) // then look at the emulators again
		defer cancel()
		err := w.tc.GetWorkflow(poll, id, "").Get(poll, &res)
		if err == nil {
			return true, nil
		}
		if isWorkflowFailure(err) {
			return false, err
		}
		return false, nil // the server is restarting, or the run has not started yet
	})
	if isWorkflowFailure(err) {
		t.Errorf("the run of %s failed: %v", dates.DateOf(date).String(), err)
		seen := w.alertsSeen
		for deadline := time.Now().Add(time.Minute); w.alerts(t) == seen && time.Now().Before(deadline); {
			time.Sleep(time.Second)
		}
		assert.Greater(t, w.alertsSeen, seen, "the failed run of %s raised an alert", dates.DateOf(date).String())
		return
	}
	require.NoError(t, err, "the run of %s finished (stuck runs fail the soak)", dates.DateOf(date).String())
	assert.Equal(t, workflows.PhaseDone, res.Progress.Phase)
	assert.Equal(t, string(activities.ModeCatchUp), res.Progress.Mode, "the schedule's fire catches up")
}

func isWorkflowFailure(err error) bool {
	var exec *temporal.WorkflowExecutionError
	return errors.As(err, &exec)
}
