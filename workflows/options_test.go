package workflows

import (
	"os"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/wistia"
)

// TestPageRetryBudget states, by hand, what one page of the Wistia API may cost at the
// default settings before a run fails, and holds the code's budget to it: a change to the
// HTTP client's retries or to the activity's retry policy must change this test too.
func TestPageRetryBudget(t *testing.T) {
	// The HTTP client's defaults, as a worker with no WISTIA_* retry setting reads them.
	for _, name := range []string{"WISTIA_MAX_ATTEMPTS", "WISTIA_BACKOFF_BASE", "WISTIA_BACKOFF_MAX"} {
		t.Setenv(name, "") // restored after the test
		require.NoError(t, os.Unsetenv(name))
	}
	var cfg wistia.Config
	require.NoError(t, envconfig.Process("", &cfg))
	require.Equal(t, 8, cfg.MaxAttempts)
	require.Equal(t, 500*time.Millisecond, cfg.BackoffBase)
	require.Equal(t, 30*time.Second, cfg.BackoffMax)

	got := pageBudget(cfg.RetryPolicy())
	want := pageRetryBudget{
		// 8 requests in each of 10 activity attempts.
		Tries: 80,
		// 7 retries backing off at most 0.5 + 1 + 2 + 4 + 8 + 16 + 30 (not 32: the cap) seconds.
		HTTPBackoff: 61500 * time.Millisecond,
		// 9 retries of the activity: 5 + 10 + 20 + 40 + 80 + 160 + 300 + 300 + 300 seconds.
		ActivityBackoff: 1215 * time.Second,
		// 10 × 61.5 s + 1,215 s: half an hour of waiting before the page fails its run.
		Total: 30*time.Minute + 30*time.Second,
	}
	assert.Equal(t, want, got)
}
