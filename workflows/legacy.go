package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
)

// The workflows as they were before versionRunModes. Runs started before that change replay
// and finish on this code, and the recorded *_v0 and unsuffixed histories in testdata replay
// through it; it is frozen: change the current workflows instead.

// dailyRunV0 is DailyRunWorkflow before run modes: every run planned from the watermarks.
func dailyRunV0(ctx workflow.Context, in DailyRunInput) (DailyRunResult, error) {
	day, err := LogicalDate(ctx, dates.UTC, in.Date)
	if err != nil {
		return DailyRunResult{}, err
	}
	date := day.String()
	in.Date = date
	progress := in.Progress
	progress.Date = date
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return progress, nil }); err != nil {
		return DailyRunResult{}, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, DateAttribute.ValueSet(date)); err != nil {
		return DailyRunResult{}, err
	}
	if in.RunID == "" {
		in.RunID = "daily-" + date + "-" + workflow.GetInfo(ctx).WorkflowExecution.RunID
	}
	fail := func(step string, err error) (DailyRunResult, error) {
		progress.Phase, progress.Error = PhaseFailed, err.Error()
		notifyV0(ctx, activities.Alert{Workflow: DailyRunType, Date: date, Step: step, Error: err.Error()})
		return DailyRunResult{Progress: progress}, err
	}

	if in.Medias == nil {
		progress.Phase = PhaseMedias
		var list activities.MediaList
		if err := workflow.ExecuteActivity(wistiaCallsV0(ctx, in.Options.heartbeat()), a.ListMedias, date, in.RunID).Get(ctx, &list); err != nil {
			return fail(PhaseMedias, err)
		}
		in.Medias = list.Medias
		if in.Medias == nil {
			in.Medias = []string{}
		}
		progress.MediasTotal = len(list.Medias)
		progress.Requests += list.Requests
		progress.Quarantined += list.Rejects
	}

	progress.Phase = PhaseIngest
	days, next, err := fanOutV0(ctx, in, &progress)
	in.Days = mergeDays(in.Days, days)
	if err != nil {
		return fail(PhaseIngest, err)
	}
	if next < len(in.Medias) {
		in.Cursor, in.Progress = next, progress
		return DailyRunResult{}, workflow.NewContinueAsNewError(ctx, DailyRunWorkflow, in)
	}

	if !in.Options.SkipTransform && len(in.Days) > 0 {
		rep, step, err := transformAndCheckV0(ctx, dates.Strings(in.Days), in.RunID, in.Options.heartbeat(), &progress.Phase)
		for _, n := range rep.Quarantined {
			progress.Quarantined += n
		}
		if err != nil {
			return fail(step, err)
		}
	}
	progress.Phase = PhaseDone
	return DailyRunResult{Progress: progress, Days: in.Days}, nil
}

// transformAndCheckV0 merges, then checks in a second activity, without the ledger or the lease.
func transformAndCheckV0(ctx workflow.Context, days []string, runID string, heartbeat time.Duration, phase *string) (activities.TransformReport, string, error) {
	tctx := transformCallsV0(ctx, heartbeat)
	*phase = PhaseTransform
	var rep activities.TransformReport
	if err := workflow.ExecuteActivity(tctx, a.Transform, days, runID).Get(ctx, &rep); err != nil {
		return rep, PhaseTransform, err
	}
	*phase = PhaseChecks
	if err := workflow.ExecuteActivity(tctx, a.CheckData, days).Get(ctx, nil); err != nil {
		return rep, PhaseChecks, err
	}
	expireSnapshotsV0(ctx, heartbeat)
	return rep, "", nil
}

