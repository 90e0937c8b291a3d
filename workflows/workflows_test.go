package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
)

// testNow is the workflows' clock in these tests: 2026-11-24 is the last day that has ended.
var testNow = time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)

// newEnv is a test environment whose DailyRunWorkflow runs under the date's own ID (as the
// CLI starts it) with an empty ledger; tests add their own expectations.
func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	env := bareEnv(t)
	env.OnActivity(a.ExpireSnapshots, mock.Anything).Return(nil).Maybe()
	env.OnActivity(a.ClearMerged, mock.Anything, mock.Anything).Return(0, nil).Maybe()
	env.OnActivity(a.IngestRunVisitors, mock.Anything, mock.Anything).Return(activities.Landed{}, nil).Maybe()
	return env
}

// bareEnv is newEnv without the housekeeping activities mocked, for tests that expect them.
func bareEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(testNow)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: DailyRunID("acct", "2026-11-24")})
	Register(env)
	env.RegisterActivity(a)
	env.OnActivity(a.MarkDaysPending, mock.Anything, mock.Anything).Return(nil).Maybe()
	t.Cleanup(func() { env.AssertExpectations(t) })
	return env
}

// noPending is an empty ledger.
func noPending(env *testsuite.TestWorkflowEnvironment) {
	env.OnActivity(a.PendingDays, mock.Anything).Return([]activities.PendingDay{}, nil).Maybe()
}

func medias(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m%03d", i)
	}
	return out
}

// stubChildren replaces MediaIngestWorkflow with one that takes an hour of workflow time and
// records how many run at once and which medias ran.
func stubChildren(env *testsuite.TestWorkflowEnvironment, maxInFlight *int, ran map[string]int) {
	inFlight := 0
	env.OnWorkflow(MediaIngestWorkflow, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in MediaIngestInput) (MediaIngestResult, error) {
			inFlight++
			*maxInFlight = max(*maxInFlight, inFlight)
			ran[in.Media]++
			_ = workflow.Sleep(ctx, time.Hour)
			inFlight--
			return MediaIngestResult{Media: in.Media, Days: testenv.Days(in.Date), Records: 10, Requests: 2}, nil
		})
}

func TestDailyRunNeverExceedsTheConcurrencyCap(t *testing.T) {
	env := newEnv(t)
	list := medias(20)
	env.OnActivity(a.IngestMedias, mock.Anything, listingOf("2026-11-24")).Return(activities.MediaList{Medias: list, Requests: 1}, nil).Once()
	noPending(env)
	env.OnActivity(a.MergeDaysAndCheck, mock.Anything, mergeOf(testenv.Days("2026-11-24"))).Return(activities.MergeResult{}, nil).Once()
	maxInFlight, ran := 0, map[string]int{}
	stubChildren(env, &maxInFlight, ran)

	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Date: "2026-11-24", Options: Options{Account: "acct", MaxConcurrency: 3}})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res DailyRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, 3, maxInFlight, "children in flight at most")
	assert.Len(t, ran, 20)
	assert.Equal(t, Progress{Date: "2026-11-24", Zone: "UTC", Mode: "explicit", Phase: PhaseDone, MediasTotal: 20, MediasDone: 20, Records: 200, Requests: 41,
		Merged: testenv.Days("2026-11-24")}, res.Progress)
}

func TestContinueAsNewCarriesTheCursorAndLosesNoMedia(t *testing.T) {
	list := medias(10)
	ran := map[string]int{}
	in := DailyRunInput{Date: "2026-11-24", Options: Options{Account: "acct", MaxConcurrency: 2, ChildrenPerRun: 4}}
	runs := 0
	for {
		runs++
		require.Less(t, runs, 10, "the run must end")
		env := newEnv(t)
		if in.Medias == nil {
			env.OnActivity(a.IngestMedias, mock.Anything, mock.Anything).Return(activities.MediaList{Medias: list}, nil).Once()
		}
		noPending(env)
		env.OnActivity(a.MergeDaysAndCheck, mock.Anything, mock.Anything).Return(activities.MergeResult{}, nil).Maybe()
		maxInFlight := 0
		stubChildren(env, &maxInFlight, ran)
		env.ExecuteWorkflow(DailyRunWorkflow, in)
		require.True(t, env.IsWorkflowCompleted())
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if !errors.As(err, &can) {
			require.NoError(t, err)
			var res DailyRunResult
			require.NoError(t, env.GetWorkflowResult(&res))
			assert.Equal(t, 10, res.Progress.MediasDone)
			assert.Equal(t, 100, res.Progress.Records, "progress carried across runs")
			break
		}
		var next DailyRunInput
		require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
		assert.Equal(t, in.Cursor+4, next.Cursor, "cursor moves by the children started")
		assert.Equal(t, list, next.Medias, "the media list is carried")
		assert.NotEmpty(t, next.RunID)
		in = next
	}
	assert.Equal(t, 3, runs, "10 medias at 4 per run")
	for _, m := range list {
		assert.Equal(t, 1, ran[m], "media %s ingested once", m)
	}
}

