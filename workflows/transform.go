package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// TransformInput asks for silver and gold of the bronze days From..To to be merged again.
type TransformInput struct {
	From    string  `json:"from"`
	To      string  `json:"to"`
	Options Options `json:"options"`
}

// TransformWorkflow re-merges silver and gold from the bronze of From..To (and the days
// pending) without calling the API: how an operator repairs the tables after a fix.
func TransformWorkflow(ctx workflow.Context, in TransformInput) (Progress, error) {
	progress := Progress{Date: in.From + ".." + in.To, Phase: PhaseTransform}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return progress, nil }); err != nil {
		return progress, err
	}
	from, err1 := dates.Parse(in.From)
	to, err2 := dates.Parse(in.To)
	if err := errors.Join(err1, err2); err != nil || to < from {
		return progress, temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad range %s..%s: %v", in.From, in.To, err), activities.ErrTypeBadInput, nil)
	}
	zone, err := zoneOf(ctx, in.Options)
	if err != nil {
		return progress, err
	}
	if err := wistia.CheckEndedDay(zone, to, workflow.Now(ctx)); err != nil {
		return progress, badDate(err)
	}
	days := dates.Range(from, to)
	runID := "transform-" + workflow.GetInfo(ctx).WorkflowExecution.RunID
	merged, step, err := mergePending(ctx, days, runID, in.Options.heartbeat(), spreadOf(ctx, in.Options), &progress)
	progress.Merged = merged
	if err != nil {
		progress.Phase, progress.Error = PhaseFailed, err.Error()
		notify(ctx, activities.Alert{Workflow: TransformType, Date: progress.Date, Step: step, Error: err.Error()})
		return progress, err
	}
	progress.Phase = PhaseDone
	return progress, nil
}