// mediaIngestV0 is MediaIngestWorkflow before run modes: it planned from the watermark and
// advanced it without recording the days pending merge.
func mediaIngestV0(ctx workflow.Context, in MediaIngestInput) (MediaIngestResult, error) {
	res := MediaIngestResult{Media: in.Media}
	// Version 1: watermark reads and writes became local activities.
	local := workflow.GetVersion(ctx, versionLocalWatermarks, workflow.DefaultVersion, 1) >= 1
	storage := func(fn any, args ...any) workflow.Future {
		if local {
			return workflow.ExecuteLocalActivity(storageLocalV0(ctx), fn, args...)
		}
		return workflow.ExecuteActivity(storageCallsV0(ctx), fn, args...)
	}
	var w activities.ReadPlan
	if err := storage(a.PlanWindow, in.Media, in.Date).Get(ctx, &w); err != nil {
		return res, err
	}
	if len(w.Days) == 0 {
		return res, nil
	}
	api := wistiaCallsV0(ctx, heartbeatOr(in.HeartbeatTimeout))
	var stats activities.Landed
	if err := workflow.ExecuteActivity(api, a.IngestDailyStats, in.Media, w, in.Date, in.RunID).Get(ctx, &stats); err != nil {
		if isNotFound(err) {
			res.Skipped = true
			workflow.GetLogger(ctx).Warn("media deleted since it was listed; skipped", "media", in.Media)
			return res, nil
		}
		return res, err
	}
	res.add(stats)

	var lastComplete dates.Date
	broken := false
	for _, day := range w.Days {
		var ev activities.Landed
		if err := workflow.ExecuteActivity(api, a.IngestEvents, in.Media, day.String(), in.RunID).Get(ctx, &ev); err != nil {
			if isNotFound(err) {
				res.Skipped = true
				return res, nil
			}
			return res, err
		}
		res.add(ev)
		res.Days = append(res.Days, day)
		if ev.Complete {
			res.Complete++
			if !broken {
				lastComplete = day
			}
		} else {
			broken = true
		}
	}

	var visitors activities.Landed
	if err := workflow.ExecuteActivity(api, a.IngestVisitors, in.Media, w, in.Date, in.RunID).Get(ctx, &visitors); err != nil {
		return res, err
	}
	res.add(visitors)

	if !lastComplete.IsZero() {
		if err := storage(a.AdvanceWatermark, in.Media, lastComplete.String(), in.RunID).Get(ctx, nil); err != nil {
			return res, err
		}
		res.Mark = lastComplete
	}
	return res, nil
}

// backfillV0 is BackfillWorkflow before run modes: its days planned from the watermarks, and
// one failed day skipped the whole transform.
func backfillV0(ctx workflow.Context, in BackfillInput) (BackfillProgress, error) {
	from, err1 := dates.Parse(in.From)
	to, err2 := dates.Parse(in.To)
	if err := errors.Join(err1, err2); err != nil || to < from {
		return BackfillProgress{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad range %s..%s: %v", in.From, in.To, err), "BadInput", nil)
	}
	days := dates.Range(from, to)
	progress := BackfillProgress{From: in.From, To: in.To, Phase: PhaseIngest, DaysTotal: len(days)}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (BackfillProgress, error) { return progress, nil }); err != nil {
		return progress, err
	}
	runID := "backfill-" + workflow.GetInfo(ctx).WorkflowExecution.RunID
	opts := in.Options
	opts.SkipTransform = true
	var (
		inFlight int
		touched  []dates.Date
	)
	limit := max(1, in.Parallelism)
	for _, day := range days {
		if err := workflow.Await(ctx, func() bool { return inFlight < limit }); err != nil {
			return progress, err
		}
		date := day.String()
		inFlight++
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("daily-run/%s/%s/%s", opts.Account, date, runID), ParentClosePolicy: enums.PARENT_CLOSE_POLICY_TERMINATE})
		fut := workflow.ExecuteChildWorkflow(cctx, DailyRunWorkflow, DailyRunInput{Date: date, Options: opts, RunID: runID + "-" + date})
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer func() { inFlight-- }()
			var res DailyRunResult
			if err := fut.Get(gctx, &res); err != nil {
				progress.Failed = append(progress.Failed, day)
				return
			}
			progress.DaysDone++
			progress.Records += res.Progress.Records
			touched = mergeDays(touched, res.Days)
		})
	}
	if err := workflow.Await(ctx, func() bool { return inFlight == 0 }); err != nil {
		return progress, err
	}
	fail := func(step string, err error) (BackfillProgress, error) {
		progress.Phase, progress.Error = PhaseFailed, err.Error()
		notifyV0(ctx, activities.Alert{Workflow: BackfillType, Date: in.From + ".." + in.To, Step: step, Error: err.Error()})
		return progress, err
	}
	if len(progress.Failed) > 0 {
		slices.Sort(progress.Failed)
		return fail(PhaseIngest, fmt.Errorf("days failed: %v", progress.Failed))
	}
	if len(touched) > 0 {
		if _, step, err := transformAndCheckV0(ctx, dates.Strings(touched), runID, in.Options.heartbeat(), &progress.Phase); err != nil {
			return fail(step, err)
		}
	}
	progress.Phase = PhaseDone
	return progress, nil
}

