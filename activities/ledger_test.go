package activities

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/lake/state"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// TestLedgerActivitiesThroughTheActivityEnvironment runs the activities that move the shared
// state, as Temporal runs them, on the sqlite state store: a landing is pending before its
// watermark moves, a watermark never moves back, a catch-up plan starts from the watermark
// minus the lookback, a clear keeps a day whose bronze landed again since it was read, and a
// bad day is a non-retryable BadInput. The days are fixed, and the clock with them.
func TestLedgerActivitiesThroughTheActivityEnvironment(t *testing.T) {
	ctx := context.Background()
	marks, err := state.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	t.Cleanup(func() { marks.Close() })
	now := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	acts := &Activities{Account: "acct", Marks: marks, Policy: wistia.CatchUpPolicy{LookbackDays: 2, Zone: dates.UTC},
		Now: func() time.Time { return now }}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	run := func(result any, activity any, args ...any) error {
		t.Helper()
		v, err := env.ExecuteActivity(activity, args...)
		if err != nil {
			return err
		}
		if result == nil {
			return nil
		}
		return v.Get(result)
	}
	var moved bool
	require.NoError(t, run(&moved, acts.RecordLanded, LandedInput{Media: "m1", Days: testenv.Days("2026-11-22", "2026-11-23"),
		Mark: testenv.Day("2026-11-23"), RunID: "r1", Advance: true}))
	assert.True(t, moved, "the first watermark is set")
	require.NoError(t, run(&moved, acts.RecordLanded, LandedInput{Media: "m1", Days: testenv.Days("2026-11-21"),
		Mark: testenv.Day("2026-11-21"), RunID: "r2", Advance: true}))
	assert.False(t, moved, "a watermark never moves back")

	var plan ReadPlan
	require.NoError(t, run(&plan, acts.PlanIngest, PlanInput{Media: "m1", Date: testenv.Day("2026-11-24"), Mode: ModeCatchUp}))
	assert.Equal(t, ReadPlan{Start: testenv.Day("2026-11-21"), End: testenv.Day("2026-11-24"), Days: testenv.Days("2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24")}, plan,
		"from the watermark (23rd) minus two days of lookback to the date")

	var pending []PendingDay
	require.NoError(t, run(&pending, acts.PendingDays))
	assert.Equal(t, []PendingDay{{testenv.Day("2026-11-21"), 1}, {testenv.Day("2026-11-22"), 1}, {testenv.Day("2026-11-23"), 1}}, pending)
	require.NoError(t, run(nil, acts.MarkDaysPending, PendingInput{Days: testenv.Days("2026-11-23")})) // more bronze for the 23rd
	var cleared int
	require.NoError(t, run(&cleared, acts.ClearMerged, ClearInput{Days: pending}))
	assert.Equal(t, 2, cleared, "the 23rd landed again after the list was read")
	var left []PendingDay
	require.NoError(t, run(&left, acts.PendingDays))
	assert.Equal(t, []PendingDay{{testenv.Day("2026-11-23"), 2}}, left)

	// The positional activity older runs schedule does the same, and refuses a day that does
	// not exist for good.
	require.NoError(t, run(nil, acts.MarkPending, []string{"2026-11-23"}))
	require.NoError(t, run(&left, acts.PendingDays))
	assert.Equal(t, []PendingDay{{testenv.Day("2026-11-23"), 3}}, left)
	err = run(nil, acts.MarkPending, []string{"2026-11-31"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	assert.Equal(t, ErrTypeBadInput, app.Type())
	assert.True(t, app.NonRetryable())
}
