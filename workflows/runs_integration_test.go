package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
	"github.com/marketing-data/wistia-pipeline/lake/state"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// These tests run on the real clock: the schedule's daily fire reads "yesterday" from the
// workflow's clock, so the simulator's days are the real ones and its data changes with the
// day they run on. Their expectations come from its ground truth, and the records a path needs
// are planted on every day (TestScheduledDaysEqualTheTruth runs the same days on any date).

var liveSim = wistiasim.Options{Seed: 21, Medias: 3, Visitors: 40, MeanEventsPerDay: 5, CorruptShare: 0.03, DuplicateShare: 0.05,
	Plant: []wistiasim.Planted{wistiasim.PlantCorrupt, wistiasim.PlantDuplicate}}

// day is the date n days after the stack's date (yesterday).
func (s *stack) day(n int) string {
	d, _ := dates.Parse(s.date)
	return d.AddDays(n).String()
}

// waitRun waits for the date's run (DailyRunID) to complete and returns its result.
func (s *stack) waitRun(t *testing.T, date string) workflows.DailyRunResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var res workflows.DailyRunResult
	require.Eventually(t, func() bool {
		_, err := s.tc.DescribeWorkflow(ctx, workflows.DailyRunID("acct", date), "")
		return err == nil
	}, time.Minute, 200*time.Millisecond, "the run of %s starts", date)
	require.NoError(t, s.tc.GetWorkflow(ctx, workflows.DailyRunID("acct", date), "").Get(ctx, &res))
	return res
}

// marks reads every media's watermark.
func (s *stack) marks(t *testing.T) map[string]string {
	t.Helper()
	cfg := lake.Config{DataDir: s.dir}
	wm, err := cfg.OpenState(context.Background())
	require.NoError(t, err)
	defer wm.Close()
	out := map[string]string{}
	for _, m := range s.sim.MediaIDs() {
		w, ok, err := wm.Get(context.Background(), state.WatermarkKey{Account: "acct", Stream: bronze.StreamEvents, Media: m})
		require.NoError(t, err)
		if ok {
			out[m] = w.Day.String()
		}
	}
	return out
}

// assertTruth compares silver and gold of from..to (offsets from the stack's date) with the
// simulator's ground truth.
func (s *stack) assertTruth(t *testing.T, lh *lake.Lakehouse, from, to int) {
	t.Helper()
	f, _ := dates.Parse(s.day(from))
	l, _ := dates.Parse(s.day(to))
	truthcheck.AssertLakehouse(t, lh, s.sim.Truth(f.Time(), l.Time()))
}

// mediaIngests counts the MediaIngestWorkflow executions of a date: one fan-out starts one
// per media.
func (s *stack) mediaIngests(t *testing.T, date string) int {
	t.Helper()
	resp, err := s.tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf(`WorkflowType = %q`, workflows.MediaIngestType), PageSize: 1000})
	require.NoError(t, err)
	n := 0
	for _, e := range resp.Executions {
		if strings.HasPrefix(e.Execution.WorkflowId, "media-ingest/acct/"+date+"/") {
			n++
		}
	}
	return n
}

func trigger(t *testing.T, s *stack) {
	t.Helper()
	out, err := execCLI(s, "schedule", "trigger", "--schedule-id", "wistia-daily")
	require.NoError(t, err, string(out))
}

