package activities

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// TestPlanIngestThroughTheActivityEnvironment runs PlanIngest as Temporal runs it (the SDK's
// activity environment: inputs and results through the data converter, errors as the workflow
// sees them) in the modes that read no watermark, and holds its error contract: a bad input
// is a non-retryable BadInput. The clock is fixed, so the plans hold on any day.
func TestPlanIngestThroughTheActivityEnvironment(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	now := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	acts := &Activities{Account: "acct", Policy: wistia.CatchUpPolicy{LookbackDays: 2, Zone: dates.UTC}, Now: func() time.Time { return now }}
	env.RegisterActivity(acts)
	plan := func(in PlanInput) (ReadPlan, error) {
		v, err := env.ExecuteActivity(acts.PlanIngest, in)
		if err != nil {
			return ReadPlan{}, err
		}
		var p ReadPlan
		require.NoError(t, v.Get(&p))
		return p, nil
	}

	got, err := plan(PlanInput{Media: "m1", Date: "2026-11-24", Mode: ModeExplicit})
	require.NoError(t, err)
	assert.Equal(t, ReadPlan{Start: "2026-11-22", End: "2026-11-24", Days: []string{"2026-11-22", "2026-11-23", "2026-11-24"}}, got,
		"an explicit run reads its date and the lookback's two days before it")

	got, err = plan(PlanInput{Media: "m1", Date: "2026-11-24", Mode: ModeBackfill})
	require.NoError(t, err)
	assert.Equal(t, ReadPlan{Start: "2026-11-24", End: "2026-11-24", Days: []string{"2026-11-24"}}, got, "a backfill reads exactly its day")

	for _, in := range []PlanInput{
		{Media: "m1", Date: "2026-11-24", Mode: "sometimes"},
		{Media: "m1", Date: "24/11/2026", Mode: ModeExplicit},
	} {
		_, err := plan(in)
		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "%+v: %v", in, err)
		assert.Equal(t, ErrTypeBadInput, app.Type(), "%+v", in)
		assert.True(t, app.NonRetryable(), "%+v: retrying a bad input gives the same answer", in)
	}
}
