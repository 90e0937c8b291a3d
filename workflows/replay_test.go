package workflows

import (
	"encoding/json"
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
// change that is not behind workflow.GetVersion breaks them. testdata/histories.json lists
// each recording with the workflow ID it ran under (child IDs and the date's run ID derive
// from it); the _v0 and _v1 recordings predate local watermark activities and run modes.
type recording struct {
	File       string `json:"file"`
	WorkflowID string `json:"workflow_id"`
	Note       string `json:"note,omitempty"`
}

func recordings(t *testing.T) []recording {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "histories.json"))
	require.NoError(t, err)
	var list []recording
	require.NoError(t, json.Unmarshal(b, &list))
	return list
}

func recordingOf(t *testing.T, file string) recording {
	t.Helper()
	for _, r := range recordings(t) {
		if r.File == file {
			return r
		}
	}
	t.Fatalf("%s is not in testdata/histories.json", file)
	return recording{}
}

func replay(t *testing.T, rec recording, register func(worker.WorkflowReplayer)) error {
	t.Helper()
	path := filepath.Join("testdata", rec.File)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err)
	start := hist.Events[0].GetWorkflowExecutionStartedEventAttributes()
	require.NotNil(t, start, "%s starts with WorkflowExecutionStarted", path)
	r := worker.NewWorkflowReplayer()
	register(r)
	// OriginalExecution gives the replay the run's real IDs, from which child IDs derive.
	return r.ReplayWorkflowHistoryWithOptions(nil, hist, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: rec.WorkflowID, RunID: start.GetOriginalExecutionRunId()}})
}

func TestReplayRecordedHistories(t *testing.T) {
	list := recordings(t)
	require.GreaterOrEqual(t, len(list), 4)
	for _, rec := range list {
		t.Run(rec.File, func(t *testing.T) {
			require.NoError(t, replay(t, rec, func(r worker.WorkflowReplayer) { Register(r) }))
		})
	}
}

// A change that reorders what a workflow does, without GetVersion, must fail the replay.
func TestReplayCatchesANonDeterministicChange(t *testing.T) {
	changed := func(ctx workflow.Context, in MediaIngestInput) (MediaIngestResult, error) {
		// Someone "optimises" by fetching stats before planning the window.
		var ignored any
		_ = workflow.ExecuteActivity(storageCallsV0(ctx), a.IngestDailyStats, in.Media, activities.ReadPlan{}, in.Date, in.RunID).Get(ctx, &ignored)
		return MediaIngestWorkflow(ctx, in)
	}
	err := replay(t, recordingOf(t, "media_ingest_v0.json"), func(r worker.WorkflowReplayer) {
		r.RegisterWorkflowWithOptions(changed, workflow.RegisterOptions{Name: MediaIngestType})
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "TMPRL1100", "the SDK's non-determinism error")
}
