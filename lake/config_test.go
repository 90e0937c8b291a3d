package lake

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/state"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

func TestConfigDefaultsAreEmbedded(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	var cfg Config
	require.NoError(t, config.Load(&cfg))
	store, err := cfg.OpenStore(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "file://"+filepath.Join(dir, "lake"), store.Location())
	wm, err := cfg.OpenState(context.Background())
	require.NoError(t, err)
	defer wm.Close()
	assert.IsType(t, &state.SQLite{}, wm)
	assert.FileExists(t, filepath.Join(dir, "watermarks.db"))
	assert.Equal(t, wistia.CatchUpPolicy{LookbackDays: 2, Zone: dates.UTC}, cfg.CatchUpPolicy())
}

func TestConfigNamesEveryBadValue(t *testing.T) {
	t.Setenv("BRONZE_URL", "ftp://bucket")
	t.Setenv("WATERMARKS_URL", "redis://x")
	t.Setenv("LOOKBACK_DAYS", "-1")
	t.Setenv("INGEST_FIRST_DAY", "yesterday")
	t.Setenv("S3_ENDPOINT", "not a url")
	var cfg Config
	err := config.Load(&cfg)
	require.Error(t, err)
	for _, name := range []string{"BRONZE_URL", "WATERMARKS_URL", "LOOKBACK_DAYS", "INGEST_FIRST_DAY", "S3_ENDPOINT"} {
		assert.Contains(t, err.Error(), name)
	}
}