func notFound() error {
	return temporal.NewNonRetryableApplicationError("wistia GET /stats/medias/m001/by_date.json: 404 Not Found", activities.ErrTypeNotFound, nil)
}

func TestMediaDeletedAfterListingIsSkipped(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.IngestMedias, mock.Anything, mock.Anything).Return(activities.MediaList{Medias: []string{"m000", "m001"}}, nil)
	env.OnActivity(a.PlanIngest, mock.Anything, mock.Anything).Return(activities.ReadPlan{Start: testenv.Day("2026-11-24"), End: testenv.Day("2026-11-24"), Days: testenv.Days("2026-11-24")}, nil)
	env.OnActivity(a.IngestStats, mock.Anything, statsOf("m000")).Return(activities.Landed{Records: 1, Requests: 1}, nil)
	env.OnActivity(a.IngestStats, mock.Anything, statsOf("m001")).Return(activities.Landed{}, notFound()).Once()
	env.OnActivity(a.IngestDayEvents, mock.Anything, eventsOf("m000", "2026-11-24")).Return(activities.Landed{Records: 5, Complete: true, Requests: 1}, nil)
	env.OnActivity(a.RecordLanded, mock.Anything, activities.LandedInput{Media: "m000", Days: testenv.Days("2026-11-24"), Mark: testenv.Day("2026-11-24"), RunID: "daily-2026-11-24-default-test-run-id"}).Return(false, nil).Once()
	noPending(env)
	env.OnActivity(a.MergeDaysAndCheck, mock.Anything, mergeOf(testenv.Days("2026-11-24"))).Return(activities.MergeResult{}, nil)

	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Date: "2026-11-24", Options: Options{Account: "acct", MaxConcurrency: 4}})
	require.NoError(t, env.GetWorkflowError())
	var res DailyRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, 1, res.Progress.Skipped)
	assert.Equal(t, 2, res.Progress.MediasDone)
	assert.Equal(t, 6, res.Progress.Records, "1 by_date row and 5 events")
}

func TestRejectedTokenFailsAtOnceAndAlertsOnce(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.IngestMedias, mock.Anything, mock.Anything).Return(activities.MediaList{},
		temporal.NewNonRetryableApplicationError("wistia GET /medias.json: 401 Unauthorized", activities.ErrTypeRejected, nil)).Once()
	var alerts []activities.Alert
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, al activities.Alert) error {
		alerts = append(alerts, al)
		return nil
	}).Once()

	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Date: "2026-11-24", Options: Options{Account: "acct", MaxConcurrency: 4}})
	err := env.GetWorkflowError()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "401")
	require.Len(t, alerts, 1)
	assert.Equal(t, "2026-11-24", alerts[0].Date)
	assert.Equal(t, PhaseMedias, alerts[0].Step)
	assert.NotEmpty(t, alerts[0].WorkflowID)
}

