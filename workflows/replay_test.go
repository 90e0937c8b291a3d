package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
)

// Recorded histories (workflows/testdata/record.sh) replay against today's workflow code: a
// change that is not behind workflow.GetVersion breaks them. Each recording is a parent and
// one of its children; the *_v0 pair predates the local watermark activities.
var recorded = []struct {
	parent, child string
}{
	{"daily_run_v0.json", "media_ingest_v0.json"},
	{"daily_run.json", "media_ingest.json"},
}

const parentID = "daily-run/acct/2026-11-19"

func replay(t *testing.T, file, id string, register func(worker.WorkflowReplayer)) error {
	t.Helper()
	path := filepath.Join("testdata", file)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err)
	start := hist.Events[0].GetWorkflowExecutionStartedEventAttributes()
	require.NotNil(t, start, "%s starts with WorkflowExecutionStarted", path)
	if id == "" {
		id = childID(t, filepath.Join("testdata", parentOf(file)), path)
	}
	r := worker.NewWorkflowReplayer()
	register(r)
	// OriginalExecution gives the replay the run's real IDs, from which child IDs derive.
	return r.ReplayWorkflowHistoryWithOptions(nil, hist, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: id, RunID: start.GetOriginalExecutionRunId()}})
}

func parentOf(child string) string {
	for _, r := range recorded {
		if r.child == child {
			return r.parent
		}
	}
	return ""
}

// childID finds the media ingest's workflow ID in the parent's recorded history.
func childID(t *testing.T, parentPath, path string) string {
	f, err := os.Open(parentPath)
	require.NoError(t, err)
	defer f.Close()
	parent, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err)
	g, err := os.Open(path)
	require.NoError(t, err)
	defer g.Close()
	child, err := client.HistoryFromJSON(g, client.HistoryJSONOptions{})
	require.NoError(t, err)
	runID := child.Events[0].GetWorkflowExecutionStartedEventAttributes().GetOriginalExecutionRunId()
	for _, e := range parent.Events {
		if a := e.GetChildWorkflowExecutionStartedEventAttributes(); a != nil && a.GetWorkflowExecution().GetRunId() == runID {
			return a.GetWorkflowExecution().GetWorkflowId()
		}
	}
	t.Fatalf("%s: its run %s is not among the parent's children", path, runID)
	return ""
}

func registerAll(r worker.WorkflowReplayer) {
	r.RegisterWorkflowWithOptions(DailyRunWorkflow, workflow.RegisterOptions{Name: "DailyRunWorkflow"})
	r.RegisterWorkflowWithOptions(MediaIngestWorkflow, workflow.RegisterOptions{Name: "MediaIngestWorkflow"})
	r.RegisterWorkflowWithOptions(BackfillWorkflow, workflow.RegisterOptions{Name: "BackfillWorkflow"})
}

func TestReplayRecordedHistories(t *testing.T) {
	for _, h := range recorded {
		t.Run(h.parent, func(t *testing.T) {
			require.NoError(t, replay(t, h.parent, parentID, registerAll))
		})
		t.Run(h.child, func(t *testing.T) {
			require.NoError(t, replay(t, h.child, "", registerAll))
		})
	}
}

// A change that reorders what a workflow does, without GetVersion, must fail the replay.
func TestReplayCatchesANonDeterministicChange(t *testing.T) {
	changed := func(ctx workflow.Context, in MediaIngestInput) (MediaIngestResult, error) {
		// Someone "optimises" by fetching stats before planning the window.
		var ignored any
		_ = workflow.ExecuteActivity(storageCalls(ctx), a.IngestDailyStats, in.Media, activities.Window{}, in.Date, in.RunID).Get(ctx, &ignored)
		return MediaIngestWorkflow(ctx, in)
	}
	err := replay(t, "media_ingest_v0.json", "", func(r worker.WorkflowReplayer) {
		r.RegisterWorkflowWithOptions(changed, workflow.RegisterOptions{Name: "MediaIngestWorkflow"})
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TMPRL1100", "the SDK's non-determinism error")
}
