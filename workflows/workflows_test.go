package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/internal/ingest"
	"github.com/marketing-data/wistia-pipeline/lake"
)

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(DailyRunWorkflow)
	env.RegisterWorkflow(MediaIngestWorkflow)
	env.RegisterWorkflow(BackfillWorkflow)
	env.RegisterActivity(a)
	env.OnActivity(a.ExpireSnapshots, mock.Anything).Return(nil).Maybe()
	t.Cleanup(func() { env.AssertExpectations(t) })
	return env
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
			return MediaIngestResult{Media: in.Media, Days: []string{in.Date}, Records: 10, Requests: 2}, nil
		})
}

func TestDailyRunNeverExceedsTheConcurrencyCap(t *testing.T) {
	env := newEnv(t)
	list := medias(20)
	env.OnActivity(a.ListMedias, mock.Anything, "2026-11-24", mock.Anything).Return(activities.MediaList{Medias: list, Requests: 1}, nil).Once()
	env.OnActivity(a.Transform, mock.Anything, []string{"2026-11-24"}, mock.Anything).Return(lake.TransformReport{}, nil).Once()
	env.OnActivity(a.CheckData, mock.Anything, []string{"2026-11-24"}).Return(activities.CheckResult{}, nil).Once()
	maxInFlight, ran := 0, map[string]int{}
	stubChildren(env, &maxInFlight, ran)

	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Date: "2026-11-24", Options: Options{Account: "acct", MaxConcurrency: 3}})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res DailyRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, 3, maxInFlight, "children in flight at most")
	assert.Len(t, ran, 20)
	assert.Equal(t, Progress{Date: "2026-11-24", Phase: PhaseDone, MediasTotal: 20, MediasDone: 20, Records: 200, Requests: 41}, res.Progress)
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
			env.OnActivity(a.ListMedias, mock.Anything, mock.Anything, mock.Anything).Return(activities.MediaList{Medias: list}, nil).Once()
		}
		env.OnActivity(a.Transform, mock.Anything, mock.Anything, mock.Anything).Return(lake.TransformReport{}, nil).Maybe()
		env.OnActivity(a.CheckData, mock.Anything, mock.Anything).Return(activities.CheckResult{}, nil).Maybe()
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
	env.OnActivity(a.ListMedias, mock.Anything, mock.Anything, mock.Anything).Return(activities.MediaList{Medias: []string{"m000", "m001"}}, nil)
	env.OnActivity(a.PlanWindow, mock.Anything, mock.Anything, "2026-11-24").Return(activities.Window{Start: "2026-11-24", End: "2026-11-24", Days: []string{"2026-11-24"}}, nil)
	env.OnActivity(a.IngestDailyStats, mock.Anything, "m000", mock.Anything, mock.Anything, mock.Anything).Return(ingest.Landed{Records: 1, Requests: 1}, nil)
	env.OnActivity(a.IngestDailyStats, mock.Anything, "m001", mock.Anything, mock.Anything, mock.Anything).Return(ingest.Landed{}, notFound()).Once()
	env.OnActivity(a.IngestEvents, mock.Anything, "m000", "2026-11-24", mock.Anything).Return(ingest.Landed{Records: 5, Complete: true, Requests: 1}, nil)
	env.OnActivity(a.IngestVisitors, mock.Anything, "m000", mock.Anything, mock.Anything, mock.Anything).Return(ingest.Landed{Records: 2, Requests: 2}, nil)
	env.OnActivity(a.AdvanceWatermark, mock.Anything, "m000", "2026-11-24", mock.Anything).Return(true, nil).Once()
	env.OnActivity(a.Transform, mock.Anything, []string{"2026-11-24"}, mock.Anything).Return(lake.TransformReport{}, nil)
	env.OnActivity(a.CheckData, mock.Anything, mock.Anything).Return(activities.CheckResult{}, nil)

	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Date: "2026-11-24", Options: Options{Account: "acct", MaxConcurrency: 4}})
	require.NoError(t, env.GetWorkflowError())
	var res DailyRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, 1, res.Progress.Skipped)
	assert.Equal(t, 2, res.Progress.MediasDone)
	assert.Equal(t, 8, res.Progress.Records)
}