func TestTransientFailuresAreRetried(t *testing.T) {
	env := newEnv(t)
	w := activities.ReadPlan{Start: testenv.Day("2026-11-23"), End: testenv.Day("2026-11-24"), Days: testenv.Days("2026-11-23", "2026-11-24")}
	env.OnActivity(a.PlanIngest, mock.Anything, activities.PlanInput{Media: "m000", Date: testenv.Day("2026-11-24"), Mode: activities.ModeCatchUp}).Return(w, nil)
	env.OnActivity(a.IngestStats, mock.Anything, activities.StatsInput{Media: "m000", Plan: w, Date: testenv.Day("2026-11-24"), RunID: "r"}).Return(activities.Landed{Requests: 1}, nil)
	env.OnActivity(a.IngestDayEvents, mock.Anything, activities.EventsInput{Media: "m000", Day: testenv.Day("2026-11-23"), RunID: "r"}).Return(activities.Landed{}, errors.New("wistia: 503")).Twice()
	env.OnActivity(a.IngestDayEvents, mock.Anything, activities.EventsInput{Media: "m000", Day: testenv.Day("2026-11-23"), RunID: "r"}).Return(activities.Landed{Records: 3, Complete: true}, nil).Once()
	// The second window is incomplete: the watermark stops at the first.
	env.OnActivity(a.IngestDayEvents, mock.Anything, activities.EventsInput{Media: "m000", Day: testenv.Day("2026-11-24"), RunID: "r"}).Return(activities.Landed{Records: 4, Complete: false}, nil).Once()
	env.OnActivity(a.RecordLanded, mock.Anything, activities.LandedInput{Media: "m000", Days: w.Days, Mark: testenv.Day("2026-11-23"), RunID: "r", Advance: true}).Return(true, nil).Once()

	env.ExecuteWorkflow(MediaIngestWorkflow, MediaIngestInput{Media: "m000", Date: "2026-11-24", RunID: "r", Mode: activities.ModeCatchUp})
	require.NoError(t, env.GetWorkflowError())
	var res MediaIngestResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, MediaIngestResult{Media: "m000", Days: w.Days, Records: 7, Requests: 1, Complete: 1, Mark: testenv.Day("2026-11-23")}, res)
}

// A day whose by_date row shows no loads and no plays is not asked for events: the API lists
// none. It counts as read to its end, so the watermark passes it.
func TestUnwatchedDaysAreNotAskedForEvents(t *testing.T) {
	env := newEnv(t)
	w := activities.ReadPlan{Start: testenv.Day("2026-11-22"), End: testenv.Day("2026-11-24"), Days: testenv.Days("2026-11-22", "2026-11-23", "2026-11-24")}
	env.OnActivity(a.PlanIngest, mock.Anything, mock.Anything).Return(w, nil)
	env.OnActivity(a.IngestStats, mock.Anything, activities.StatsInput{Media: "m000", Plan: w, Date: testenv.Day("2026-11-24"), RunID: "r"}).
		Return(activities.Landed{Requests: 1, Unwatched: testenv.Days("2026-11-22", "2026-11-24")}, nil)
	env.OnActivity(a.IngestDayEvents, mock.Anything, activities.EventsInput{Media: "m000", Day: testenv.Day("2026-11-23"), RunID: "r"}).Return(activities.Landed{Records: 3, Requests: 1, Complete: true}, nil).Once()
	env.OnActivity(a.RecordLanded, mock.Anything, activities.LandedInput{Media: "m000", Days: testenv.Days("2026-11-23", "2026-11-24"),
		Mark: testenv.Day("2026-11-24"), RunID: "r", Advance: true}).Return(true, nil).Once()

	env.ExecuteWorkflow(MediaIngestWorkflow, MediaIngestInput{Media: "m000", Date: "2026-11-24", RunID: "r", Mode: activities.ModeCatchUp})
	require.NoError(t, env.GetWorkflowError())
	var res MediaIngestResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, MediaIngestResult{Media: "m000", Days: testenv.Days("2026-11-23"), Records: 3, Requests: 2, Complete: 1,
		Mark: testenv.Day("2026-11-24"), Unwatched: 2}, res)
}

