package activities

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/sdk/activity"
)

// Regression (found by the soak): the retry of a merge whose worker was killed waited out the
// dead attempt's transform lease (a minute), because each attempt owned it under its own name.
func TestMergeRetryOwnsItsDeadAttemptsLease(t *testing.T) {
	attempt := func(run, activityID string, n int32) activity.Info {
		var info activity.Info
		info.WorkflowExecution.ID, info.WorkflowExecution.RunID = "daily-run/acct/2026-11-24", run
		info.ActivityID, info.Attempt = activityID, n
		return info
	}
	assert.Equal(t, mergeOwner(attempt("r1", "7", 1)), mergeOwner(attempt("r1", "7", 2)), "a retry takes over its own lease")
	assert.NotEqual(t, mergeOwner(attempt("r1", "7", 1)), mergeOwner(attempt("r2", "7", 1)), "another run waits")
	assert.NotEqual(t, mergeOwner(attempt("r1", "7", 1)), mergeOwner(attempt("r1", "9", 1)), "another merge of the run waits")
}
