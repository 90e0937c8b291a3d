package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/wistia"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// dayCheck refuses a day a command cannot run at now in the account's stats zone.
type dayCheck func(zone dates.Zone, day dates.Date, now time.Time) error

// dateFlags reads and checks a command's date flags: each must be YYYY-MM-DD and one that
// check allows at now (a day that has ended; for runs, one the API still serves). Empty flags
// are left out of the days returned.
func dateFlags(check dayCheck, flags map[string]string) (map[string]dates.Date, error) {
	var lk lake.Config // dates are days of the account's stats zone
	if err := config.Load(&lk); err != nil {
		return nil, err
	}
	days := map[string]dates.Date{}
	for _, name := range []string{"date", "from", "to"} {
		v, ok := flags[name]
		if !ok || v == "" {
			continue
		}
		d, err := dates.Parse(v)
		if err != nil {
			return nil, usagef("--%s %q: want YYYY-MM-DD", name, v)
		}
		if err := check(lk.Zone(), d, time.Now()); err != nil {
			return nil, usageError{err.Error()}
		}
		days[name] = d
	}
	return days, nil
}

// rangeFlags checks --from and --to of a command over a range of days.
func rangeFlags(cmd string, check dayCheck, from, to string) error {
	days, err := dateFlags(check, map[string]string{"from": from, "to": to})
	if err != nil {
		return err
	}
	if from == "" || to == "" || days["to"] < days["from"] {
		return usagef("%s needs --from and --to, from <= to", cmd)
	}
	return nil
}

// follow reports the start, follows the workflow's progress when wait is set, and waits for
// its result.
func (c *cli) follow(ctx context.Context, p operate.Pipeline, s operate.Started, wait bool, count operate.Count, result any) error {
	fmt.Fprintf(c.stdout, "%s %s (run %s)\n", s.Verb(), s.Run.GetID(), s.Run.GetRunID())
	if !wait {
		return nil
	}
	stop := operate.Follower{W: c.stderr, Terminal: c.terminal}.Follow(ctx, p.Client, s.Run.GetID(), count)
	err := s.Run.Get(ctx, result)
	stop()
	if err != nil {
		return fmt.Errorf("%s failed: %w", s.Run.GetID(), err)
	}
	return nil
}

func runCmd(c *cli) *cobra.Command {
	var (
		date string
		wait bool
	)
	cmd := &cobra.Command{
		Use:   "run --date YYYY-MM-DD",
		Short: "Run one date: its lookback window, then the merge and checks",
		Long: `run starts the run of a date (or attaches to the one in flight). It reads the date minus
LOOKBACK_DAYS to the date for every media, whatever the watermarks say, and moves no watermark.`,
		Example: `  starter run --date 2026-11-24 --wait`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if date == "" {
				return usagef("run needs --date")
			}
			if _, err := dateFlags(wistia.CheckRunDay, map[string]string{"date": date}); err != nil {
				return err
			}
			p, _, closeFn, err := c.pipeline(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			s, err := p.Run(cmd.Context(), date)
			if err != nil {
				return fmt.Errorf("start run for %s: %w", date, err)
			}
			var res workflows.DailyRunResult
			if err := c.follow(cmd.Context(), p, s, wait, func(v operate.Snapshot) (int, int, string) {
				return v.MediasDone, v.MediasTotal, v.Phase
			}, &res); err != nil || !wait {
				return err
			}
			fmt.Fprintf(c.stdout, "done: %d medias (%d skipped), %d records, %d quarantined, days %v, merged %v\n",
				res.Progress.MediasDone, res.Progress.Skipped, res.Progress.Records, res.Progress.Quarantined, res.Days, res.Progress.Merged)
			return nil
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "the logical date, YYYY-MM-DD (required)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the run to end, showing its progress")
	return cmd
}

func backfillCmd(c *cli) *cobra.Command {
	var (
		from, to    string
		parallelism int
		wait        bool
	)
	cmd := &cobra.Command{
		Use:   "backfill --from YYYY-MM-DD --to YYYY-MM-DD",
		Short: "Ingest exactly the days from..to, then merge them once",
		Long: `backfill runs each day of from..to as that date's run, reading exactly that day, and then
merges every day that landed once, spread over the workers. It moves no watermark.`,
		Example: `  starter backfill --from 2026-11-01 --to 2026-11-07 --parallelism 3 --wait`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := rangeFlags("backfill", wistia.CheckRunDay, from, to); err != nil {
				return err
			}
			if parallelism < 1 {
				return usagef("--parallelism must be 1 or more")
			}
			p, _, closeFn, err := c.pipeline(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			return c.backfill(cmd.Context(), p, from, to, parallelism, wait)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the first date, YYYY-MM-DD (required)")
	cmd.Flags().StringVar(&to, "to", "", "the last date, YYYY-MM-DD (required)")
	cmd.Flags().IntVar(&parallelism, "parallelism", 3, "days ingested at once")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the backfill to end, showing its progress")
	return cmd
}

func (c *cli) backfill(ctx context.Context, p operate.Pipeline, from, to string, parallelism int, wait bool) error {
	s, err := p.Backfill(ctx, from, to, parallelism)
	if err != nil {
		return fmt.Errorf("start backfill %s..%s: %w", from, to, err)
	}
	var res workflows.BackfillProgress
	if err := c.follow(ctx, p, s, wait, func(v operate.Snapshot) (int, int, string) {
		return v.DaysDone, v.DaysTotal, v.Phase
	}, &res); err != nil || !wait {
		return err
	}
	fmt.Fprintf(c.stdout, "done: %d days, %d records, %d quarantined, merged %v\n", res.DaysDone, res.Records, res.Quarantined, res.Merged)
	return nil
}

func transformCmd(c *cli) *cobra.Command {
	var (
		from, to string
		wait     bool
	)
	cmd := &cobra.Command{
		Use:   "transform --from YYYY-MM-DD --to YYYY-MM-DD",
		Short: "Merge the bronze of from..to into silver and gold again, without calling the API",
		Long: `transform re-merges silver and gold from the bronze already landed for from..to (and the
days pending merge): how an operator repairs the tables after a fix. Bronze is kept for good,
so any day that has ended can be transformed.`,
		Example: `  starter transform --from 2026-10-01 --to 2026-10-31 --wait`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := rangeFlags("transform", wistia.CheckEndedDay, from, to); err != nil {
				return err
			}
			p, _, closeFn, err := c.pipeline(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			s, err := p.Transform(cmd.Context(), from, to)
			if err != nil {
				return fmt.Errorf("start transform %s..%s: %w", from, to, err)
			}
			var res workflows.Progress
			if err := c.follow(cmd.Context(), p, s, wait, func(v operate.Snapshot) (int, int, string) {
				return len(v.Merged), len(v.Merged), v.Phase
			}, &res); err != nil || !wait {
				return err
			}
			fmt.Fprintf(c.stdout, "done: merged %v, %d quarantined\n", res.Merged, res.Quarantined)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the first bronze date, YYYY-MM-DD (required)")
	cmd.Flags().StringVar(&to, "to", "", "the last bronze date, YYYY-MM-DD (required)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the merge to end, showing its progress")
	return cmd
}