// The schedule fires at 03:00 in the account's zone: east of UTC that is the UTC day before,
// west of it the UTC day after, and each fire runs the local day that ended three hours earlier.
func TestLogicalDateIsTheDayBeforeInTheAccountsZone(t *testing.T) {
	for _, c := range []struct {
		zone string
		fire time.Time
	}{
		{"Asia/Tokyo", time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)},          // 03:00 on the 25th in Tokyo
		{"America/Los_Angeles", time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)}, // 03:00 on the 25th in Los Angeles
		{"Pacific/Tongatapu", time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)},   // 03:00 on the 25th in Tonga
	} {
		t.Run(c.zone, func(t *testing.T) {
			env := newEnv(t)
			env.SetStartTime(c.fire)
			env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
				temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime").ValueSet(c.fire)))
			env.OnActivity(a.IngestMedias, mock.Anything, listingOf("2026-11-24")).Return(activities.MediaList{Medias: []string{}}, nil).Once()
			noPending(env)
			env.OnActivity(a.MergeDaysAndCheck, mock.Anything, mergeOf(testenv.Days("2026-11-24"))).Return(activities.MergeResult{}, nil).Once()
			env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Options: Options{Account: "acct", MaxConcurrency: 1, StatsZone: c.zone}})
			require.NoError(t, env.GetWorkflowError())
			var res DailyRunResult
			require.NoError(t, env.GetWorkflowResult(&res))
			assert.Equal(t, "2026-11-24", res.Progress.Date)
			assert.Equal(t, c.zone, res.Progress.Zone)
			assert.Equal(t, "catch-up", res.Progress.Mode, "yesterday in the account's zone")
		})
	}
}

func TestLogicalDateComesFromTheSchedule(t *testing.T) {
	env := newEnv(t)
	env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime").ValueSet(time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC))))
	env.OnActivity(a.IngestMedias, mock.Anything, listingOf("2026-11-24")).Return(activities.MediaList{Medias: []string{}}, nil).Once()
	noPending(env)
	env.OnActivity(a.MergeDaysAndCheck, mock.Anything, mergeOf(testenv.Days("2026-11-24"))).Return(activities.MergeResult{}, nil).Once()
	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Options: Options{Account: "acct", MaxConcurrency: 1}})
	require.NoError(t, env.GetWorkflowError())
	var res DailyRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, "2026-11-24", res.Progress.Date)
	assert.Equal(t, "catch-up", res.Progress.Mode, "the daily fire of yesterday catches up")
}

func TestSnapshotsExpireAfterChecksWithoutFailingTheRun(t *testing.T) {
	env := bareEnv(t)
	env.OnActivity(a.IngestRunVisitors, mock.Anything, mock.Anything).Return(activities.Landed{}, nil).Once()
	env.OnActivity(a.ClearMerged, mock.Anything, mock.Anything).Return(0, nil).Once()
	env.OnActivity(a.IngestMedias, mock.Anything, mock.Anything).Return(activities.MediaList{Medias: []string{"m0"}}, nil)
	env.OnWorkflow(MediaIngestWorkflow, mock.Anything, mock.Anything).Return(MediaIngestResult{Media: "m0", Days: testenv.Days("2026-11-24")}, nil)
	noPending(env)
	env.OnActivity(a.MergeDaysAndCheck, mock.Anything, mock.Anything).Return(activities.MergeResult{}, nil).Once()
	env.OnActivity(a.ExpireSnapshots, mock.Anything).Return(errors.New("catalog busy")).Times(3) // its retry policy's attempts
	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Date: "2026-11-24", Options: Options{Account: "acct", MaxConcurrency: 1}})
	require.NoError(t, env.GetWorkflowError(), "a failed expiration does not fail the run")
}

func TestRunRefusesDatesItCannotRead(t *testing.T) {
	// testNow is 2026-11-25 02:00 UTC: the 25th has not ended; the API keeps two years.
	for _, c := range []struct{ date, msg string }{
		{"2026-11-25", "date 2026-11-25 has not ended yet: pick a day from 2024-11-26 to 2026-11-24 (UTC)"},
		{"2026-12-20", "date 2026-12-20 has not ended yet"},
		{"2024-11-25", "date 2024-11-25 is past the API's 2-year retention: pick a day from 2024-11-26 to 2026-11-24 (UTC)"},
	} {
		t.Run(c.date, func(t *testing.T) {
			env := newEnv(t) // no activity is mocked: calling one fails the test
			env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Date: c.date, Options: Options{Account: "acct", MaxConcurrency: 1}})
			err := env.GetWorkflowError()
			require.Error(t, err)
			var app *temporal.ApplicationError
			require.ErrorAs(t, err, &app)
			assert.Equal(t, activities.ErrTypeBadDate, app.Type())
			assert.True(t, app.NonRetryable())
			assert.Contains(t, err.Error(), c.msg)
		})
	}
	t.Run("backfill", func(t *testing.T) {
		env := newEnv(t)
		env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{From: "2026-11-20", To: "2026-11-26", Options: Options{Account: "acct"}})
		require.ErrorContains(t, env.GetWorkflowError(), "date 2026-11-26 has not ended yet")
	})
	t.Run("transform", func(t *testing.T) {
		env := newEnv(t)
		env.ExecuteWorkflow(TransformWorkflow, TransformInput{From: "2026-11-20", To: "2026-11-25", Options: Options{Account: "acct"}})
		require.ErrorContains(t, env.GetWorkflowError(), "date 2026-11-25 has not ended yet")
	})
}

