package app

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/internal/config"
	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// ScheduleID is the daily schedule's ID.
const ScheduleID = "wistia-daily"

// DefaultCron fires at 02:00 UTC, ingesting the day before.
const DefaultCron = "0 2 * * *"

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage:
  starter schedule create|update|describe|pause|unpause|delete [--cron EXPR]
  starter run --date YYYY-MM-DD [--wait]
  starter backfill --from YYYY-MM-DD --to YYYY-MM-DD [--parallelism N] [--wait]
  starter transform --from YYYY-MM-DD --to YYYY-MM-DD [--wait]
  starter status [--date YYYY-MM-DD]
  starter replay [--last N]
  starter query TABLE [--from YYYY-MM-DD --to YYYY-MM-DD] [--format table|csv|json] [--limit N]
tables: ` + "%s\n"

// Starter runs the operator CLI and returns its exit status: 0 on success, 1 when the
// operation failed, 2 for a bad command line or configuration.
func Starter(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := starter(ctx, args, stdout, stderr)
	var ue usageError
	var ce *config.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "starter: %s\n"+usage, err, strings.Join(lake.TableNames(), ", "))
		return 2
	case errors.As(err, &ce):
		fmt.Fprintln(stderr, "starter:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "starter:", err)
		return 1
	}
}

func starter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	cmd, rest := args[0], args[1:]
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	if cmd == "query" {
		return queryCmd(ctx, cfg, rest, stdout)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		date, from, to, cron string
		wait                 bool
		parallelism, last    int
	)
	sub := ""
	switch cmd {
	case "schedule":
		if len(rest) == 0 {
			return usageError{"schedule needs an action"}
		}
		sub, rest = rest[0], rest[1:]
		fs.StringVar(&cron, "cron", DefaultCron, "cron expression, UTC")
	case "run":
		fs.StringVar(&date, "date", "", "logical date")
		fs.BoolVar(&wait, "wait", false, "wait for the run to end")
	case "backfill":
		fs.StringVar(&from, "from", "", "first date")
		fs.StringVar(&to, "to", "", "last date")
		fs.IntVar(&parallelism, "parallelism", 3, "days ingested at once")
		fs.BoolVar(&wait, "wait", false, "wait, showing progress")
	case "transform":
		fs.StringVar(&from, "from", "", "first bronze date")
		fs.StringVar(&to, "to", "", "last bronze date")
		fs.BoolVar(&wait, "wait", false, "wait for the merge to end")
	case "status":
		fs.StringVar(&date, "date", "", "logical date; the latest run when empty")
	case "replay":
		fs.IntVar(&last, "last", 20, "executions of each workflow type to replay")
	default:
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	if err := fs.Parse(rest); err != nil {
		return usageError{err.Error()}
	}
	for name, v := range map[string]string{"--date": date, "--from": from, "--to": to} {
		if _, err := dates.Parse(v); v != "" && err != nil {
			return usageError{fmt.Sprintf("%s %q: want YYYY-MM-DD", name, v)}
		}
	}
	switch {
	case cmd == "run" && date == "":
		return usageError{"run needs --date"}
	case (cmd == "backfill" || cmd == "transform") && (from == "" || to == "" || to < from):
		return usageError{cmd + " needs --from and --to, from <= to"}
	case cmd == "backfill" && parallelism < 1:
		return usageError{"--parallelism must be 1 or more"}
	case cmd == "replay" && (last < 1 || last > 1000):
		return usageError{"--last must be 1 to 1000"}
	case cmd == "schedule" && !slices.Contains([]string{"create", "update", "describe", "pause", "unpause", "delete"}, sub):
		return usageError{fmt.Sprintf("unknown schedule action %q", sub)}
	}
	if err := checkDates(cmd, date, from, to, time.Now()); err != nil {
		return err
	}
	tc, err := cfg.Temporal.Dial(ctx, discardLogger(), nil)
	if err != nil {
		return err
	}
	defer tc.Close()
	switch cmd {
	case "schedule":
		return scheduleCmd(ctx, tc, cfg, sub, cron, stdout)
	case "run":
		return runCmd(ctx, tc, cfg, date, wait, stdout, stderr)
	case "backfill":
		return backfillCmd(ctx, tc, cfg, from, to, parallelism, wait, stdout, stderr)
	case "transform":
		return transformCmd(ctx, tc, cfg, from, to, wait, stdout, stderr)
	case "replay":
		return ReplayRecent(ctx, tc, cfg.Temporal.Namespace, last, func(r worker.WorkflowReplayer) { RegisterWorkflows(r) }, stdout)
	default:
		return statusCmd(ctx, tc, cfg, date, stdout)
	}
}

// checkDates refuses, as a usage error, dates a command cannot work on at now: runs and
// backfills read days that have ended and that the API still serves; a transform reads
// bronze, kept for good, so only days that have not ended are refused.
func checkDates(cmd, date, from, to string, now time.Time) error {
	check := lake.CheckRunDay
	if cmd == "transform" {
		check = lake.CheckEndedDay
	}
	for _, v := range []string{date, from, to} {
		if d, err := dates.Parse(v); v != "" && err == nil {
			if err := check(d, now); err != nil {
				return usageError{err.Error()}
			}
		}
	}
	return nil
}

// startOrAttach starts the workflow, or, when one with its ID is in flight, attaches to it:
// a second start of the same date or range never runs the work twice.
func startOrAttach(ctx context.Context, tc client.Client, cfg Config, id string, wf, input any, out io.Writer) (client.WorkflowRun, error) {
	d, err := tc.DescribeWorkflow(ctx, id, "")
	inFlight := err == nil && d.Status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: cfg.Temporal.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}, wf, input)
	if err != nil {
		return nil, err
	}
	verb := "started"
	if inFlight && d.WorkflowExecution.RunID == run.GetRunID() {
		verb = "attached to" // already in flight
	}
	fmt.Fprintf(out, "%s %s (run %s)\n", verb, run.GetID(), run.GetRunID())
	return run, nil
}

func scheduleCmd(ctx context.Context, tc client.Client, cfg Config, action, cron string, out io.Writer) error {
	sc := tc.ScheduleClient()
	spec := client.ScheduleSpec{CronExpressions: []string{cron}, TimeZoneName: "UTC"}
	wfAction := &client.ScheduleWorkflowAction{
		ID: "daily-run/" + cfg.Lake.Account + "/scheduled", Workflow: "DailyRunWorkflow", TaskQueue: cfg.Temporal.TaskQueue,
		Args: []any{workflows.DailyRunInput{Options: cfg.Options()}},
	}
	h := sc.GetHandle(ctx, ScheduleID)
	switch action {
	case "create":
		_, err := sc.Create(ctx, client.ScheduleOptions{ID: ScheduleID, Spec: spec, Action: wfAction,
			// A backfill's days run one after another, none dropped; a missed fire catches up.
			Overlap: enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL, CatchupWindow: 24 * time.Hour,
			Note: "Wistia daily ingest: each action ingests the day before its scheduled time (UTC)."})
		if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			return fmt.Errorf("%w; use 'starter schedule update'", errScheduleExists)
		}
		if err == nil {
			fmt.Fprintf(out, "schedule %s created: %q UTC on task queue %s\n", ScheduleID, cron, cfg.Temporal.TaskQueue)
		}
		return err
	case "update":
		err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			s.Spec = &spec
			s.Action = wfAction
			return &client.ScheduleUpdate{Schedule: &s}, nil
		}})
		if err == nil {
			fmt.Fprintf(out, "schedule %s updated: %q UTC\n", ScheduleID, cron)
		}
		return err
	case "describe":
		d, err := h.Describe(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "schedule %s\n  paused: %v\n  actions taken: %d\n", ScheduleID, d.Schedule.State.Paused, d.Info.NumActions)
		for _, c := range d.Schedule.Spec.Calendars {
			fmt.Fprintf(out, "  fires: hour %v minute %v (%s)\n", ranges(c.Hour), ranges(c.Minute), cmp.Or(d.Schedule.Spec.TimeZoneName, "UTC"))
		}
		for _, t := range d.Info.NextActionTimes {
			fmt.Fprintf(out, "  next: %s (ingests %s)\n", t.UTC().Format(time.RFC3339), dates.Format(dates.AddDays(dates.Day(t), -1)))
		}
		for _, r := range d.Info.RecentActions {
			fmt.Fprintf(out, "  recent: %s workflow %s\n", r.ScheduleTime.UTC().Format(time.RFC3339), r.StartWorkflowResult.WorkflowID)
		}
		return nil
	case "pause", "unpause":
		var err error
		if action == "pause" {
			err = h.Pause(ctx, client.SchedulePauseOptions{Note: "paused with starter"})
		} else {
			err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "unpaused with starter"})
		}
		if err == nil {
			fmt.Fprintf(out, "schedule %s %sd\n", ScheduleID, action)
		}
		return err
	case "delete":
		err := h.Delete(ctx)
		if err == nil {
			fmt.Fprintf(out, "schedule %s deleted\n", ScheduleID)
		}
		return err
	}
	return usageError{fmt.Sprintf("unknown schedule action %q", action)}
}

func ranges(rs []client.ScheduleRange) string {
	var parts []string
	for _, r := range rs {
		if r.End > r.Start {
			parts = append(parts, fmt.Sprintf("%d-%d", r.Start, r.End))
		} else {
			parts = append(parts, fmt.Sprint(r.Start))
		}
	}
	return strings.Join(parts, ",")
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func runCmd(ctx context.Context, tc client.Client, cfg Config, date string, wait bool, out, errOut io.Writer) error {
	run, err := startOrAttach(ctx, tc, cfg, workflows.DailyRunID(cfg.Lake.Account, date), workflows.DailyRunWorkflow,
		workflows.DailyRunInput{Date: date, Mode: activities.ModeExplicit, Options: cfg.Options()}, out)
	if err != nil {
		return fmt.Errorf("start run for %s: %w", date, err)
	}
	if !wait {
		return nil
	}
	stopBar := progressBar(ctx, tc, run.GetID(), errOut, func(v dailyOrBackfill) (int, int, string) {
		return v.MediasDone, v.MediasTotal, v.Phase
	})
	var res workflows.DailyRunResult
	err = run.Get(ctx, &res)
	stopBar()
	if err != nil {
		return fmt.Errorf("run %s failed: %w", run.GetID(), err)
	}
	fmt.Fprintf(out, "done: %d medias (%d skipped), %d records, %d quarantined, days %v, merged %v\n",
		res.Progress.MediasDone, res.Progress.Skipped, res.Progress.Records, res.Progress.Quarantined, res.Days, res.Progress.Merged)
	return nil
}

func backfillCmd(ctx context.Context, tc client.Client, cfg Config, from, to string, parallelism int, wait bool, out, errOut io.Writer) error {
	run, err := startOrAttach(ctx, tc, cfg, workflows.BackfillID(cfg.Lake.Account, from, to), workflows.BackfillWorkflow,
		workflows.BackfillInput{From: from, To: to, Parallelism: parallelism, Options: cfg.Options()}, out)
	if err != nil {
		return fmt.Errorf("start backfill %s..%s: %w", from, to, err)
	}
	if !wait {
		return nil
	}
	stopBar := progressBar(ctx, tc, run.GetID(), errOut, func(v dailyOrBackfill) (int, int, string) {
		return v.DaysDone, v.DaysTotal, v.Phase
	})
	var res workflows.BackfillProgress
	err = run.Get(ctx, &res)
	stopBar()
	if err != nil {
		return fmt.Errorf("backfill %s failed: %w", run.GetID(), err)
	}
	fmt.Fprintf(out, "done: %d days, %d records, %d quarantined, merged %v\n", res.DaysDone, res.Records, res.Quarantined, res.Merged)
	return nil
}

func transformCmd(ctx context.Context, tc client.Client, cfg Config, from, to string, wait bool, out, errOut io.Writer) error {
	run, err := startOrAttach(ctx, tc, cfg, workflows.TransformID(cfg.Lake.Account, from, to), workflows.TransformWorkflow,
		workflows.TransformInput{From: from, To: to, Options: cfg.Options()}, out)
	if err != nil {
		return fmt.Errorf("start transform %s..%s: %w", from, to, err)
	}
	if !wait {
		return nil
	}
	stopBar := progressBar(ctx, tc, run.GetID(), errOut, func(v dailyOrBackfill) (int, int, string) {
		return len(v.Merged), len(v.Merged), v.Phase
	})
	var res workflows.Progress
	err = run.Get(ctx, &res)
	stopBar()
	if err != nil {
		return fmt.Errorf("transform %s failed: %w", run.GetID(), err)
	}
	fmt.Fprintf(out, "done: merged %v, %d quarantined\n", res.Merged, res.Quarantined)
	return nil
}

// dailyOrBackfill reads either progress shape.
type dailyOrBackfill struct {
	workflows.Progress
	DaysTotal int `json:"days_total"`
	DaysDone  int `json:"days_done"`
}

// progressBar redraws a bar from the workflow's progress query every second until stopped.
func progressBar(ctx context.Context, tc client.Client, id string, w io.Writer, counts func(dailyOrBackfill) (int, int, string)) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if v, err := tc.QueryWorkflow(ctx, id, "", workflows.ProgressQuery); err == nil {
				var p dailyOrBackfill
				if v.Get(&p) == nil {
					n, total, phase := counts(p)
					fmt.Fprintf(w, "\r%s %d/%d %-14s", bar(n, total, 30), n, total, phase)
				}
			}
			select {
			case <-done:
				fmt.Fprintln(w)
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

func bar(n, total, width int) string {
	filled := 0
	if total > 0 {
		filled = min(width, n*width/total)
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}

func statusCmd(ctx context.Context, tc client.Client, cfg Config, date string, out io.Writer) error {
	query := fmt.Sprintf(`WorkflowType = "DailyRunWorkflow" AND WistiaDate = %q`, date)
	if date == "" {
		query = `WorkflowType = "DailyRunWorkflow"`
	}
	resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: cfg.Temporal.Namespace, Query: query, PageSize: 1})
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	if len(resp.Executions) == 0 {
		if date == "" {
			return errors.New("no run found")
		}
		return fmt.Errorf("no run found for %s", date)
	}
	e := resp.Executions[0]
	fmt.Fprintf(out, "workflow %s (run %s): %s, started %s\n", e.Execution.WorkflowId, e.Execution.RunId,
		strings.ToLower(strings.TrimPrefix(e.Status.String(), "WORKFLOW_EXECUTION_STATUS_")), e.StartTime.AsTime().UTC().Format(time.RFC3339))
	v, err := tc.QueryWorkflow(ctx, e.Execution.WorkflowId, e.Execution.RunId, workflows.ProgressQuery)
	if err != nil {
		return fmt.Errorf("query progress: %w", err)
	}
	var p workflows.Progress
	if err := v.Get(&p); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(p, "", "  ")
	fmt.Fprintln(out, string(b))
	return nil
}

func queryCmd(ctx context.Context, cfg Config, args []string, out io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError{"query needs a table"}
	}
	name := args[0]
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "", "first date")
	to := fs.String("to", "", "last date")
	format := fs.String("format", "table", "table, csv or json")
	limit := fs.Int("limit", 0, "at most this many rows; 0 for all")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	if !slices.Contains(lake.TableNames(), name) {
		return usageError{fmt.Sprintf("unknown table %q", name)}
	}
	var f, t time.Time
	var err error
	if *from != "" || *to != "" {
		if f, err = dates.Parse(*from); err != nil {
			return usageError{fmt.Sprintf("--from %q: want YYYY-MM-DD", *from)}
		}
		if t, err = dates.Parse(*to); err != nil {
			return usageError{fmt.Sprintf("--to %q: want YYYY-MM-DD", *to)}
		}
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		return usageError{fmt.Sprintf("--format %q: want table, csv or json", *format)}
	}
	lh, err := cfg.Lake.OpenLakehouse(ctx)
	if err != nil {
		return err
	}
	defer lh.Close()
	res, err := lh.Read(ctx, name, f, t)
	if err != nil {
		return err
	}
	rows := res.Rows
	if *limit > 0 && len(rows) > *limit {
		rows = rows[:*limit]
	}
	return writeRows(out, *format, res.Columns, rows)
}

func writeRows(out io.Writer, format string, cols []string, rows [][]any) error {
	switch format {
	case "json":
		enc := json.NewEncoder(out)
		for _, r := range rows {
			obj := make(map[string]any, len(cols))
			for i, c := range cols {
				obj[c] = r[i]
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		w := csv.NewWriter(out)
		_ = w.Write(cols)
		for _, r := range rows {
			_ = w.Write(cellStrings(r))
		}
		w.Flush()
		return w.Error()
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(cellStrings(r), "\t"))
	}
	return tw.Flush()
}

func cellStrings(r []any) []string {
	out := make([]string, len(r))
	for i, v := range r {
		if v != nil {
			out[i] = fmt.Sprint(v)
		}
	}
	return out
}
