package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

func scheduleCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Manage the " + workflows.ScheduleID + " schedule that starts each day's run",
		Long: `The ` + workflows.ScheduleID + ` schedule fires once a day (03:00 by default) in the
account's stats zone (WISTIA_STATS_TIMEZONE); each action ingests the local day before its
scheduled time, the last one that has ended there.`,
		Example: `  starter schedule create
  starter schedule update --cron "30 3 * * *"
  starter schedule describe`,
		Args: cobra.NoArgs,
	}
	var cron string
	withCron := func(sub *cobra.Command) *cobra.Command {
		sub.Flags().StringVar(&cron, "cron", workflows.DefaultCron, "when the schedule fires, a cron expression in the account's stats zone (WISTIA_STATS_TIMEZONE)")
		return sub
	}
	cmd.AddCommand(
		withCron(&cobra.Command{
			Use: "create", Short: "Create the schedule", Args: cobra.NoArgs,
			Example: `  starter schedule create --cron "0 3 * * *"`,
			RunE: func(cmd *cobra.Command, _ []string) error {
				p, closeFn, err := c.pipeline(cmd.Context())
				if err != nil {
					return err
				}
				defer closeFn()
				if err := p.CreateSchedule(cmd.Context(), cron); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "schedule %s created: %q UTC on task queue %s\n", workflows.ScheduleID, cron, p.TaskQueue)
				return nil
			},
		}),
		withCron(&cobra.Command{
			Use: "update", Short: "Set the schedule's time and its runs' settings to the current ones", Args: cobra.NoArgs,
			Example: `  MAX_CONCURRENCY=50 starter schedule update`,
			RunE: func(cmd *cobra.Command, _ []string) error {
				p, closeFn, err := c.pipeline(cmd.Context())
				if err != nil {
					return err
				}
				defer closeFn()
				if err := p.UpdateSchedule(cmd.Context(), cron); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "schedule %s updated: %q UTC\n", workflows.ScheduleID, cron)
				return nil
			},
		}),
		&cobra.Command{
			Use: "describe", Short: "Show when the schedule fires and what it started", Args: cobra.NoArgs,
			Example: `  starter schedule describe`,
			RunE: func(cmd *cobra.Command, _ []string) error {
				var st operate.ScheduleState
				err := c.withClient(cmd.Context(), func(tc client.Client) (err error) {
					st, err = operate.DescribeSchedule(cmd.Context(), tc)
					return err
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "schedule %s\n  paused: %v\n  actions taken: %d\n", st.ID, st.Paused, st.Actions)
				for _, f := range st.Fires {
					fmt.Fprintf(c.stdout, "  fires: %s\n", f)
				}
				for _, a := range st.Next {
					fmt.Fprintf(c.stdout, "  next: %s (ingests %s)\n", a.At.Format(time.RFC3339), a.Date)
				}
				for _, a := range st.Recent {
					fmt.Fprintf(c.stdout, "  recent: %s workflow %s\n", a.At.Format(time.RFC3339), a.WorkflowID)
				}
				return nil
			},
		},
		pauseCmd(c, "pause", true), pauseCmd(c, "unpause", false),
		&cobra.Command{
			Use: "delete", Short: "Delete the schedule (runs it started are left alone)", Args: cobra.NoArgs,
			Example: `  starter schedule delete`,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := c.withClient(cmd.Context(), func(tc client.Client) error { return operate.DeleteSchedule(cmd.Context(), tc) }); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "schedule %s deleted\n", workflows.ScheduleID)
				return nil
			},
		},
	)
	return cmd
}

func pauseCmd(c *cli, name string, pause bool) *cobra.Command {
	short := "Stop the schedule from firing"
	if !pause {
		short = "Let the schedule fire again"
	}
	return &cobra.Command{
		Use: name, Short: short, Args: cobra.NoArgs,
		Example: "  starter schedule " + name,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.withClient(cmd.Context(), func(tc client.Client) error { return operate.PauseSchedule(cmd.Context(), tc, pause) }); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "schedule %s %sd\n", workflows.ScheduleID, name)
			return nil
		},
	}
}