// scheduledRun runs DailyRunWorkflow as the schedule starts it, for the scheduled time at,
// with a run of the date that lists no medias; it returns the run's result and the workflow
// ID the date's activities ran under.
func scheduledRun(t *testing.T, at time.Time) (DailyRunResult, string) {
	env := newEnv(t)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "daily-run/acct/scheduled-" + at.Format(time.RFC3339)})
	env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime").ValueSet(at)))
	date := dates.DateOf(at).AddDays(-1).String()
	var ranAs string
	env.OnActivity(a.IngestMedias, mock.Anything, listingOf(date)).Return(func(ctx context.Context, _ activities.MediasInput) (activities.MediaList, error) {
		ranAs = activity.GetInfo(ctx).WorkflowExecution.ID
		return activities.MediaList{Medias: []string{}}, nil
	}).Once()
	noPending(env)
	env.OnActivity(a.MergeDaysAndCheck, mock.Anything, mergeOf(testenv.Days(date))).Return(activities.MergeResult{}, nil).Once()
	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Options: Options{Account: "acct", MaxConcurrency: 2}})
	require.NoError(t, env.GetWorkflowError())
	var res DailyRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return res, ranAs
}

func TestScheduledRunRunsUnderTheDatesOwnID(t *testing.T) {
	res, ranAs := scheduledRun(t, testNow)
	assert.Equal(t, DailyRunID("acct", "2026-11-24"), ranAs, "the date's work runs under its own ID")
	assert.Equal(t, DailyRunID("acct", "2026-11-24"), res.Progress.RunningAs)
	assert.Equal(t, "catch-up", res.Progress.Mode, "the daily fire of yesterday catches up from the watermarks")
	assert.Equal(t, PhaseDone, res.Progress.Phase)
}

func TestScheduleBackfillReadsExactlyItsDay(t *testing.T) {
	res, ranAs := scheduledRun(t, time.Date(2026, 11, 11, 2, 0, 0, 0, time.UTC))
	assert.Equal(t, DailyRunID("acct", "2026-11-10"), ranAs)
	assert.Equal(t, "2026-11-10", res.Progress.Date)
	assert.Equal(t, "backfill", res.Progress.Mode, "an older scheduled time is a schedule backfill")
}

