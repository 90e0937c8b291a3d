package lake

import (
	"context"
	"testing"

	"github.com/marketing-data/wistia-pipeline/lake/silver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnsureTablesSetsTheWriteProperties(t *testing.T) {
	ctx := context.Background()
	l := testLakehouse(t)
	const key = "write.parquet.dict-encoding-enabled.column.event_key"
	tbl, err := l.LoadTable(ctx, silver.EventsTable)
	require.NoError(t, err)
	assert.Equal(t, "false", tbl.Properties()[key], "a new table has them")

	// A table created before them gets them.
	tx := tbl.NewTransaction()
	require.NoError(t, tx.RemoveProperties([]string{key}))
	_, err = tx.Commit(ctx)
	require.NoError(t, err)
	require.NoError(t, l.EnsureTables(ctx))
	tbl, err = l.LoadTable(ctx, silver.EventsTable)
	require.NoError(t, err)
	assert.Equal(t, "false", tbl.Properties()[key])
}