func TestRunsReadWhatTheyName(t *testing.T) {
	t.Parallel()
	s := newStackAt(t, liveSim, time.Now().UTC())
	// A catch-up without watermarks and a manual run both read D-2..D.
	s.env = append(s.env, "INGEST_FIRST_DAY="+s.day(-2))
	first := s.startWorker(t)
	code, _, errOut := s.starter(t, "schedule", "create")
	require.Equal(t, 0, code, errOut)
	lh := s.lakehouse(t)
	D := s.date

	// The schedule's daily fire and a manual run of the same date, started together: one
	// fan-out, both succeed.
	var (
		wg      sync.WaitGroup
		runCode int
		runOut  string
		runErrs string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		runCode, runOut, runErrs = s.starter(t, "run", "--date", D, "--wait")
	}()
	trigger(t, s)
	wg.Wait()
	require.Equal(t, 0, runCode, runErrs)
	assert.Contains(t, runOut, "done:")
	res := s.waitRun(t, D)
	assert.Equal(t, workflows.PhaseDone, res.Progress.Phase)
	var scheduled string
	require.Eventually(t, func() bool {
		resp, err := s.tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf(`WorkflowType = %q AND ExecutionStatus = "Completed"`, workflows.DailyRunType)})
		if err != nil {
			return false
		}
		for _, e := range resp.Executions {
			if strings.Contains(e.Execution.WorkflowId, "scheduled") {
				scheduled = e.Execution.WorkflowId
				return true
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond, "the scheduled action succeeds too")
	assert.Equal(t, len(s.sim.MediaIDs()), s.mediaIngests(t, D), "one fan-out for the date")

	// The run reports the rows its merge added to silver.quarantine, each once.
	quarantined, err := lake.ReadRows[silver.Quarantined](context.Background(), lh, 0, 0)
	require.NoError(t, err)
	truth := s.sim.Truth(dayOf(t, s.day(-2)).Time(), dayOf(t, D).Time())
	require.Positive(t, truth.Quarantined, "the simulator plants a corrupt event every day")
	assert.Len(t, quarantined, truth.Quarantined, "silver.quarantine holds each corrupt event the API listed once")
	assert.Equal(t, len(quarantined), res.Progress.Quarantined, "reported quarantined = rows added to silver.quarantine")
	s.assertTruth(t, lh, -2, 0)

	// Only the schedule's catch-up moves watermarks (the manual run may have won the race
	// above): the next daily fire sets them.
	trigger(t, s)
	require.Eventually(t, func() bool { return len(s.marks(t)) == len(s.sim.MediaIDs()) }, time.Minute, 200*time.Millisecond)
	assert.Equal(t, string(activities.ModeCatchUp), s.waitRun(t, D).Progress.Mode)
	marks := s.marks(t)
	for m, d := range marks {
		assert.Equal(t, D, d, "watermark of %s", m)
	}

	// Backfills read exactly their days, whatever the watermarks say, and move none.
	code, out, errOut := s.starter(t, "backfill", "--from", s.day(-20), "--to", s.day(-15), "--wait")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "done: 6 days")
	v, err := s.tc.QueryWorkflow(context.Background(), workflows.BackfillID("acct", s.day(-20), s.day(-15)), "", workflows.ProgressQuery)
	require.NoError(t, err)
	var bp workflows.BackfillProgress
	require.NoError(t, v.Get(&bp))
	assert.Equal(t, []int{6, 6}, []int{bp.DaysTotal, bp.DaysDone}, "the backfill's progress query answers for the backfill")
	for _, n := range []int{-21, -14, -3} {
		events, err := lake.ReadRows[silver.Event](context.Background(), lh, dayOf(t, s.day(n)), dayOf(t, s.day(n)))
		require.NoError(t, err)
		assert.Empty(t, events, "%s was not asked for", s.day(n))
	}
	b, err := execCLI(s, "schedule", "backfill", "--schedule-id", "wistia-daily",
		"--start-time", s.day(-13)+"T00:00:00Z", "--end-time", s.day(-2)+"T23:59:59Z", "--overlap-policy", "BufferAll")
	require.NoError(t, err, string(b))
	for n := -14; n <= -3; n++ {
		r := s.waitRun(t, s.day(n))
		assert.Equal(t, string(activities.ModeBackfill), r.Progress.Mode, s.day(n))
	}
	// Days D-20..D are all in now: the entity tables can be compared whole.
	s.assertTruth(t, lh, -20, 0)
	assert.Equal(t, marks, s.marks(t), "backfills move no watermark")

	// Dates a run cannot read are refused by the CLI (exit 2) and by the workflow; nothing moves.
	before := tables(t, lh)
	for _, c := range []struct{ args []string }{
		{[]string{"run", "--date", dates.DateOf(time.Now()).String()}},
		{[]string{"run", "--date", dates.DateOf(time.Now()).AddDays(25).String()}},
		{[]string{"backfill", "--from", "2020-01-01", "--to", s.day(-1)}},
	} {
		code, _, errOut := s.starter(t, c.args...)
		assert.Equal(t, 2, code, "%v: %s", c.args, errOut)
		assert.Regexp(t, `date \d{4}-\d\d-\d\d (has not ended yet|is past the API's 2-year retention): pick a day from \d{4}-\d\d-\d\d to `+D+` \(UTC\)`, errOut)
	}
	future := dates.DateOf(time.Now()).AddDays(1).String()
	run, err := s.tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: workflows.DailyRunID("acct", future), TaskQueue: "wistia-test"},
		workflows.DailyRunWorkflow, workflows.DailyRunInput{Date: future, Options: workflows.Options{Account: "acct", MaxConcurrency: 2}})
	require.NoError(t, err)
	err = run.Get(context.Background(), nil)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	assert.Equal(t, activities.ErrTypeBadDate, app.Type())
	assert.Contains(t, err.Error(), "date "+future+" has not ended yet")
	assert.Equal(t, before, tables(t, lh), "refused runs change no table")
	assert.Equal(t, marks, s.marks(t), "refused runs move no watermark")

	// A backfill and the daily run overlapping in dates, started together.
	wg.Add(1)
	go func() {
		defer wg.Done()
		code, _, errOut = s.starter(t, "backfill", "--from", s.day(-2), "--to", D, "--wait")
	}()
	trigger(t, s)
	wg.Wait()
	assert.Equal(t, 0, code, errOut)
	s.assertTruth(t, lh, -20, 0)

	// Rebuild from bronze: with the warehouse gone, `starter transform` restores every table
	// without calling the API.
	requestsBefore := s.sim.Stats().Requests
	first.Stop() // it holds the catalog about to be deleted
	require.NoError(t, os.RemoveAll(filepath.Join(s.dir, "warehouse")))
	for _, f := range []string{"catalog.db", "catalog.db-wal", "catalog.db-shm"} {
		require.NoError(t, ignoreMissing(os.Remove(filepath.Join(s.dir, f))))
	}
	s.startWorker(t) // creates the tables afresh
	code, out, errOut = s.starter(t, "transform", "--from", s.day(-20), "--to", D, "--wait")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "done: merged")
	assert.Equal(t, requestsBefore, s.sim.Stats().Requests, "a transform calls no API")
	s.assertTruth(t, s.lakehouse(t), -20, 0)
	// Earlier recordings (backfill_v2, transform_v2 before spread merges; transform_v3 before
	// the storage retry window; scheduled_run_v2 and transform_v4 before stats-zone days) are
	// kept as they are.
	recordHistories(t, s, map[string]string{"scheduled_run_v4.json": scheduled, "transform_v6.json": workflows.TransformID("acct", s.day(-20), D)})
}