func TestRunMergesPendingDaysAndClearsOnlyAfterChecks(t *testing.T) {
	pending := []activities.PendingDay{{Day: testenv.Day("2026-11-02"), Seq: 3}, {Day: testenv.Day("2026-11-24"), Seq: 1}}
	for _, fails := range []bool{false, true} {
		t.Run(fmt.Sprintf("checks fail=%v", fails), func(t *testing.T) {
			env := bareEnv(t)
			env.OnActivity(a.ExpireSnapshots, mock.Anything).Return(nil).Maybe()
			env.OnActivity(a.IngestRunVisitors, mock.Anything, mock.Anything).Return(activities.Landed{}, nil).Once()
			env.OnActivity(a.IngestMedias, mock.Anything, mock.Anything).Return(activities.MediaList{Medias: []string{"m0"}}, nil)
			env.OnWorkflow(MediaIngestWorkflow, mock.Anything, mock.Anything).Return(MediaIngestResult{Media: "m0", Days: testenv.Days("2026-11-22", "2026-11-23", "2026-11-24")}, nil)
			env.OnActivity(a.PendingDays, mock.Anything).Return(pending, nil).Once()
			merge := env.OnActivity(a.MergeDaysAndCheck, mock.Anything, mergeOf(testenv.Days("2026-11-02", "2026-11-22", "2026-11-23", "2026-11-24")))
			if fails {
				merge.Return(activities.MergeResult{}, temporal.NewNonRetryableApplicationError("data checks found 1 problem", activities.ErrTypeCheckFailed, nil)).Once()
				env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(nil).Once()
			} else {
				merge.Return(activities.MergeResult{Report: activities.TransformReport{Quarantined: map[string]int{"events": 2, "visitors": 1}}}, nil).Once()
				env.OnActivity(a.ClearMerged, mock.Anything, activities.ClearInput{Days: pending}).Return(2, nil).Once()
			}
			env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Date: "2026-11-24", Options: Options{Account: "acct", MaxConcurrency: 1}})
			if fails {
				require.ErrorContains(t, env.GetWorkflowError(), "data checks")
				env.AssertNotCalled(t, "ClearMerged", mock.Anything, mock.Anything)
				return
			}
			require.NoError(t, env.GetWorkflowError())
			var res DailyRunResult
			require.NoError(t, env.GetWorkflowResult(&res))
			assert.Equal(t, 3, res.Progress.Quarantined, "the rows the merge added to silver.quarantine")
			assert.Equal(t, testenv.Days("2026-11-02", "2026-11-22", "2026-11-23", "2026-11-24"), res.Progress.Merged)
		})
	}
}

func TestBackfillMergesWhatLandedEvenWhenADayFails(t *testing.T) {
	env := newEnv(t)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: BackfillID("acct", "2026-11-10", "2026-11-12")})
	ids := map[string]DailyRunInput{}
	env.OnWorkflow(DailyRunWorkflow, mock.Anything, mock.Anything).Return(func(ctx workflow.Context, in DailyRunInput) (DailyRunResult, error) {
		ids[workflow.GetInfo(ctx).WorkflowExecution.ID] = in
		if in.Date == "2026-11-11" {
			return DailyRunResult{}, errors.New("wistia: 500")
		}
		return DailyRunResult{Days: testenv.Days(in.Date), Progress: Progress{Records: 5}}, nil
	})
	noPending(env)
	env.OnActivity(a.MergeDaysAndCheck, mock.Anything, mergeOf(testenv.Days("2026-11-10", "2026-11-12"))).Return(activities.MergeResult{}, nil).Once()
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(nil).Once()
	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{From: "2026-11-10", To: "2026-11-12", Parallelism: 2, Options: Options{Account: "acct"}})
	require.ErrorContains(t, env.GetWorkflowError(), "days failed: [2026-11-11]")
	require.Len(t, ids, 3)
	for _, d := range []string{"2026-11-10", "2026-11-11", "2026-11-12"} {
		in, ok := ids[DailyRunID("acct", d)]
		require.True(t, ok, "day %s runs under its own ID", d)
		assert.Equal(t, activities.ModeBackfill, in.Mode)
		assert.True(t, in.Options.SkipTransform)
	}
}

func TestTransformWorkflowMergesTheRangeAndThePending(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.PendingDays, mock.Anything).Return([]activities.PendingDay{{Day: testenv.Day("2026-11-01"), Seq: 1}}, nil).Once()
	env.OnActivity(a.MergeDaysAndCheck, mock.Anything, mergeOf(testenv.Days("2026-11-01", "2026-11-20", "2026-11-21"))).Return(activities.MergeResult{}, nil).Once()
	env.ExecuteWorkflow(TransformWorkflow, TransformInput{From: "2026-11-20", To: "2026-11-21", Options: Options{Account: "acct"}})
	require.NoError(t, env.GetWorkflowError())
	var res Progress
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, PhaseDone, res.Phase)
	assert.Equal(t, testenv.Days("2026-11-01", "2026-11-20", "2026-11-21"), res.Merged)
}

