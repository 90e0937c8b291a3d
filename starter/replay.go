package main

import (
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/worker"

	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

func replayCmd(c *cli) *cobra.Command {
	var last int
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Replay recent workflow histories against this build's workflow code",
		Long: `replay downloads the histories of the last executions of each workflow type, running or
closed, and replays them against the workflows in this binary. A change that is not behind
workflow.GetVersion fails here before it reaches the workers: the deploy gate.`,
		Example: `  starter replay --last 20 --address temporal.example.com:7233 --namespace prod`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if last < 1 || last > 1000 {
				return usagef("--last must be 1 to 1000")
			}
			tc, t, err := c.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer tc.Close()
			return operate.ReplayRecent(cmd.Context(), tc, t.Namespace, last, func(r worker.WorkflowReplayer) { workflows.Register(r) }, c.stdout)
		},
	}
	cmd.Flags().IntVar(&last, "last", 20, "executions of each workflow type to replay")
	return cmd
}
