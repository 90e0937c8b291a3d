package main

import (
	"cmp"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

func scheduleCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Manage the schedule that starts each day's run (TEMPORAL_SCHEDULE_ID, default " + workflows.ScheduleID + ")",
		Long: `The schedule fires once a day (SCHEDULE_CRON, 03:00 by default) in the account's stats zone
(WISTIA_STATS_TIMEZONE); each action ingests the local day before its scheduled time, the last
one that has ended there. create and update take the runs' settings from the environment;
apply takes every setting from its flags, for deploys.`,
		Example: `  starter schedule create
  starter schedule update --cron "30 3 * * *"
  starter schedule apply --schedule-id wistia-daily-prod --task-queue wistia-pipeline-prod --account acme \
    --stats-timezone America/New_York --max-concurrency 20 --merge-spread 4 --cron "0 3 * * *"
  starter schedule describe`,
		Args: cobra.NoArgs,
	}
	var cron string
	withCron := func(sub *cobra.Command) *cobra.Command {
		sub.Flags().StringVar(&cron, "cron", "", `when the schedule fires, a cron expression in the account's stats zone (default $SCHEDULE_CRON, else "`+workflows.DefaultCron+`")`)
		return sub
	}
	cmd.AddCommand(
		withCron(&cobra.Command{
			Use: "create", Short: "Create the schedule", Args: cobra.NoArgs,
			Example: `  starter schedule create --cron "0 3 * * *"`,
			RunE: func(cmd *cobra.Command, _ []string) error {
				p, cfg, closeFn, err := c.pipeline(cmd.Context())
				if err != nil {
					return err
				}
				defer closeFn()
				when := cmp.Or(cron, cfg.Schedule.Cron)
				if err := p.CreateSchedule(cmd.Context(), when); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "schedule %s created: %q in %s on task queue %s\n", p.ScheduleID, when, p.Options.StatsZone, p.TaskQueue)
				return nil
			},
		}),
		withCron(&cobra.Command{
			Use: "update", Short: "Set the schedule's time and its runs' settings to the current ones", Args: cobra.NoArgs,
			Example: `  MAX_CONCURRENCY=50 starter schedule update`,
			RunE: func(cmd *cobra.Command, _ []string) error {
				p, cfg, closeFn, err := c.pipeline(cmd.Context())
				if err != nil {
					return err
				}
				defer closeFn()
				when := cmp.Or(cron, cfg.Schedule.Cron)
				if err := p.UpdateSchedule(cmd.Context(), when); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "schedule %s updated: %q in %s\n", p.ScheduleID, when, p.Options.StatsZone)
				return nil
			},
		}),
		applyCmd(c),
		&cobra.Command{
			Use: "describe", Short: "Show when the schedule fires and what it started", Args: cobra.NoArgs,
			Example: `  starter schedule describe`,
			RunE: func(cmd *cobra.Command, _ []string) error {
				id, err := c.scheduleID()
				if err != nil {
					return err
				}
				var st operate.ScheduleState
				err = c.withClient(cmd.Context(), func(tc client.Client) (err error) {
					st, err = operate.DescribeSchedule(cmd.Context(), tc, id)
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
				id, err := c.scheduleID()
				if err != nil {
					return err
				}
				if err := c.withClient(cmd.Context(), func(tc client.Client) error { return operate.DeleteSchedule(cmd.Context(), tc, id) }); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "schedule %s deleted\n", id)
				return nil
			},
		},
	)
	return cmd
}

// applyCmd creates or updates the schedule from its flags alone: a deploy passes the stack's
// parameters, and nothing a shell happens to hold (MAX_CONCURRENCY, say) can change them.
func applyCmd(c *cli) *cobra.Command {
	var (
		id, queue, account, zone, cron string
		options                        workflows.Options
	)
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Register the WistiaDate search attribute and create or update the schedule, all from flags",
		Long: `apply makes the namespace ready for the pipeline: it registers the WistiaDate search
attribute when it is missing, then creates the schedule or sets it to the flags. Every setting
comes from a flag, never from the environment (only the Temporal connection does), so a deploy
applies exactly the stack's parameters. Running it again changes nothing.`,
		Example: `  starter schedule apply --schedule-id wistia-daily-prod --task-queue wistia-pipeline-prod --account acme \
    --stats-timezone America/New_York --max-concurrency 20 --merge-spread 4 --cron "0 3 * * *"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			z, err := dates.LoadZone(zone)
			if err != nil {
				return usagef("--stats-timezone %q: %v", zone, err)
			}
			if err := operate.CheckCron(cron); err != nil {
				return usagef("--cron %q: %v", cron, err)
			}
			if options.MaxConcurrency < 1 || options.MergeSpread < 1 {
				return usagef("--max-concurrency and --merge-spread must be 1 or more")
			}
			options.Account, options.StatsZone = account, z.String()
			return c.withClient(cmd.Context(), func(tc client.Client) error {
				t, err := c.temporalConfig()
				if err != nil {
					return err
				}
				p := operate.Pipeline{Client: tc, TaskQueue: queue, ScheduleID: id, Options: options}
				if err := p.ApplySchedule(cmd.Context(), t.Namespace, cron); err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "schedule %s applied: %q in %s, runs of account %s on task queue %s (max concurrency %d, merge spread %d); search attribute %s registered\n",
					id, cron, options.StatsZone, account, queue, options.MaxConcurrency, options.MergeSpread, workflows.DateAttribute.GetName())
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "schedule-id", "", "the schedule's ID (the worker's TEMPORAL_SCHEDULE_ID)")
	f.StringVar(&queue, "task-queue", "", "the task queue its runs start on (the worker's TEMPORAL_TASK_QUEUE)")
	f.StringVar(&account, "account", "", "the account label of its runs (WISTIA_ACCOUNT)")
	f.StringVar(&zone, "stats-timezone", "", "the account's stats zone, an IANA name (WISTIA_STATS_TIMEZONE)")
	f.IntVar(&options.MaxConcurrency, "max-concurrency", 0, "media ingests in flight per run (MAX_CONCURRENCY)")
	f.IntVar(&options.MergeSpread, "merge-spread", 0, "days' merges a backfill queues at once (MERGE_SPREAD)")
	f.StringVar(&cron, "cron", "", "when it fires, a cron expression in the stats zone (SCHEDULE_CRON)")
	for _, name := range []string{"schedule-id", "task-queue", "account", "stats-timezone", "max-concurrency", "merge-spread", "cron"} {
		_ = cmd.MarkFlagRequired(name)
	}
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
			id, err := c.scheduleID()
			if err != nil {
				return err
			}
			if err := c.withClient(cmd.Context(), func(tc client.Client) error { return operate.PauseSchedule(cmd.Context(), tc, id, pause) }); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "schedule %s %sd\n", id, name)
			return nil
		},
	}
}