func TestRunFetchesVisitorsOnceAndTheirFailureDoesNotHoldBackTheMerge(t *testing.T) {
	env := bareEnv(t)
	env.OnActivity(a.ExpireSnapshots, mock.Anything).Return(nil).Maybe()
	env.OnActivity(a.ClearMerged, mock.Anything, mock.Anything).Return(0, nil).Maybe()
	env.OnActivity(a.IngestMedias, mock.Anything, mock.Anything).Return(activities.MediaList{Medias: medias(3)}, nil)
	env.OnWorkflow(MediaIngestWorkflow, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in MediaIngestInput) (MediaIngestResult, error) {
			return MediaIngestResult{Media: in.Media, Days: testenv.Days("2026-11-23", "2026-11-24"), Records: 4}, nil
		})
	env.OnActivity(a.IngestRunVisitors, mock.Anything, activities.VisitorsInput{Date: testenv.Day("2026-11-24"), RunID: "daily-2026-11-24-default-test-run-id",
		Days: testenv.Days("2026-11-23", "2026-11-24")}).Return(activities.Landed{},
		temporal.NewNonRetryableApplicationError("wistia GET /stats/visitors/x.json: 403 Forbidden", activities.ErrTypeRejected, nil)).Once()
	noPending(env)
	env.OnActivity(a.MergeDaysAndCheck, mock.Anything, mergeOf(testenv.Days("2026-11-23", "2026-11-24"))).Return(activities.MergeResult{}, nil).Once()
	var alerts []activities.Alert
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, al activities.Alert) error {
		alerts = append(alerts, al)
		return nil
	}).Once()

	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Date: "2026-11-24", Options: Options{Account: "acct", MaxConcurrency: 2}})
	require.ErrorContains(t, env.GetWorkflowError(), "403", "the visitors' failure is reported, after the merge")
	require.Len(t, alerts, 1)
	assert.Equal(t, PhaseVisitors, alerts[0].Step)
}

// spreadMerges mocks MergeSilver: each day touches itself and the day before and adds one
// quarantined row; it records the days merged, the task queues used and how many ran at once.
type spreadMerges struct {
	mu                  sync.Mutex
	days                map[dates.Date]int
	queues              map[string]int
	inFlight, most      int
	fail                dates.Date // a day whose merge fails
	goldInput           *activities.GoldInput
	goldBeforeAllMerged bool
}

func (s *spreadMerges) mock(env *testsuite.TestWorkflowEnvironment) {
	s.days, s.queues = map[dates.Date]int{}, map[string]int{}
	env.OnActivity(a.MergeSilver, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.MergeInput) (activities.MergeResult, error) {
			days := in.Days
			s.mu.Lock()
			s.inFlight++
			s.most = max(s.most, s.inFlight)
			s.queues[activity.GetInfo(ctx).TaskQueue]++
			for _, d := range days {
				s.days[d]++
			}
			s.mu.Unlock()
			time.Sleep(20 * time.Millisecond) // long enough for the others queued to start beside it
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
			if len(days) == 1 && days[0] == s.fail {
				return activities.MergeResult{}, temporal.NewNonRetryableApplicationError("merge into silver.events: disk full", "Test", nil)
			}
			return activities.MergeResult{Report: activities.TransformReport{Days: days, Dates: []dates.Date{days[0].AddDays(-1), days[0]},
				Quarantined: map[string]int{"events": 1}}}, nil
		})
}

