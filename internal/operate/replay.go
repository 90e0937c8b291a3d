package operate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/workflows"
)

// ReplayRecent downloads the histories of the last executions of each workflow type
// (workflows.Types), running or closed, and replays them against the workflow code that
// register registers (workflows.Register, for the build at hand): the deploy gate that
// stops a build whose workflow changes are not behind workflow.GetVersion. It reports each
// type's count on out and returns an error naming every execution that failed.
func ReplayRecent(ctx context.Context, tc client.Client, namespace string, last int, register func(worker.WorkflowReplayer), out io.Writer) error {
	var failed []error
	for _, wfType := range workflows.Types {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: fmt.Sprintf("WorkflowType = %q", wfType), PageSize: int32(last)})
		if err != nil {
			return fmt.Errorf("list %s executions: %w", wfType, err)
		}
		replayed := 0
		for _, e := range resp.Executions {
			if replayed == last {
				break
			}
			exec := e.GetExecution()
			hist, err := history(ctx, tc, exec.GetWorkflowId(), exec.GetRunId())
			if err != nil {
				return err
			}
			replayer := worker.NewWorkflowReplayer()
			register(replayer)
			err = replayer.ReplayWorkflowHistoryWithOptions(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), hist,
				worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: exec.GetWorkflowId(), RunID: exec.GetRunId()}})
			if err != nil {
				failed = append(failed, fmt.Errorf("%s %s (run %s): %w", wfType, exec.GetWorkflowId(), exec.GetRunId(), err))
			}
			replayed++
		}
		fmt.Fprintf(out, "%-20s %d replayed\n", wfType, replayed)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d executions do not replay on this build:\n%w", len(failed), errors.Join(failed...))
	}
	return nil
}

func history(ctx context.Context, tc client.Client, id, runID string) (*historypb.History, error) {
	hist := &historypb.History{}
	iter := tc.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s (run %s): %w", id, runID, err)
		}
		hist.Events = append(hist.Events, e)
	}
	return hist, nil
}