func ignoreMissing(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func dayOf(t *testing.T, s string) dates.Date {
	d, err := dates.Parse(s)
	require.NoError(t, err)
	return d
}

func TestStrandedDaysAreMergedByTheNextRun(t *testing.T) {
	t.Parallel()
	s := newStackAt(t, liveSim, time.Now().UTC())
	s.env = append(s.env, "INGEST_FIRST_DAY="+s.day(-6)) // more days than the 2-day lookback
	w := s.startWorker(t)
	code, _, errOut := s.starter(t, "schedule", "create")
	require.Equal(t, 0, code, errOut)

	// The warehouse becomes unwritable: a file where its folder was.
	warehouse := filepath.Join(s.dir, "warehouse")
	require.NoError(t, os.Rename(warehouse, warehouse+".away"))
	require.NoError(t, os.WriteFile(warehouse, nil, 0o644))

	// The daily run lands D-6..D and advances the watermarks; its merge fails.
	id := workflows.DailyRunID("acct", s.date)
	trigger(t, s)
	defer func() {
		if t.Failed() {
			d, err := s.tc.DescribeWorkflow(context.Background(), id, "")
			if err == nil {
				t.Logf("%s: %s, pending activities %v", id, d.Status, d.RawResponse.PendingActivities)
			}
			t.Logf("worker log:\n%s", w.Logs())
		}
	}()
	var retrying atomic.Bool
	require.Eventually(t, func() bool {
		d, err := s.tc.DescribeWorkflow(context.Background(), id, "")
		if err != nil {
			return false
		}
		if d.Status == enums.WORKFLOW_EXECUTION_STATUS_FAILED {
			return true // the merge failed for good
		}
		for _, a := range d.RawResponse.PendingActivities {
			if a.ActivityType.GetName() == "MergeDaysAndCheck" && a.LastFailure != nil {
				retrying.Store(true)
				return true
			}
		}
		return false
	}, 3*time.Minute, 200*time.Millisecond, "the merge fails")
	if retrying.Load() { // the operator gives up on this run
		require.NoError(t, s.tc.TerminateWorkflow(context.Background(), id, "", "the warehouse is down"))
	}
	var failed workflows.DailyRunResult
	assert.Error(t, s.tc.GetWorkflow(context.Background(), id, "").Get(context.Background(), &failed), "the run did not succeed")
	for _, m := range s.sim.MediaIDs() {
		assert.Equal(t, s.date, s.marks(t)[m], "bronze of %s landed through the date", m)
	}

	// Fixed; the next scheduled run reads only D-2..D from the API, and merges every stranded day.
	require.NoError(t, os.Remove(warehouse))
	require.NoError(t, os.Rename(warehouse+".away", warehouse))
	trigger(t, s)
	require.Eventually(t, func() bool {
		d, err := s.tc.DescribeWorkflow(context.Background(), id, "")
		return err == nil && d.Status == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}, 3*time.Minute, 200*time.Millisecond)
	res := s.waitRun(t, s.date)
	assert.Equal(t, []string{s.day(-6), s.day(-5), s.day(-4), s.day(-3), s.day(-2), s.day(-1), s.date}, dates.Strings(res.Progress.Merged))
	s.assertTruth(t, s.lakehouse(t), -6, 0)
}

// An attempt that is only waiting on a slow answer keeps heartbeating: the server never
// times it out and starts a second attempt of the same crawl beside it.
func TestWaitingAttemptsAreNeverTimedOut(t *testing.T) {
	s := newStackAt(t, wistiasim.Options{Seed: 5, Medias: 1, Visitors: 2, MeanEventsPerDay: 3, Plant: []wistiasim.Planted{wistiasim.PlantQuirky}}, time.Now().UTC())
	s.startWorker(t)
	heartbeat := time.Second
	s.sim.SetFaults(wistiasim.Faults{Latency: 2 * heartbeat}) // every answer takes longer than a heartbeat timeout
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	day := s.day(-1)
	run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.DailyRunID("acct", day), TaskQueue: "wistia-test"},
		workflows.DailyRunWorkflow, workflows.DailyRunInput{Date: day, Mode: activities.ModeBackfill,
			Options: workflows.Options{Account: "acct", MaxConcurrency: 1, HeartbeatTimeout: heartbeat}})
	require.NoError(t, err)
	var res workflows.DailyRunResult
	require.NoError(t, run.Get(ctx, &res))
	assert.Positive(t, res.Progress.Records, "the day holds a planted event")

	started := 0
	for _, id := range []string{workflows.DailyRunID("acct", day), workflows.MediaIngestID("acct", day, s.sim.MediaIDs()[0])} {
		iter := s.tc.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			e, err := iter.Next()
			require.NoError(t, err)
			if a := e.GetActivityTaskStartedEventAttributes(); a != nil {
				started++
				assert.Equal(t, int32(1), a.GetAttempt(), "activity %d of %s ran in one attempt", e.GetEventId(), id)
			}
			assert.Nil(t, e.GetActivityTaskTimedOutEventAttributes(), "no activity of %s timed out", id)
		}
	}
	assert.GreaterOrEqual(t, started, 5, "medias, stats, events, visitors and the merge ran")
}
