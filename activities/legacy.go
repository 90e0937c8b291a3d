package activities

import (
	"context"
	"encoding/json"

	"go.temporal.io/sdk/temporal"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// The activities that workflows scheduled with positional arguments, before each activity took
// one input struct. Recorded histories and runs in flight across a deploy still schedule them
// by these names, with these arguments, so they stay registered; each reads its days here and
// hands over to the activity that replaced it (or, for the oldest paths, to the code they
// share). New workflow code never calls them.

// ListMedias is IngestMedias with positional arguments.
func (a *Activities) ListMedias(ctx context.Context, date, runID string) (MediaList, error) {
	day, err := parseDay(date)
	if err != nil {
		return MediaList{}, err
	}
	return a.IngestMedias(ctx, MediasInput{Date: day, RunID: runID})
}

// PlanWindow reads the media's watermark and returns the days to ingest: the plan of runs
// started before run modes (PlanIngest's catch-up mode, without the served window's clip).
func (a *Activities) PlanWindow(ctx context.Context, media, date string) (ReadPlan, error) {
	target, err := parseDay(date)
	if err != nil {
		return ReadPlan{}, err
	}
	mark, ok, err := a.Marks.Get(ctx, a.key(media))
	if err != nil {
		return ReadPlan{}, classify(err)
	}
	start, end, valid := a.Policy.Range(mark.Day, ok, target, a.Now())
	if !valid {
		return ReadPlan{}, nil
	}
	return planOf(start, end), nil
}

// IngestDailyStats is IngestStats with positional arguments.
func (a *Activities) IngestDailyStats(ctx context.Context, media string, w ReadPlan, date, runID string) (Landed, error) {
	day, err := parseDay(date)
	if err != nil {
		return Landed{}, err
	}
	return a.IngestStats(ctx, StatsInput{Media: media, Plan: w, Date: day, RunID: runID})
}

// IngestEvents is IngestDayEvents with positional arguments.
func (a *Activities) IngestEvents(ctx context.Context, media, day, runID string) (Landed, error) {
	d, err := parseDay(day)
	if err != nil {
		return Landed{}, err
	}
	return a.IngestDayEvents(ctx, EventsInput{Media: media, Day: d, RunID: runID})
}

// IngestVisitors lands the visitors seen in one media's events of the window: the per-media
// activity of runs started before IngestRunVisitors.
func (a *Activities) IngestVisitors(ctx context.Context, media string, w ReadPlan, date, runID string) (Landed, error) {
	day, err := parseDay(date)
	if err != nil {
		return Landed{}, err
	}
	return a.ingestVisitors(ctx, media, w.Days, day, runID)
}

// AdvanceWatermark moves the media's watermark to day, if that is later than where it is: the
// watermark step of runs started before RecordLanded.
func (a *Activities) AdvanceWatermark(ctx context.Context, media, day, runID string) (bool, error) {
	d, err := parseDay(day)
	if err != nil {
		return false, err
	}
	return a.advanceWatermark(ctx, media, d, runID)
}

// MarkPending is MarkDaysPending with the days as its only argument.
func (a *Activities) MarkPending(ctx context.Context, days []string) error {
	list, err := parseDays(days)
	if err != nil {
		return err
	}
	return a.MarkDaysPending(ctx, PendingInput{Days: list})
}

// ClearPending is ClearMerged with the days as its only argument.
func (a *Activities) ClearPending(ctx context.Context, days []PendingDay) (int, error) {
	return a.ClearMerged(ctx, ClearInput{Days: days})
}

// MergeAndCheck is MergeDaysAndCheck with positional arguments.
func (a *Activities) MergeAndCheck(ctx context.Context, days []string, runID string) (MergeResult, error) {
	list, err := parseDays(days)
	if err != nil {
		return MergeResult{}, err
	}
	return a.MergeDaysAndCheck(ctx, MergeInput{Days: list, RunID: runID})
}

// MergeSilverDays is MergeSilver with positional arguments.
func (a *Activities) MergeSilverDays(ctx context.Context, days []string, runID string) (MergeResult, error) {
	list, err := parseDays(days)
	if err != nil {
		return MergeResult{}, err
	}
	return a.MergeSilver(ctx, MergeInput{Days: list, RunID: runID})
}

// Transform merges the bronze of the days into silver and recomputes gold for the dates it
// touched, without the transform lease or checks: the merge of runs started before
// MergeAndCheck, which run CheckData after it.
func (a *Activities) Transform(ctx context.Context, days []string, runID string) (TransformReport, error) {
	defer keepAlive(ctx)()
	list, err := parseDays(days)
	if err != nil {
		return TransformReport{}, err
	}
	if err := a.Lake.EnsureTables(ctx); err != nil {
		return TransformReport{}, err
	}
	rep, err := a.Lake.Transform(ctx, a.Store, list, runID)
	if a.OnTransform != nil {
		a.OnTransform(rep)
	}
	return reportOf(rep), classify(err)
}

// CheckData reconciles silver with bronze for the days and checks gold; problems fail the
// activity without retry, so the run reports them.
func (a *Activities) CheckData(ctx context.Context, days []string) (CheckResult, error) {
	defer keepAlive(ctx)()
	list, err := parseDays(days)
	if err != nil {
		return CheckResult{}, err
	}
	res, err := MergeResult{}.checked(a.Lake.Check(ctx, a.Store, list))
	return res.Check, err
}

// AwaitRun is FollowRun with the workflow ID as its only argument.
func (a *Activities) AwaitRun(ctx context.Context, workflowID string) (json.RawMessage, error) {
	return a.FollowRun(ctx, FollowInput{WorkflowID: workflowID})
}

// parseDay reads a date argument; a bad one is a caller's bug that no retry fixes.
func parseDay(s string) (dates.Date, error) {
	d, err := dates.Parse(s)
	if err != nil {
		return d, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadInput, nil)
	}
	return d, nil
}

func parseDays(list []string) ([]dates.Date, error) {
	out := make([]dates.Date, 0, len(list))
	for _, s := range list {
		d, err := parseDay(s)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
