package workflows

import "go.temporal.io/sdk/workflow"

// Registry is what registers workflows: a worker, a replayer, the test environment.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// workflowFuncs are the workflows, by the type names (Types) that schedules, the CLI and
// recorded histories use.
var workflowFuncs = map[string]any{
	DailyRunType:    DailyRunWorkflow,
	MediaIngestType: MediaIngestWorkflow,
	BackfillType:    BackfillWorkflow,
	TransformType:   TransformWorkflow,
}

// Register registers every workflow under its type: the one list the worker, the replay of
// recorded histories (tests and the deploy gate) and the test environment use.
func Register(r Registry) {
	for _, name := range Types {
		r.RegisterWorkflowWithOptions(workflowFuncs[name], workflow.RegisterOptions{Name: name})
	}
}
