package activities

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// TestIngestActivitiesThroughTheActivityEnvironment runs the landing activities as Temporal
// runs them (inputs and results through the data converter, errors as the workflow sees them)
// against the simulator on loopback and a bronze folder. The media list, one media's by_date
// rows over a plan and its events day by day land exactly what the simulator's ground truth
// lists, and a media the API no longer has is a NotFound that no retry repeats.
func TestIngestActivitiesThroughTheActivityEnvironment(t *testing.T) {
	now := testenv.Today(t).Add(9*time.Hour + 30*time.Minute)
	sl := truthcheck.NewSimLake(t, wistiasim.Options{Seed: 5, Medias: 3, MeanEventsPerDay: 20, Now: now,
		Deletions: []wistiasim.Deletion{{Index: 2, At: now.Add(-time.Hour)}}}, lake.Config{Account: "acct", StatsTimezone: "UTC"})
	last := dates.UTC.LastEnded(now)
	plan := ReadPlan{Start: last.AddDays(-2), End: last, Days: dates.Range(last.AddDays(-2), last)}
	truth := sl.Sim.Truth(plan.Start.Time(), plan.End.Time())
	acts := &Activities{Account: "acct", Ingester: sl.In, Store: sl.Store, Now: func() time.Time { return now }}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	run := func(result any, activity any, in any) error {
		t.Helper()
		v, err := env.ExecuteActivity(activity, in)
		if err != nil {
			return err
		}
		return v.Get(result)
	}

	var list MediaList
	require.NoError(t, run(&list, acts.IngestMedias, MediasInput{Date: last, RunID: "run-1"}))
	ids := sl.Sim.MediaIDs()
	assert.Equal(t, ids[:2], list.Medias, "the listed medias, without the one deleted an hour ago")
	assert.NotEmpty(t, list.Manifest)

	media := list.Medias[0]
	var stats Landed
	require.NoError(t, run(&stats, acts.IngestStats, StatsInput{Media: media, Plan: plan, Date: last, RunID: "run-1"}))
	rows := 0
	for _, d := range truth.Daily {
		if d.MediaID == media {
			rows++
		}
	}
	assert.Equal(t, len(plan.Days), rows, "the truth has one by_date row per day of the plan")
	assert.Equal(t, rows, stats.Records)
	assert.True(t, stats.Complete)

	events := 0
	for _, day := range plan.Days {
		var ev Landed
		require.NoError(t, run(&ev, acts.IngestDayEvents, EventsInput{Media: media, Day: day, RunID: "run-1"}))
		want := 0
		for _, e := range truth.Events {
			if e.MediaID == media && dates.DateOf(e.Day) == day {
				want++
			}
		}
		assert.Equal(t, want, ev.Records, "events of %s on %s", media, day)
		assert.True(t, ev.Complete, "%s read to its end", day)
		events += want
	}
	require.Positive(t, events, "the media has events to land")

	err := run(&stats, acts.IngestStats, StatsInput{Media: ids[2], Plan: plan, Date: last, RunID: "run-1"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	assert.Equal(t, ErrTypeNotFound, app.Type())
	assert.True(t, app.NonRetryable())
}
