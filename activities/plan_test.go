package activities

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
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

	got, err := plan(PlanInput{Media: "m1", Date: testenv.Day("2026-11-24"), Mode: ModeExplicit})
	require.NoError(t, err)
	assert.Equal(t, ReadPlan{Start: testenv.Day("2026-11-22"), End: testenv.Day("2026-11-24"), Days: testenv.Days("2026-11-22", "2026-11-23", "2026-11-24")}, got,
		"an explicit run reads its date and the lookback's two days before it")

	got, err = plan(PlanInput{Media: "m1", Date: testenv.Day("2026-11-24"), Mode: ModeBackfill})
	require.NoError(t, err)
	assert.Equal(t, ReadPlan{Start: testenv.Day("2026-11-24"), End: testenv.Day("2026-11-24"), Days: testenv.Days("2026-11-24")}, got, "a backfill reads exactly its day")

	_, err = plan(PlanInput{Media: "m1", Date: testenv.Day("2026-11-24"), Mode: "sometimes"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	assert.Equal(t, ErrTypeBadInput, app.Type())
	assert.True(t, app.NonRetryable(), "retrying a bad input gives the same answer")
}

// A plan travels as the strings it always did: a history recorded before days were typed
// decodes into the same plan, and the plan encodes back to the same JSON.
func TestReadPlanKeepsItsPayload(t *testing.T) {
	recorded := `{"start":"2026-11-22","end":"2026-11-24","days":["2026-11-22","2026-11-23","2026-11-24"]}`
	var p ReadPlan
	require.NoError(t, json.Unmarshal([]byte(recorded), &p))
	assert.Equal(t, ReadPlan{Start: testenv.Day("2026-11-22"), End: testenv.Day("2026-11-24"), Days: testenv.Days("2026-11-22", "2026-11-23", "2026-11-24")}, p)
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.JSONEq(t, recorded, string(b))

	require.NoError(t, json.Unmarshal([]byte(`{"start":"","end":"","days":null}`), &p), "the empty plan of a media with nothing to read")
	assert.Equal(t, ReadPlan{}, p)
}
