package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// DailyRunInput starts a day's run. Date is the logical date (YYYY-MM-DD); left empty, it is
// the day before the schedule's TemporalScheduledStartTime. The other fields carry state
// across continue-as-new.
type DailyRunInput struct {
	Date string `json:"date,omitempty"`
	// Mode is what the run reads; empty: explicit for a given Date, and for a scheduled run
	// catch-up when its date is yesterday, else (a schedule backfill) exactly its date.
	Mode    activities.Mode `json:"mode,omitempty"`
	Options Options         `json:"options"`
	RunID   string          `json:"run_id,omitempty"`
	Medias  []string        `json:"medias,omitempty"`
	Cursor  int             `json:"cursor,omitempty"` // medias before it are done
	Days    []dates.Date    `json:"days,omitempty"`   // days touched so far
	// Progress so far, carried over continue-as-new.
	Progress Progress `json:"progress"`
}

// DailyRunResult is a finished run's summary.
type DailyRunResult struct {
	Progress Progress     `json:"progress"`
	Days     []dates.Date `json:"days"` // days the run ingested
}

// LogicalDate is the date a run covers: the explicit input, else the day before the one the
// schedule fired on in zone (a run firing on the 25th there ingests the 24th, the last
// closed day).
func LogicalDate(ctx workflow.Context, zone dates.Zone, explicit string) (dates.Date, error) {
	if explicit != "" {
		return parseInputDate(explicit)
	}
	attrs := workflow.GetTypedSearchAttributes(ctx)
	if at, ok := attrs.GetTime(temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")); ok {
		return zone.LastEnded(at), nil
	}
	return 0, temporal.NewNonRetryableApplicationError("no date: pass one, or start the run from the wistia-daily schedule", activities.ErrTypeBadInput, nil)
}

// checkRunDate refuses a date that has not ended in zone or is past the API's retention.
func checkRunDate(ctx workflow.Context, zone dates.Zone, day dates.Date) error {
	if err := wistia.CheckRunDay(zone, day, workflow.Now(ctx)); err != nil {
		return badDate(err)
	}
	return nil
}

// scheduledMode is the mode of a run the schedule started for date: the regular daily fire
// (its date is yesterday) catches up from the watermarks; an older scheduled time is a
// schedule backfill and reads exactly its day.
func scheduledMode(ctx workflow.Context, zone dates.Zone, day dates.Date) activities.Mode {
	if day == zone.LastEnded(workflow.Now(ctx)) {
		return activities.ModeCatchUp
	}
	return activities.ModeBackfill
}

