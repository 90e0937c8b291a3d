package lake_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/benchdata"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// Every merge commit adds a manifest; maintenance compacts a table's manifests once they pass
// engine.MaxManifests, the tables read exactly as before, and merges go on as before.
func TestMaintenanceCompactsManifestsAndKeepsRows(t *testing.T) {
	ctx := context.Background()
	store, err := bronze.NewLocalStore(t.TempDir())
	require.NoError(t, err)
	shape := benchdata.NewShape(2_000, engine.MaxManifests+4, 2)
	shape.Visitors, shape.StatsPerDay = 50, true
	set, err := benchdata.Land(ctx, store, shape)
	require.NoError(t, err)

	l := emptyLakehouse(t)
	defer l.Close()
	for _, day := range set.Days { // a commit per day, as daily runs make them
		_, err := l.Transform(ctx, store, []dates.Date{day}, "daily")
		require.NoError(t, err)
	}
	before, err := lake.ManifestCount(ctx, l, "silver.events")
	require.NoError(t, err)
	require.Greater(t, before, engine.MaxManifests, "the daily commits left more manifests than maintenance allows")
	rows := readAll(t, l)

	require.NoError(t, l.ExpireSnapshots(ctx))
	for _, name := range lake.TableNames() {
		n, err := lake.ManifestCount(ctx, l, name)
		require.NoError(t, err)
		assert.LessOrEqual(t, n, engine.MaxManifests, "%s after maintenance", name)
	}
	assert.Equal(t, rows, readAll(t, l), "compacting manifests changed no row")

	// Merging on the compacted tables: the last day again, unchanged rows, and the checks pass.
	_, err = l.Transform(ctx, store, set.Days[len(set.Days)-1:], "again")
	require.NoError(t, err)
	assert.Equal(t, rows, readAll(t, l))
	rep, err := l.Check(ctx, store, set.Days)
	require.NoError(t, err)
	assert.Empty(t, rep.Problems)
}

// readAll renders every table's rows, sorted, so two reads compare regardless of file order.
func readAll(t *testing.T, l *lake.Lakehouse) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, name := range lake.TableNames() {
		res, err := l.Read(context.Background(), name, 0, 0, 0)
		require.NoError(t, err)
		for _, r := range res.Rows {
			out[name] = append(out[name], fmt.Sprint(r))
		}
		sort.Strings(out[name])
	}
	return out
}
