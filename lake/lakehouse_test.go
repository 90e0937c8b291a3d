package lake_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// simNow is the simulator's clock in these tests: 09:30 UTC of testenv.Today, so `make
// test-dates` runs them as if on other days. The records a test needs are planted
// (simOptions.Plant), and expectations come from the ground truth.
func simNow(t testing.TB) time.Time { return testenv.Today(t).Add(9*time.Hour + 30*time.Minute) }

// fixture is a simulator, a bronze store fed from it and a lakehouse, all on real servers.
type fixture struct {
	*truthcheck.SimLake
	lh *lake.Lakehouse
}

func newFixture(t *testing.T, warehouse string, opts wistiasim.Options) *fixture {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = simNow(t)
	}
	cfg := lake.Config{Account: "acct", AWSRegion: "us-east-1", LookbackDays: 2, StatsTimezone: dates.ZoneOf(opts.Zone).String(),
		LakehouseConfig: lake.LakehouseConfig{Catalog: "sql", SilverNamespace: "wistia_silver", GoldNamespace: "wistia_gold", SnapshotRetention: 7}}
	if warehouse == "s3" {
		truthcheck.InBucket(t, &cfg)
	}
	f := &fixture{SimLake: truthcheck.NewSimLake(t, opts, cfg)}
	f.Clock = opts.Now
	f.lh = f.Lakehouse(t)
	return f
}

// snapshot is every table's rows, for comparing two states.
type snapshot map[string][][]any

func (f *fixture) snapshot(t *testing.T) snapshot {
	t.Helper()
	s := snapshot{}
	for _, name := range lake.TableNames() {
		res, err := f.lh.Read(context.Background(), name, 0, 0, 0)
		require.NoError(t, err)
		rows := res.Rows
		slices.SortFunc(rows, func(a, b []any) int { return strings.Compare(render(a), render(b)) })
		s[name] = rows
	}
	return s
}

func render(row []any) string {
	var b strings.Builder
	for _, v := range row {
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(fmtAny(v), "\n", " ")))
		b.WriteByte('|')
	}
	return b.String()
}

var simOptions = wistiasim.Options{
	Seed: 44, Medias: 10, Visitors: 150, MeanEventsPerDay: 25,
	LateShare: 0.15, LateDays: 2, QuirkShare: 0.1, CorruptShare: 0.02, DuplicateShare: 0.05,
	Plant: []wistiasim.Planted{wistiasim.PlantCorrupt, wistiasim.PlantLate, wistiasim.PlantDuplicate, wistiasim.PlantQuirky},
}

func lastDays(t testing.TB, n int) []dates.Date {
	last := dates.DateOf(simNow(t)).AddDays(-1)
	return dates.Range(last.AddDays(-(n - 1)), last)
}

// TestLakehouse runs the whole transform on both warehouses. Late data and racing merges are
// the merge's logic, the same whatever the warehouse (the catalog decides commit races), so
// they run on file:// only; s3:// (versitygw) proves the IO path end to end, at a third of
// the time the three cases took there.
func TestLakehouse(t *testing.T) {
	for _, warehouse := range []string{"file", "s3"} {
		t.Run(warehouse, func(t *testing.T) {
			t.Run("MatchesGroundTruthAndRerunIsIdentical", func(t *testing.T) { testGroundTruthAndRerun(t, warehouse) })
			if warehouse != "file" {
				return
			}
			t.Run("LateDataChangesOnlyItsDate", func(t *testing.T) { testLateData(t, warehouse) })
			t.Run("RacingMergesBothLand", func(t *testing.T) { testRacingMerges(t, warehouse) })
		})
	}
}