func TestBackfillSpreadsItsMergeOverDaysThenRecomputesGoldOnce(t *testing.T) {
	env := newEnv(t)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: BackfillID("acct", "2026-11-10", "2026-11-13"), TaskQueue: "wistia-test"})
	env.OnWorkflow(DailyRunWorkflow, mock.Anything, mock.Anything).Return(func(ctx workflow.Context, in DailyRunInput) (DailyRunResult, error) {
		return DailyRunResult{Days: testenv.Days(in.Date)}, nil
	})
	env.OnActivity(a.PendingDays, mock.Anything).Return([]activities.PendingDay{{Day: testenv.Day("2026-11-01"), Seq: 1}}, nil).Once()
	var merges spreadMerges
	merges.mock(env)
	env.OnActivity(a.RecomputeGoldAndCheck, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.GoldInput) (activities.MergeResult, error) {
		merges.mu.Lock()
		defer merges.mu.Unlock()
		merges.goldInput = &in
		merges.goldBeforeAllMerged = len(merges.days) < 5 || merges.inFlight > 0
		assert.Equal(t, "wistia-test-merge", activity.GetInfo(ctx).TaskQueue)
		return activities.MergeResult{}, nil
	}).Once()

	env.ExecuteWorkflow(BackfillWorkflow, BackfillInput{From: "2026-11-10", To: "2026-11-13", Parallelism: 2, Options: Options{Account: "acct", MergeSpread: 2}})
	require.NoError(t, env.GetWorkflowError())
	var res BackfillProgress
	require.NoError(t, env.GetWorkflowResult(&res))

	all := testenv.Days("2026-11-01", "2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13")
	for _, d := range all {
		assert.Equal(t, 1, merges.days[d], "day %s merged exactly once", d)
	}
	assert.Len(t, merges.days, len(all))
	assert.Equal(t, map[string]int{"wistia-test-merge": len(all)}, merges.queues, "every day merge goes to the merge task queue")
	assert.Equal(t, 2, merges.most, "at most MergeSpread day merges at once, and that many")
	require.NotNil(t, merges.goldInput)
	assert.False(t, merges.goldBeforeAllMerged, "gold is recomputed after every day merged")
	assert.Equal(t, all, merges.goldInput.Days)
	assert.Equal(t, testenv.Days("2026-10-31", "2026-11-01", "2026-11-09", "2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13"),
		merges.goldInput.Dates, "gold covers every date the day merges touched")
	assert.Equal(t, all, res.Merged)
	assert.Equal(t, len(all), res.Quarantined, "each day merge's quarantined rows count once")
}

func TestSpreadMergeFailingADayLeavesEveryDayPending(t *testing.T) {
	env := bareEnv(t)
	env.OnActivity(a.PendingDays, mock.Anything).Return([]activities.PendingDay{}, nil).Once()
	merges := spreadMerges{fail: testenv.Day("2026-11-20")}
	merges.mock(env)
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(nil).Once()
	// Neither RecomputeGoldAndCheck nor ClearMerged is mocked: calling either fails the test.
	env.ExecuteWorkflow(TransformWorkflow, TransformInput{From: "2026-11-20", To: "2026-11-22", Options: Options{Account: "acct", MergeSpread: 1000}})
	require.ErrorContains(t, env.GetWorkflowError(), "merge of 2026-11-20")
	require.ErrorContains(t, env.GetWorkflowError(), "disk full")
	assert.Equal(t, 1, merges.days[testenv.Day("2026-11-20")])
}

// Regression (found by the soak): the watermark and ledger calls are local activities whose
// retry policy promises ten attempts backing off to a minute apart, but whose schedule-to-close
// was unset, which the SDK turns into their 30 s start-to-close: a DynamoDB outage of 30 s
// failed the media and with it the day's run. The window must hold every promised retry.
func TestStorageRetriesFitTheirWindow(t *testing.T) {
	opts := storageLocalOptions(1)
	p := opts.RetryPolicy
	window, wait := time.Duration(0), p.InitialInterval
	for range p.MaximumAttempts - 1 {
		window += wait
		wait = min(time.Duration(float64(wait)*p.BackoffCoefficient), p.MaximumInterval)
	}
	assert.Greater(t, opts.ScheduleToCloseTimeout, window, "the %d retries wait %s in all", p.MaximumAttempts-1, window)
	assert.Zero(t, storageLocalOptions(workflow.DefaultVersion).ScheduleToCloseTimeout, "runs started before the change replay with the old options")
}

// listingOf matches the media listing of date.
func listingOf(date string) any {
	return mock.MatchedBy(func(in activities.MediasInput) bool { return in.Date == testenv.Day(date) })
}

// mergeOf matches a merge of exactly these days.
func mergeOf(days []dates.Date) any {
	return mock.MatchedBy(func(in activities.MergeInput) bool { return slices.Equal(in.Days, days) })
}

// statsOf matches the by_date fetch of media.
func statsOf(media string) any {
	return mock.MatchedBy(func(in activities.StatsInput) bool { return in.Media == media })
}

// eventsOf matches the events fetch of media on day.
func eventsOf(media, day string) any {
	return mock.MatchedBy(func(in activities.EventsInput) bool { return in.Media == media && in.Day == testenv.Day(day) })
}