func TestRejectedTokenFailsAtOnceAndAlertsOnce(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.ListMedias, mock.Anything, mock.Anything, mock.Anything).Return(activities.MediaList{},
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
	w := activities.Window{Start: "2026-11-23", End: "2026-11-24", Days: []string{"2026-11-23", "2026-11-24"}}
	env.OnActivity(a.PlanWindow, mock.Anything, "m000", "2026-11-24").Return(w, nil)
	env.OnActivity(a.IngestDailyStats, mock.Anything, "m000", w, "2026-11-24", "r").Return(ingest.Landed{Requests: 1}, nil)
	env.OnActivity(a.IngestEvents, mock.Anything, "m000", "2026-11-23", "r").Return(ingest.Landed{}, errors.New("wistia: 503")).Twice()
	env.OnActivity(a.IngestEvents, mock.Anything, "m000", "2026-11-23", "r").Return(ingest.Landed{Records: 3, Complete: true}, nil).Once()
	// The second window is incomplete: the watermark stops at the first.
	env.OnActivity(a.IngestEvents, mock.Anything, "m000", "2026-11-24", "r").Return(ingest.Landed{Records: 4, Complete: false}, nil).Once()
	env.OnActivity(a.IngestVisitors, mock.Anything, "m000", w, "2026-11-24", "r").Return(ingest.Landed{}, nil)
	env.OnActivity(a.AdvanceWatermark, mock.Anything, "m000", "2026-11-23", "r").Return(true, nil).Once()

	env.ExecuteWorkflow(MediaIngestWorkflow, MediaIngestInput{Media: "m000", Date: "2026-11-24", RunID: "r"})
	require.NoError(t, env.GetWorkflowError())
	var res MediaIngestResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, MediaIngestResult{Media: "m000", Days: w.Days, Records: 7, Requests: 1, Complete: 1, Mark: "2026-11-23"}, res)
}

func TestLogicalDateComesFromTheSchedule(t *testing.T) {
	env := newEnv(t)
	env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime").ValueSet(time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC))))
	env.OnActivity(a.ListMedias, mock.Anything, "2026-11-24", mock.Anything).Return(activities.MediaList{Medias: []string{}}, nil).Once()
	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Options: Options{Account: "acct", MaxConcurrency: 1}})
	require.NoError(t, env.GetWorkflowError())
	var res DailyRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, "2026-11-24", res.Progress.Date)
}

func TestSnapshotsExpireAfterChecksWithoutFailingTheRun(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(DailyRunWorkflow)
	env.RegisterActivity(a)
	env.OnActivity(a.ListMedias, mock.Anything, mock.Anything, mock.Anything).Return(activities.MediaList{Medias: []string{}}, nil)
	// No medias, but the run still transforms nothing: expiration only follows a transform.
	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Date: "2026-11-24", Options: Options{Account: "acct", MaxConcurrency: 1}})
	require.NoError(t, env.GetWorkflowError())
	env.AssertNotCalled(t, "ExpireSnapshots", mock.Anything)

	env = s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(DailyRunWorkflow)
	env.RegisterActivity(a)
	env.OnActivity(a.ListMedias, mock.Anything, mock.Anything, mock.Anything).Return(activities.MediaList{Medias: []string{"m0"}}, nil)
	env.OnWorkflow(MediaIngestWorkflow, mock.Anything, mock.Anything).Return(MediaIngestResult{Media: "m0", Days: []string{"2026-11-24"}}, nil)
	env.OnActivity(a.Transform, mock.Anything, mock.Anything, mock.Anything).Return(lake.TransformReport{}, nil).Once()
	env.OnActivity(a.CheckData, mock.Anything, mock.Anything).Return(activities.CheckResult{}, nil).Once()
	env.OnActivity(a.ExpireSnapshots, mock.Anything).Return(errors.New("catalog busy")).Times(3) // its retry policy's attempts
	env.ExecuteWorkflow(DailyRunWorkflow, DailyRunInput{Date: "2026-11-24", Options: Options{Account: "acct", MaxConcurrency: 1}})
	require.NoError(t, env.GetWorkflowError(), "a failed expiration does not fail the run")
	env.AssertExpectations(t)
}