// The helpers the v0 workflows schedule their work with, frozen as they were at
// versionRunModes: the current ones (options.go, fanOut, notify) may change behind GetVersion
// without moving what these histories replay.

func wistiaCallsV0(ctx workflow.Context, heartbeat time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 5 * time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: activities.NonRetryable},
	})
}

func storageCallsV0(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: activities.NonRetryable},
	})
}

// storageLocalV0 takes versionStorageRetryWindow as the current storageLocal does: v0 runs
// still in flight when the retry window came took it too.
func storageLocalV0(ctx workflow.Context) workflow.Context {
	opts := workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: activities.NonRetryable},
	}
	if workflow.GetVersion(ctx, versionStorageRetryWindow, workflow.DefaultVersion, 1) >= 1 {
		opts.ScheduleToCloseTimeout = 10 * time.Minute
	}
	return workflow.WithLocalActivityOptions(ctx, opts)
}

func transformCallsV0(ctx workflow.Context, heartbeat time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 30 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 10 * time.Minute, MaximumAttempts: 5,
			NonRetryableErrorTypes: append(slices.Clone(activities.NonRetryable), activities.ErrTypeCheckFailed, "BadInput")},
	})
}

func expireSnapshotsV0(ctx workflow.Context, heartbeat time.Duration) {
	if workflow.GetVersion(ctx, versionExpireSnapshots, workflow.DefaultVersion, 1) < 1 {
		return
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: heartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 3}})
	if err := workflow.ExecuteActivity(actx, a.ExpireSnapshots).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn(MaintenanceFailedMessage, "error", err)
	}
}

func notifyV0(ctx workflow.Context, al activities.Alert) {
	info := workflow.GetInfo(ctx)
	al.WorkflowID, al.RunID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 5}})
	if err := workflow.ExecuteActivity(actx, a.Notify, al).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("alert not sent", "error", err)
	}
}

// fanOutV0 counted the records the client could not type as quarantined; since run modes a
// run reports the rows its transform added to silver.quarantine instead.
func fanOutV0(ctx workflow.Context, in DailyRunInput, progress *Progress) ([]dates.Date, int, error) {
	limit := max(1, in.Options.MaxConcurrency)
	var (
		inFlight, started int
		days              []dates.Date
		firstErr          error
	)
	next := in.Cursor
	for next < len(in.Medias) && firstErr == nil {
		if started > 0 && (workflow.GetInfo(ctx).GetContinueAsNewSuggested() ||
			(in.Options.ChildrenPerRun > 0 && started >= in.Options.ChildrenPerRun)) {
			break
		}
		if err := workflow.Await(ctx, func() bool { return inFlight < limit || firstErr != nil }); err != nil {
			return days, next, err
		}
		if firstErr != nil {
			break
		}
		media := in.Medias[next]
		next++
		started++
		inFlight++
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            MediaIngestID(in.Options.Account, in.Date, media),
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_TERMINATE,
		})
		fut := workflow.ExecuteChildWorkflow(cctx, MediaIngestWorkflow, MediaIngestInput{Media: media, Date: in.Date, RunID: in.RunID, Mode: in.Mode, HeartbeatTimeout: in.Options.HeartbeatTimeout})
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer func() { inFlight-- }()
			var res MediaIngestResult
			if err := fut.Get(gctx, &res); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("media %s: %w", media, err)
				}
				return
			}
			progress.MediasDone++
			progress.Records += res.Records
			progress.Requests += res.Requests
			progress.Unwatched += res.Unwatched
			progress.Quarantined += res.Rejects
			if res.Skipped {
				progress.Skipped++
			}
			days = mergeDays(days, res.Days)
		})
	}
	if err := workflow.Await(ctx, func() bool { return inFlight == 0 }); err != nil {
		return days, next, err
	}
	return days, next, firstErr
}