func testGroundTruthAndRerun(t *testing.T, warehouse string) {
	ctx := context.Background()
	f := newFixture(t, warehouse, simOptions)
	days := lastDays(t, 4)
	f.Land(t, "run-1", days)
	rep, err := f.lh.Transform(ctx, f.Store, days, "run-1")
	require.NoError(t, err)
	truthcheck.AssertLakehouse(t, f.lh, f.Sim.Truth(days[0].Time(), days[len(days)-1].Time()))
	assert.Positive(t, rep.Quarantined[bronze.StreamEvents])

	before := f.snapshot(t)
	all := map[string]bool{}
	for _, r := range before["silver.events"] {
		all[render(r)] = true
	}
	limited, err := f.lh.Read(ctx, "silver.events", 0, 0, 5)
	require.NoError(t, err)
	require.Len(t, limited.Rows, 5, "a read stops at its limit")
	for _, r := range limited.Rows {
		assert.True(t, all[render(r)], "a limited read returns rows of the table")
	}
	var dayList []string
	for _, d := range days {
		dayList = append(dayList, d.String())
	}
	commits, err := f.lh.Commits(ctx, "silver.events")
	require.NoError(t, err)
	require.NotEmpty(t, commits)
	last := commits[len(commits)-1]
	assert.Equal(t, "run-1", last.RunID, "the history names the run that merged")
	assert.Equal(t, dayList, last.Days)
	assert.Equal(t, "append", last.Operation, "the first merge into an empty table only adds files")

	filesBefore := f.files(t)
	rep2, err := f.lh.Transform(ctx, f.Store, days, "run-1")
	require.NoError(t, err)
	assert.Equal(t, before, f.snapshot(t), "a second merge of the same bronze changes no row")
	filesAfter := f.files(t)
	for name, parts := range filesAfter {
		assert.Equal(t, len(filesBefore[name]), len(parts), "%s: partitions", name)
		for p, n := range parts {
			assert.Equal(t, len(filesBefore[name][p]), len(n), "%s partition %s: files", name, p)
		}
	}
	assert.Equal(t, rep.Events, rep2.Events)

	// The same days landed again by another run: unchanged records keep their rows exactly.
	f.Clock = f.Clock.Add(time.Minute)
	f.Land(t, "run-2", days)
	_, err = f.lh.Transform(ctx, f.Store, days, "run-2")
	require.NoError(t, err)
	assert.Equal(t, before, f.snapshot(t), "re-landing unchanged data changes no row")
}

// The report counts, by stream, the rows a transform added to silver.quarantine: records
// already there from an earlier transform, a reread lookback day or a landing again, are not
// counted twice.
func TestQuarantinedCountsRowsAdded(t *testing.T) {
	ctx := context.Background()
	opts := simOptions
	opts.CorruptShare = 0.2
	f := newFixture(t, "file", opts)
	days := lastDays(t, 3)
	f.Land(t, "run-1", days[:2])

	quarantine := func() map[string]silver.Quarantined {
		t.Helper()
		rows, err := lake.ReadRows[silver.Quarantined](ctx, f.lh, 0, 0)
		require.NoError(t, err)
		out := map[string]silver.Quarantined{}
		for _, q := range rows {
			out[q.RecordKey] = q
		}
		return out
	}
	transform := func(runID string, days []dates.Date) map[string]int {
		t.Helper()
		before := quarantine()
		rep, err := f.lh.Transform(ctx, f.Store, days, runID)
		require.NoError(t, err)
		added := map[string]int{}
		for key, q := range quarantine() {
			if _, ok := before[key]; !ok {
				added[q.Stream]++
			}
		}
		assert.Equal(t, added, withoutZeros(rep.Quarantined), "transform of %v", rep.Days)
		return added
	}

	first := transform("run-1", days[:2])
	assert.Positive(t, first[bronze.StreamEvents], "the simulator sends corrupt events")
	assert.Empty(t, transform("run-1", days[:2]), "the same bronze again adds nothing")

	// The next run lands the next day and its lookback day again, and transforms both.
	f.Clock = f.Clock.Add(time.Minute)
	f.Land(t, "run-2", days[1:])
	third := transform("run-2", days[1:])
	assert.Positive(t, third[bronze.StreamEvents], "the new day has corrupt events of its own")
}

func withoutZeros(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range m {
		if n != 0 {
			out[k] = n
		}
	}
	return out
}

// files lists each table's data files by partition.
func (f *fixture) files(t *testing.T) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	for _, name := range lake.TableNames() {
		files, err := f.lh.DataFiles(context.Background(), name)
		require.NoError(t, err)
		out[name] = files
	}
	return out
}

