package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
)

// mergePending merges the run's days and every day pending in the ledger, checks them, and
// takes them off the ledger, except days whose bronze landed again meanwhile. With a spread
// above 1 the days' silver merges run as separate activities, spread at most that many at once
// over the workers of the merge task queue, then gold is recomputed once; otherwise one
// MergeDaysAndCheck does it all. It returns the days merged and, on failure, the step that
// failed; the days then stay pending for the next run, so nothing landed is stranded.
func mergePending(ctx workflow.Context, days []dates.Date, runID string, heartbeat time.Duration, spread int, progress *Progress) ([]dates.Date, string, error) {
	progress.Phase = PhaseTransform
	var pending []activities.PendingDay
	if err := workflow.ExecuteLocalActivity(storageLocal(ctx), a.PendingDays).Get(ctx, &pending); err != nil {
		return nil, PhaseTransform, err
	}
	all := slices.Clone(days)
	for _, p := range pending {
		all = append(all, p.Day)
	}
	all = mergeDays(nil, all)
	if len(all) == 0 {
		return nil, "", nil
	}
	structs := inputStructs(ctx)
	var err error
	switch {
	case spread > 1:
		err = mergeSpread(ctx, all, runID, heartbeat, spread, progress)
	case structs:
		var res activities.MergeResult
		err = workflow.ExecuteActivity(mergeCalls(ctx, heartbeat), a.MergeDaysAndCheck, activities.MergeInput{Days: all, RunID: runID}).Get(ctx, &res)
		progress.countMerge(res.Report)
	default:
		var res activities.MergeResult
		err = workflow.ExecuteActivity(mergeCalls(ctx, heartbeat), a.MergeAndCheck, dates.Strings(all), runID).Get(ctx, &res)
		progress.countMerge(res.Report)
	}
	if err != nil {
		step := PhaseTransform
		if isCheckFailure(err) {
			step = PhaseChecks
		}
		return all, step, err
	}
	progress.Phase = PhaseChecks
	var cleared workflow.Future
	if storage := storageLocal(ctx); structs {
		cleared = workflow.ExecuteLocalActivity(storage, a.ClearMerged, activities.ClearInput{Days: pending})
	} else {
		cleared = workflow.ExecuteLocalActivity(storage, a.ClearPending, pending)
	}
	if err := cleared.Get(ctx, nil); err != nil {
		// The days stay pending and are merged again, which changes nothing.
		workflow.GetLogger(ctx).Warn("pending days not cleared; the next run merges them again", "error", err)
	}
	expireSnapshots(ctx, heartbeat)
	return all, "", nil
}

// mergeSpread merges each day's silver in its own MergeSilver on the merge task queue, at
// most spread at once, then recomputes gold of every date they touched and checks it. A day
// that fails stops new ones from starting; gold is then left to the next merge of the days.
func mergeSpread(ctx workflow.Context, days []dates.Date, runID string, heartbeat time.Duration, spread int, progress *Progress) error {
	mctx := workflow.WithTaskQueue(mergeCalls(ctx, heartbeat), MergeTaskQueue(workflow.GetInfo(ctx).TaskQueueName))
	var (
		inFlight int
		touched  []dates.Date
		firstErr error
	)
	for _, day := range days {
		if err := workflow.Await(ctx, func() bool { return inFlight < spread || firstErr != nil }); err != nil {
			return err
		}
		if firstErr != nil {
			break
		}
		inFlight++
		var fut workflow.Future
		if inputStructs(ctx) {
			fut = workflow.ExecuteActivity(mctx, a.MergeSilver, activities.MergeInput{Days: []dates.Date{day}, RunID: runID})
		} else {
			fut = workflow.ExecuteActivity(mctx, a.MergeSilverDays, []string{day.String()}, runID)
		}
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer func() { inFlight-- }()
			var res activities.MergeResult
			err := fut.Get(gctx, &res)
			progress.countMerge(res.Report)
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("merge of %s: %w", day, err)
			}
			touched = mergeDays(touched, res.Report.Dates)
		})
	}
	if err := workflow.Await(ctx, func() bool { return inFlight == 0 }); err != nil {
		return err
	}
	if firstErr != nil {
		return firstErr
	}
	var res activities.MergeResult
	err := workflow.ExecuteActivity(mctx, a.RecomputeGoldAndCheck, activities.GoldInput{Dates: touched, Days: days, RunID: runID}).Get(ctx, &res)
	progress.countMerge(res.Report)
	return err
}

// MaintenanceFailedMessage is logged when a run's table maintenance failed after its retries:
// the deploy stack counts it in a metric and alarms when it repeats on consecutive days.
const MaintenanceFailedMessage = "snapshot expiration failed; the next run retries it"

// expireSnapshots drops table snapshots past SNAPSHOT_RETENTION_DAYS once a run's data is in
// and checked. It is housekeeping: a failure is logged, never fails the run.
func expireSnapshots(ctx workflow.Context, heartbeat time.Duration) {
	if workflow.GetVersion(ctx, versionExpireSnapshots, workflow.DefaultVersion, 1) < 1 {
		return
	}
	if err := workflow.ExecuteActivity(maintenanceCalls(ctx, heartbeat), a.ExpireSnapshots).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn(MaintenanceFailedMessage, "error", err)
	}
}
