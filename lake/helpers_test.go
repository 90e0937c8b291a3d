package lake

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// testLakehouse is the pipeline's lakehouse in a sqlite catalog under a temporary folder.
func testLakehouse(t *testing.T) *Lakehouse {
	t.Helper()
	dir := t.TempDir()
	cat, err := engine.OpenSQLCatalog(filepath.Join(dir, "catalog.db"), "file://"+filepath.Join(dir, "warehouse"), nil)
	require.NoError(t, err)
	l := NewLakehouse(cat, LakehouseOptions{})
	t.Cleanup(func() { l.Close() })
	require.NoError(t, l.EnsureTables(context.Background()))
	return l
}
