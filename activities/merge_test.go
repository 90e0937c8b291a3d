package activities

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// TestMergeActivitiesThroughTheActivityEnvironment runs the merge activities as Temporal runs
// them (inputs and results through the data converter), on real local stores (bronze in a
// folder, the sqlite state and catalog) over simulator bronze. A merge spread over two silver
// steps and a gold step leaves every table equal to the simulator's ground truth; the
// one-step MergeDaysAndCheck of the same days then leaves them so again, its checks counting each
// bronze event once in bronze and once in silver.
func TestMergeActivitiesThroughTheActivityEnvironment(t *testing.T) {
	ctx := context.Background()
	now := testenv.Today(t).Add(9*time.Hour + 30*time.Minute)
	sl := truthcheck.NewSimLake(t, wistiasim.Options{Seed: 3, Medias: 3, Now: now}, lake.Config{Account: "acct",
		StatsTimezone: "UTC", LakehouseConfig: lake.LakehouseConfig{Catalog: "sql", SnapshotRetention: 7}})
	last := dates.UTC.LastEnded(now)
	days := dates.Range(last.AddDays(-2), last)
	sl.Land(t, "run-1", days)
	truth := sl.Sim.Truth(days[0].Time(), last.Time())

	marks, err := sl.Config.OpenState(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { marks.Close() })
	lh := sl.Lakehouse(t)
	acts := &Activities{Account: "acct", Store: sl.Store, Lake: lh, Marks: marks, Now: func() time.Time { return now }}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	run := func(activity any, args ...any) MergeResult {
		t.Helper()
		v, err := env.ExecuteActivity(activity, args...)
		require.NoError(t, err)
		var res MergeResult
		require.NoError(t, v.Get(&res))
		return res
	}
	first := run(acts.MergeSilver, MergeInput{Days: days[:2], RunID: "run-1"})
	second := run(acts.MergeSilver, MergeInput{Days: days[2:], RunID: "run-1"})
	assert.Equal(t, len(truth.Events), first.Check.BronzeEvents+second.Check.BronzeEvents, "each day's events checked where it was merged")
	gold := run(acts.RecomputeGoldAndCheck, GoldInput{Dates: append(first.Report.Dates, second.Report.Dates...), Days: days, RunID: "run-1"})
	assert.Equal(t, len(truth.MediaDaily)+len(truth.Engagement), gold.Check.FactRows)
	truthcheck.AssertLakehouse(t, lh, truth)

	again := run(acts.MergeDaysAndCheck, MergeInput{Days: days, RunID: "run-2"})
	assert.Equal(t, len(truth.Events), again.Check.BronzeEvents)
	assert.Equal(t, again.Check.BronzeEvents, again.Check.SilverEvents)
	assert.Equal(t, days, again.Report.Days)
	truthcheck.AssertLakehouse(t, lh, truth)

	// The positional activity of older runs is the same merge.
	legacy := run(acts.MergeAndCheck, dates.Strings(days), "run-3")
	assert.Equal(t, again.Check, legacy.Check)
	truthcheck.AssertLakehouse(t, lh, truth)
}