func testLateData(t *testing.T, warehouse string) {
	ctx := context.Background()
	f := newFixture(t, warehouse, simOptions)
	days := lastDays(t, 4)
	f.Land(t, "run-1", days)
	_, err := f.lh.Transform(ctx, f.Store, days, "run-1")
	require.NoError(t, err)
	before := f.files(t)
	beforeRows := f.snapshot(t)

	// Two days later the API lists late events for the older days; re-ingest one of them.
	f.Clock = simNow(t).Add(48 * time.Hour)
	f.Sim.SetNow(f.Clock)
	old := days[1]
	late := f.Sim.Truth(old.Time(), old.Time())
	f.Land(t, "run-2", []dates.Date{old})
	_, err = f.lh.Transform(ctx, f.Store, []dates.Date{old}, "run-2")
	require.NoError(t, err)

	events, err := lake.ReadRows[silver.Event](ctx, f.lh, old, old)
	require.NoError(t, err)
	require.Len(t, events, len(late.Events), "the old date holds its late events too")
	engagement, err := lake.ReadRows[gold.FactEngagement](ctx, f.lh, old, old)
	require.NoError(t, err)
	assert.Len(t, engagement, len(late.Engagement))

	after := f.files(t)
	oldPart := old.String()
	for _, name := range []string{"silver.events", "silver.media_daily_stats", "gold.fact_media_daily", "gold.fact_media_engagement"} {
		for p, files := range before[name] {
			if p == oldPart {
				assert.NotEqual(t, files, after[name][p], "%s partition %s is engine.Rewritten", name, p)
				continue
			}
			assert.Equal(t, files, after[name][p], "%s partition %s is untouched", name, p)
		}
	}
	// Every other day's rows are as they were.
	afterRows := f.snapshot(t)
	for _, name := range []string{"silver.events", "gold.fact_media_daily", "gold.fact_media_engagement"} {
		assert.Equal(t, withoutDay(beforeRows[name], oldPart), withoutDay(afterRows[name], oldPart), name)
	}
}

// withoutDay drops rows that hold day among their values.
func withoutDay(rows [][]any, day string) [][]any {
	var out [][]any
	for _, r := range rows {
		if !slices.ContainsFunc(r, func(v any) bool { return fmtAny(v) == day }) {
			out = append(out, r)
		}
	}
	return out
}

func testRacingMerges(t *testing.T, warehouse string) {
	ctx := context.Background()
	f := newFixture(t, warehouse, simOptions)
	days := lastDays(t, 4)
	f.Land(t, "run-1", days)

	// Four workers, each with its own catalog connection, merge one day each into silver at
	// once: every silver table sees racing commits.
	var (
		wg      sync.WaitGroup
		reports = make([]lake.TransformReport, len(days))
		errs    = make([]error, len(days))
	)
	for i, day := range days {
		lh := f.Lakehouse(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i], errs[i] = lh.MergeSilver(ctx, f.Store, []dates.Date{day}, "run-1")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	retried := 0
	for _, r := range reports {
		for _, m := range r.Merges {
			retried += max(0, m.Attempts-1)
		}
	}
	t.Logf("commits redone after losing a race: %d", retried)
	// Each worker counts what its committed attempt added to silver.quarantine, so together
	// they count every row once.
	counted, inTable := map[string]int{}, map[string]int{}
	for _, r := range reports {
		for stream, n := range r.Quarantined {
			counted[stream] += n
		}
	}
	quarantined, err := lake.ReadRows[silver.Quarantined](ctx, f.lh, 0, 0)
	require.NoError(t, err)
	for _, q := range quarantined {
		inTable[q.Stream]++
	}
	assert.Equal(t, inTable, withoutZeros(counted))
	require.NoError(t, f.lh.RecomputeGold(ctx, days, "run-1", &lake.TransformReport{}))
	truthcheck.AssertLakehouse(t, f.lh, f.Sim.Truth(days[0].Time(), days[len(days)-1].Time()))
}

func fmtAny(v any) string {
	if v == nil {
		return "<nil>"
	}
	return strings.TrimSpace(strings.Trim(strings.ReplaceAll(fmt.Sprint(v), "\t", " "), " "))
}