// DailyRunWorkflow ingests one logical date in its mode: the media list, one
// MediaIngestWorkflow per media (at most MaxConcurrency at once), then the merge of the days
// it landed and of every day pending from earlier runs, and the data checks. It continues as
// new before its history grows too large, carrying its cursor. Started under another ID than
// DailyRunID (by the schedule), it runs the date under that ID, or follows the run in flight.
func DailyRunWorkflow(ctx workflow.Context, in DailyRunInput) (DailyRunResult, error) {
	if workflow.GetVersion(ctx, versionRunModes, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return dailyRunV0(ctx, in)
	}
	zone, err := zoneOf(ctx, in.Options)
	if err != nil {
		return DailyRunResult{}, err
	}
	day, err := LogicalDate(ctx, zone, in.Date)
	if err != nil {
		return DailyRunResult{}, err
	}
	if err := checkRunDate(ctx, zone, day); err != nil {
		return DailyRunResult{}, err
	}
	if in.Mode == "" {
		in.Mode = activities.ModeExplicit
		if in.Date == "" {
			in.Mode = scheduledMode(ctx, zone, day)
		}
	}
	date := day.String()
	if !in.Mode.Valid() {
		return DailyRunResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown run mode %q", in.Mode), activities.ErrTypeBadInput, nil)
	}
	in.Date = date
	if id := DailyRunID(in.Options.Account, date); in.RunID == "" && workflow.GetInfo(ctx).WorkflowExecution.ID != id {
		progress := Progress{Date: date, Mode: string(in.Mode), Phase: PhaseIngest, RunningAs: id}
		if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return progress, nil }); err != nil {
			return DailyRunResult{}, err
		}
		res, err := runAs(ctx, id, DailyRunInput{Date: date, Mode: in.Mode, Options: in.Options})
		progress = res.Progress
		return res, err
	}

	progress := in.Progress
	progress.Date, progress.Mode, progress.Zone = date, string(in.Mode), zone.String()
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
		notify(ctx, activities.Alert{Workflow: DailyRunType, Date: date, Step: step, Error: err.Error()})
		return DailyRunResult{Progress: progress}, err
	}

	if in.Medias == nil {
		progress.Phase = PhaseMedias
		var list activities.MediaList
		structs := inputStructs(ctx)
		api := wistiaCalls(ctx, in.Options.heartbeat())
		var listed workflow.Future
		if structs {
			listed = workflow.ExecuteActivity(api, a.IngestMedias, activities.MediasInput{Date: day, RunID: in.RunID})
		} else {
			listed = workflow.ExecuteActivity(api, a.ListMedias, date, in.RunID)
		}
		if err := listed.Get(ctx, &list); err != nil {
			return fail(PhaseMedias, err)
		}
		// The media snapshot landed under the date: pending until merged, like every bronze day.
		var marked workflow.Future
		if storage := storageLocal(ctx); structs {
			marked = workflow.ExecuteLocalActivity(storage, a.MarkDaysPending, activities.PendingInput{Days: []dates.Date{day}})
		} else {
			marked = workflow.ExecuteLocalActivity(storage, a.MarkPending, []string{date})
		}
		if err := marked.Get(ctx, nil); err != nil {
			return fail(PhaseMedias, err)
		}
		in.Medias = list.Medias
		if in.Medias == nil {
			in.Medias = []string{}
		}
		in.Days = mergeDays(in.Days, []dates.Date{day})
		progress.MediasTotal = len(list.Medias)
		progress.Requests += list.Requests
	}

	progress.Phase = PhaseIngest
	days, next, err := fanOut(ctx, in, &progress)
	in.Days = mergeDays(in.Days, days)
	if err != nil {
		return fail(PhaseIngest, err)
	}
	if next < len(in.Medias) {
		in.Cursor, in.Progress = next, progress
		return DailyRunResult{}, workflow.NewContinueAsNewError(ctx, DailyRunWorkflow, in)
	}

	// Each visitor once per run, whatever medias it watched. Its failure does not hold back the
	// merge of the events (nor their watermarks): the run merges, then fails naming it.
	progress.Phase = PhaseVisitors
	var visitors activities.Landed
	visitorsErr := workflow.ExecuteActivity(visitorCalls(ctx, in.Options.heartbeat()), a.IngestRunVisitors,
		activities.VisitorsInput{Date: day, RunID: in.RunID, Days: in.Days}).Get(ctx, &visitors)
	progress.Records += visitors.Records
	progress.Requests += visitors.Requests

	if !in.Options.SkipTransform {
		merged, step, err := mergePending(ctx, in.Days, in.RunID, in.Options.heartbeat(), 0, &progress)
		progress.Merged = merged
		if err != nil {
			return fail(step, err)
		}
		alertOffZone(ctx, date, progress.OffZone)
	}
	if visitorsErr != nil {
		return fail(PhaseVisitors, visitorsErr)
	}
	progress.Phase = PhaseDone
	return DailyRunResult{Progress: progress, Days: in.Days}, nil
}

// fanOut runs MediaIngestWorkflow children from the cursor on, at most MaxConcurrency at a
// time. It stops starting children when the history should be continued as new, waits for
// those in flight, and returns the index of the first media not started.
func fanOut(ctx workflow.Context, in DailyRunInput, progress *Progress) ([]dates.Date, int, error) {
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
		fut := workflow.ExecuteChildWorkflow(mediaChild(ctx, in.Options.Account, in.Date, media), MediaIngestWorkflow, MediaIngestInput{Media: media, Date: in.Date, RunID: in.RunID, Mode: in.Mode, HeartbeatTimeout: in.Options.HeartbeatTimeout})
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

// runAs runs the date under its own workflow ID as a child, or, when a run of the date is
// already in flight (started by hand, or by a backfill), follows that one to its end.
func runAs(ctx workflow.Context, id string, in DailyRunInput) (DailyRunResult, error) {
	var res DailyRunResult
	err := workflow.ExecuteChildWorkflow(dateRunChild(ctx, id), DailyRunWorkflow, in).Get(ctx, &res)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		workflow.GetLogger(ctx).Info("the date's run is in flight; following it", "workflow_id", id)
		if inputStructs(ctx) {
			err = workflow.ExecuteActivity(followCalls(ctx), a.FollowRun, activities.FollowInput{WorkflowID: id}).Get(ctx, &res)
		} else {
			err = workflow.ExecuteActivity(followCalls(ctx), a.AwaitRun, id).Get(ctx, &res)
		}
	}
	res.Progress.RunningAs = id
	return res, err
}

// alertOffZone alerts when a merge found events outside their day in the stats zone: the run
// succeeded, but the days it made final are cut at another midnight than the account's.
func alertOffZone(ctx workflow.Context, date string, off []activities.OffZoneWindow) {
	if len(off) == 0 || workflow.GetVersion(ctx, versionStatsZone, workflow.DefaultVersion, 1) < 1 {
		return
	}
	lines := make([]string, len(off))
	for i, w := range off {
		lines[i] = w.String()
	}
	notify(ctx, activities.Alert{Workflow: DailyRunType, Date: date, Step: StepZoneCheck,
		Error: "WISTIA_STATS_TIMEZONE does not match the account's stats zone: " + strings.Join(lines, "; ")})
}
