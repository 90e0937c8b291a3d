// Package workflows holds the pipeline's Temporal workflows: the daily run, the per-media
// ingest it fans out to, and backfills. Workflow code is deterministic: all I/O happens in
// activities (package activities), and every later change goes behind workflow.GetVersion.
package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/internal/ingest"
	"github.com/marketing-data/wistia-pipeline/lake"
)

// ProgressQuery is the query every pipeline workflow answers with its Progress.
const ProgressQuery = "progress"

// DateAttribute is the search attribute (Keyword) holding a run's logical date, so the Web UI
// and `temporal workflow list --query 'WistiaDate="2026-11-24"'` can find it.
var DateAttribute = temporal.NewSearchAttributeKeyKeyword("WistiaDate")

// Phases of a run, as the progress query reports them.
const (
	PhaseMedias    = "listing medias"
	PhaseIngest    = "ingesting"
	PhaseVisitors  = "fetching visitors"
	PhaseTransform = "transforming"
	PhaseChecks    = "checking"
	PhaseDone      = "done"
	PhaseFailed    = "failed"
	// StepZoneCheck is the step an alert names when a run's events fit another zone than the
	// configured one.
	StepZoneCheck = "zone check"
)

// Progress is what a run has done so far.
type Progress struct {
	Date string `json:"date"`
	// Zone is the account's stats zone, whose day Date is: a run that is done has made that
	// day final there.
	Zone        string `json:"zone,omitempty"`
	Mode        string `json:"mode,omitempty"`
	Phase       string `json:"phase"`
	MediasTotal int    `json:"medias_total"`
	MediasDone  int    `json:"medias_done"`
	Skipped     int    `json:"skipped"` // medias gone between listing and ingest (404)
	Records     int    `json:"records"`
	Requests    int    `json:"requests"` // API calls made by activities that completed
	// Unwatched is the media-days whose events were not asked for: by_date showed no loads
	// and no plays, so the API lists none.
	Unwatched int `json:"unwatched,omitempty"`
	// Quarantined is the rows the run's transform added to silver.quarantine.
	Quarantined int `json:"quarantined"`
	// PercentOverOne is the events merged whose percent_viewed is above 1 (kept; capped in gold).
	PercentOverOne int `json:"percent_over_one,omitempty"`
	// OffZone is the windows whose events fall outside their day in the stats zone, beyond a
	// stray record: the zone setting disagrees with the account (each names the zone the
	// events fit). The run alerts on them.
	OffZone []lake.OffZoneWindow `json:"off_zone,omitempty"`
	// Merged is the days the run merged: its own and those pending from earlier runs.
	Merged []string `json:"merged,omitempty"`
	// RunningAs is the ID of the date's run when this one was started under another ID (by
	// the schedule) and handed the work to it.
	RunningAs string `json:"running_as,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Options are the tunables of the workflows, fixed per run in its input.
type Options struct {
	Account        string `json:"account"`
	MaxConcurrency int    `json:"max_concurrency"` // child workflows in flight at once
	// ChildrenPerRun bounds the children started before continue-as-new, on top of the
	// server's GetContinueAsNewSuggested; 0 means only the server decides.
	ChildrenPerRun int  `json:"children_per_run"`
	SkipTransform  bool `json:"skip_transform"` // backfills transform once, at the end
	// HeartbeatTimeout is how soon a dead worker's activity is retried elsewhere; default 1m.
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout,omitempty"`
	// MergeSpread is how many days' silver merges a backfill or transform has queued at once,
	// one activity per day on the merge task queue (MergeTaskQueue), which every worker serves
	// one merge at a time; 0 or 1 merges all days in one activity.
	MergeSpread int `json:"merge_spread,omitempty"`
	// StatsZone is the account's stats zone (WISTIA_STATS_TIMEZONE), an IANA name: a run's
	// dates are its days, and the schedule's fire ingests the last one that has ended there.
	// Empty is UTC.
	StatsZone string `json:"stats_zone,omitempty"`
}

func (o Options) heartbeat() time.Duration { return heartbeatOr(o.HeartbeatTimeout) }

func heartbeatOr(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return time.Minute
}

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
	Days    []string        `json:"days,omitempty"`   // days touched so far
	// Progress so far, carried over continue-as-new.
	Progress Progress `json:"progress"`
}

// DailyRunResult is a finished run's summary.
type DailyRunResult struct {
	Progress Progress `json:"progress"`
	Days     []string `json:"days"` // days the run ingested
}

// LogicalDate is the date a run covers: the explicit input, else the day before the one the
// schedule fired on in zone (a run firing on the 25th there ingests the 24th, the last
// closed day).
func LogicalDate(ctx workflow.Context, zone dates.Zone, explicit string) (string, error) {
	if explicit != "" {
		if _, err := dates.Parse(explicit); err != nil {
			return "", temporal.NewNonRetryableApplicationError(err.Error(), "BadInput", nil)
		}
		return explicit, nil
	}
	attrs := workflow.GetTypedSearchAttributes(ctx)
	if at, ok := attrs.GetTime(temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")); ok {
		return dates.Format(zone.LastEnded(at)), nil
	}
	return "", temporal.NewNonRetryableApplicationError("no date: pass one, or start the run from the wistia-daily schedule", "BadInput", nil)
}

// Activity options per kind of work. Wistia calls back off long enough to ride out a
// rate-limit pause; storage calls retry quickly; the transform is long and retried rarely.
func wistiaCalls(ctx workflow.Context, heartbeat time.Duration) workflow.Context {
	return wistiaCallsWithin(ctx, heartbeat, 30*time.Minute)
}

// visitorCalls is wistiaCalls for a run's visitor fetch: thousands of requests at the shared
// budget take longer than one page crawl, and the heartbeat cursor carries the fetch across
// attempts.
func visitorCalls(ctx workflow.Context, heartbeat time.Duration) workflow.Context {
	return wistiaCallsWithin(ctx, heartbeat, 2*time.Hour)
}

func wistiaCallsWithin(ctx workflow.Context, heartbeat, startToClose time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: startToClose,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 5 * time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: activities.NonRetryable},
	})
}

// storageLocal runs short watermark reads and writes as local activities: in the worker that
// runs the workflow, recorded as one marker instead of a scheduled task, which halves the
// orchestration cost per media.
func storageLocal(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, storageLocalOptions(workflow.GetVersion(ctx, versionStorageRetryWindow, workflow.DefaultVersion, 1)))
}

// storageLocalOptions are the local storage calls' options on a run of the given version.
// Before versionStorageRetryWindow the schedule-to-close was left unset, which the SDK makes
// the 30 s start-to-close: the retries ended with the first attempt's half minute, and a
// storage outage that long failed the media and the day's run.
func storageLocalOptions(v workflow.Version) workflow.LocalActivityOptions {
	opts := workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: activities.NonRetryable},
	}
	if v >= 1 {
		opts.ScheduleToCloseTimeout = storageRetryWindow
	}
	return opts
}

// storageRetryWindow is how long a watermark or ledger call retries through a storage outage
// (ten attempts, backing off to a minute apart, fit in it).
const storageRetryWindow = 10 * time.Minute

// Change IDs for workflow.GetVersion; see the replay test.
const (
	versionLocalWatermarks = "local-watermark-activities"
	versionExpireSnapshots = "expire-snapshots-after-checks"
	// versionRunModes: runs read what they name (catch-up, explicit, backfill), one run per
	// date, days pending merge in a ledger, merges serialised per account. Older runs
	// replay on legacy.go.
	versionRunModes = "run-modes"
	// versionSpreadMerge: backfills and transforms merge each day's silver as its own activity
	// on the merge task queue, then gold once.
	versionSpreadMerge = "spread-merge"
	// versionStorageRetryWindow: watermark and ledger local activities retry for
	// storageRetryWindow, not only their first attempt's 30 s.
	versionStorageRetryWindow = "storage-retry-window"
	// versionStatsZone: a run's dates are days of the account's stats zone (Options.StatsZone);
	// before, UTC days.
	versionStatsZone = "stats-zone-days"
	// versionSkipUnwatched: a media's events are not asked for on days its by_date shows no
	// loads and no plays.
	versionSkipUnwatched = "skip-unwatched-days"
)

// zoneOf is the zone whose days a run's dates are: its options' stats zone, or UTC on runs
// started before the zone was an option.
func zoneOf(ctx workflow.Context, opts Options) (dates.Zone, error) {
	if workflow.GetVersion(ctx, versionStatsZone, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return dates.UTC, nil
	}
	zone, err := dates.LoadZone(opts.StatsZone)
	if err != nil {
		return dates.UTC, temporal.NewNonRetryableApplicationError("stats_zone: "+err.Error(), "BadInput", nil)
	}
	return zone, nil
}

// spreadOf is the merge spread a backfill or transform uses: none on runs started before
// spread merges.
func spreadOf(ctx workflow.Context, opts Options) int {
	if workflow.GetVersion(ctx, versionSpreadMerge, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return 0
	}
	return opts.MergeSpread
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
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: heartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 3}})
	if err := workflow.ExecuteActivity(actx, a.ExpireSnapshots).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn(MaintenanceFailedMessage, "error", err)
	}
}

func storageCalls(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: activities.NonRetryable},
	})
}

func transformCalls(ctx workflow.Context, heartbeat time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 30 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 10 * time.Minute, MaximumAttempts: 5,
			NonRetryableErrorTypes: append(slices.Clone(activities.NonRetryable), activities.ErrTypeCheckFailed, "BadInput")},
	})
}

// a names activities by method value; it is never called.
var a *activities.Activities

// fanOut runs MediaIngestWorkflow children from the cursor on, at most MaxConcurrency at a
// time. It stops starting children when the history should be continued as new, waits for
// those in flight, and returns the index of the first media not started.
// countRejects keeps v0's count of records the client could not type; since run modes, a run
// reports the rows its transform added to silver.quarantine instead, so each counts once.
func fanOut(ctx workflow.Context, in DailyRunInput, progress *Progress, countRejects bool) ([]string, int, error) {
	limit := max(1, in.Options.MaxConcurrency)
	var (
		inFlight, started int
		days              []string
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
			if countRejects {
				progress.Quarantined += res.Rejects
			}
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

func mergeDays(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// notify sends a failure alert; a failing alert is logged, never hides the run's own error.
func notify(ctx workflow.Context, al activities.Alert) {
	info := workflow.GetInfo(ctx)
	al.WorkflowID, al.RunID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 5}})
	if err := workflow.ExecuteActivity(actx, a.Notify, al).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("alert not sent", "error", err)
	}
}

// MediaIngestInput names one media's ingest for a date.
type MediaIngestInput struct {
	Media            string          `json:"media"`
	Date             string          `json:"date"`
	RunID            string          `json:"run_id"`
	Mode             activities.Mode `json:"mode,omitempty"` // empty: catch-up (runs before modes)
	HeartbeatTimeout time.Duration   `json:"heartbeat_timeout,omitempty"`
}

// MediaIngestResult is what one media's ingest landed.
type MediaIngestResult struct {
	Media    string   `json:"media"`
	Days     []string `json:"days"` // event days landed
	Records  int      `json:"records"`
	Rejects  int      `json:"rejects"`
	Requests int      `json:"requests"`
	Complete int      `json:"complete"` // windows read completely
	Mark     string   `json:"mark,omitempty"`
	Skipped  bool     `json:"skipped"` // the media was deleted before it could be read
	// Unwatched is the days whose events were not asked for: by_date showed no loads or plays.
	Unwatched int `json:"unwatched,omitempty"`
}

func (r *MediaIngestResult) add(l ingest.Landed) {
	r.Records += l.Records
	r.Rejects += l.Rejects
	r.Requests += l.Requests
}

func isNotFound(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == activities.ErrTypeNotFound
}

// BackfillInput asks for the days From..To (inclusive).
type BackfillInput struct {
	From        string  `json:"from"`
	To          string  `json:"to"`
	Parallelism int     `json:"parallelism"` // days ingested at once
	Options     Options `json:"options"`
}

// BackfillProgress is what the progress query of a backfill reports.
type BackfillProgress struct {
	From        string   `json:"from"`
	To          string   `json:"to"`
	Phase       string   `json:"phase"`
	DaysTotal   int      `json:"days_total"`
	DaysDone    int      `json:"days_done"`
	Records     int      `json:"records"`
	Quarantined int      `json:"quarantined"` // rows the backfill's merge added to silver.quarantine
	Merged      []string `json:"merged,omitempty"`
	Failed      []string `json:"failed,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// badDate fails a run of a date it cannot read, at once and for good.
func badDate(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrTypeBadDate, nil)
}

// checkRunDate refuses a date that has not ended in zone or is past the API's retention.
func checkRunDate(ctx workflow.Context, zone dates.Zone, date string) error {
	d, err := dates.Parse(date)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "BadInput", nil)
	}
	if err := lake.CheckRunDay(zone, d, workflow.Now(ctx)); err != nil {
		return badDate(err)
	}
	return nil
}

// scheduledMode is the mode of a run the schedule started for date: the regular daily fire
// (its date is yesterday) catches up from the watermarks; an older scheduled time is a
// schedule backfill and reads exactly its day.
func scheduledMode(ctx workflow.Context, zone dates.Zone, date string) activities.Mode {
	if date == dates.Format(zone.LastEnded(workflow.Now(ctx))) {
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
	date, err := LogicalDate(ctx, zone, in.Date)
	if err != nil {
		return DailyRunResult{}, err
	}
	if err := checkRunDate(ctx, zone, date); err != nil {
		return DailyRunResult{}, err
	}
	if in.Mode == "" {
		in.Mode = activities.ModeExplicit
		if in.Date == "" {
			in.Mode = scheduledMode(ctx, zone, date)
		}
	}
	if !in.Mode.Valid() {
		return DailyRunResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown run mode %q", in.Mode), "BadInput", nil)
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
		if err := workflow.ExecuteActivity(wistiaCalls(ctx, in.Options.heartbeat()), a.ListMedias, date, in.RunID).Get(ctx, &list); err != nil {
			return fail(PhaseMedias, err)
		}
		// The media snapshot landed under the date: pending until merged, like every bronze day.
		if err := workflow.ExecuteLocalActivity(storageLocal(ctx), a.MarkPending, []string{date}).Get(ctx, nil); err != nil {
			return fail(PhaseMedias, err)
		}
		in.Medias = list.Medias
		if in.Medias == nil {
			in.Medias = []string{}
		}
		in.Days = mergeDays(in.Days, []string{date})
		progress.MediasTotal = len(list.Medias)
		progress.Requests += list.Requests
	}

	progress.Phase = PhaseIngest
	days, next, err := fanOut(ctx, in, &progress, false)
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
	var visitors ingest.Landed
	visitorsErr := workflow.ExecuteActivity(visitorCalls(ctx, in.Options.heartbeat()), a.IngestRunVisitors,
		activities.VisitorsInput{Date: date, RunID: in.RunID, Days: in.Days}).Get(ctx, &visitors)
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

// runAs runs the date under its own workflow ID as a child, or, when a run of the date is
// already in flight (started by hand, or by a backfill), follows that one to its end.
func runAs(ctx workflow.Context, id string, in DailyRunInput) (DailyRunResult, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// The date's run is its own: others may have attached to it.
		ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
	})
	var res DailyRunResult
	err := workflow.ExecuteChildWorkflow(cctx, DailyRunWorkflow, in).Get(ctx, &res)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		workflow.GetLogger(ctx).Info("the date's run is in flight; following it", "workflow_id", id)
		err = workflow.ExecuteActivity(followCalls(ctx), a.AwaitRun, id).Get(ctx, &res)
	}
	res.Progress.RunningAs = id
	return res, err
}

// followCalls waits for another run for as long as a run may take.
func followCalls(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 24 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeAttachedRunFailed, "Misconfigured"}},
	})
}

// mergePending merges the run's days and every day pending in the ledger, checks them, and
// takes them off the ledger, except days whose bronze landed again meanwhile. With a spread
// above 1 the days' silver merges run as separate activities, spread at most that many at once
// over the workers of the merge task queue, then gold is recomputed once; otherwise one
// MergeAndCheck does it all. It returns the days merged and, on failure, the step that
// failed; the days then stay pending for the next run, so nothing landed is stranded.
func mergePending(ctx workflow.Context, days []string, runID string, heartbeat time.Duration, spread int, progress *Progress) ([]string, string, error) {
	progress.Phase = PhaseTransform
	var pending []lake.PendingDay
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
	var err error
	if spread > 1 {
		err = mergeSpread(ctx, all, runID, heartbeat, spread, progress)
	} else {
		var res activities.MergeResult
		err = workflow.ExecuteActivity(transformCalls(ctx, heartbeat), a.MergeAndCheck, all, runID).Get(ctx, &res)
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
	if err := workflow.ExecuteLocalActivity(storageLocal(ctx), a.ClearPending, pending).Get(ctx, nil); err != nil {
		// The days stay pending and are merged again, which changes nothing.
		workflow.GetLogger(ctx).Warn("pending days not cleared; the next run merges them again", "error", err)
	}
	expireSnapshots(ctx, heartbeat)
	return all, "", nil
}

// mergeSpread merges each day's silver in its own MergeSilverDays on the merge task queue, at
// most spread at once, then recomputes gold of every date they touched and checks it. A day
// that fails stops new ones from starting; gold is then left to the next merge of the days.
func mergeSpread(ctx workflow.Context, days []string, runID string, heartbeat time.Duration, spread int, progress *Progress) error {
	mctx := workflow.WithTaskQueue(transformCalls(ctx, heartbeat), MergeTaskQueue(workflow.GetInfo(ctx).TaskQueueName))
	var (
		inFlight int
		touched  []string
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
		fut := workflow.ExecuteActivity(mctx, a.MergeSilverDays, []string{day}, runID)
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

// alertOffZone alerts when a merge found events outside their day in the stats zone: the run
// succeeded, but the days it made final are cut at another midnight than the account's.
func alertOffZone(ctx workflow.Context, date string, off []lake.OffZoneWindow) {
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

// countMerge adds what a merge reported to the run's counts.
func (p *Progress) countMerge(rep lake.TransformReport) {
	for _, n := range rep.Quarantined {
		p.Quarantined += n
	}
	p.PercentOverOne += rep.PercentOverOne
	p.OffZone = append(p.OffZone, rep.OffZone...)
}

func isCheckFailure(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == activities.ErrTypeCheckFailed
}

// MediaIngestWorkflow lands one media's by_date stats and its events one day window at a time,
// over the days its mode reads (the run fetches their visitors); then it records the days landed as
// pending merge and, in a catch-up run, advances the watermark to the last day before which
// every window was read completely.
func MediaIngestWorkflow(ctx workflow.Context, in MediaIngestInput) (MediaIngestResult, error) {
	if workflow.GetVersion(ctx, versionRunModes, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return mediaIngestV0(ctx, in)
	}
	res := MediaIngestResult{Media: in.Media}
	mode := cmp.Or(in.Mode, activities.ModeCatchUp)
	var w activities.ReadPlan
	if err := workflow.ExecuteLocalActivity(storageLocal(ctx), a.PlanIngest, activities.PlanInput{Media: in.Media, Date: in.Date, Mode: mode}).Get(ctx, &w); err != nil {
		return res, err
	}
	if len(w.Days) == 0 {
		return res, nil
	}
	landed := []string{in.Date} // by_date stats land under the run's date
	record := func(mark string) error {
		err := workflow.ExecuteLocalActivity(storageLocal(ctx), a.RecordLanded, activities.LandedInput{
			Media: in.Media, Days: mergeDays(landed, res.Days), Mark: mark, RunID: in.RunID, Advance: mode == activities.ModeCatchUp}).Get(ctx, nil)
		if err == nil && mode == activities.ModeCatchUp {
			res.Mark = mark
		}
		return err
	}
	api := wistiaCalls(ctx, heartbeatOr(in.HeartbeatTimeout))
	var stats ingest.Landed
	if err := workflow.ExecuteActivity(api, a.IngestDailyStats, in.Media, w, in.Date, in.RunID).Get(ctx, &stats); err != nil {
		if isNotFound(err) {
			res.Skipped = true
			workflow.GetLogger(ctx).Warn("media deleted since it was listed; skipped", "media", in.Media)
			return res, nil
		}
		return res, err
	}
	res.add(stats)

	unwatched := map[string]bool{}
	if workflow.GetVersion(ctx, versionSkipUnwatched, workflow.DefaultVersion, 1) >= 1 {
		for _, d := range stats.Unwatched {
			unwatched[d] = true
		}
	}
	lastComplete := ""
	broken := false
	for _, day := range w.Days {
		if unwatched[day] {
			// Nothing to read: as final as a window read to its end.
			res.Unwatched++
			if !broken {
				lastComplete = day
			}
			continue
		}
		var ev ingest.Landed
		if err := workflow.ExecuteActivity(api, a.IngestEvents, in.Media, day, in.RunID).Get(ctx, &ev); err != nil {
			if isNotFound(err) {
				res.Skipped = true
				return res, record("") // what landed before the media went is merged
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

	return res, record(lastComplete) // the run fetches the visitors of all its medias' events at once
}

// BackfillWorkflow runs each day From..To as that date's run (DailyRunID) reading exactly
// that day, Parallelism at a time, without their own merges; a day whose run is already in
// flight is followed instead. Then it merges every day that landed, and the pending ones,
// once, even when some days failed; it fails afterwards, naming those days.
func BackfillWorkflow(ctx workflow.Context, in BackfillInput) (BackfillProgress, error) {
	if workflow.GetVersion(ctx, versionRunModes, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return backfillV0(ctx, in)
	}
	from, err1 := dates.Parse(in.From)
	to, err2 := dates.Parse(in.To)
	if err := errors.Join(err1, err2); err != nil || to.Before(from) {
		return BackfillProgress{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad range %s..%s: %v", in.From, in.To, err), "BadInput", nil)
	}
	zone, err := zoneOf(ctx, in.Options)
	if err != nil {
		return BackfillProgress{}, err
	}
	for _, d := range []time.Time{from, to} {
		if err := lake.CheckRunDay(zone, d, workflow.Now(ctx)); err != nil {
			return BackfillProgress{}, badDate(err)
		}
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
		touched  []string
	)
	limit := max(1, in.Parallelism)
	for _, day := range days {
		if err := workflow.Await(ctx, func() bool { return inFlight < limit }); err != nil {
			return progress, err
		}
		date := dates.Format(day)
		inFlight++
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer func() { inFlight-- }()
			res, err := runAs(gctx, DailyRunID(opts.Account, date), DailyRunInput{Date: date, Mode: activities.ModeBackfill, Options: opts, RunID: runID + "-" + date})
			touched = mergeDays(touched, res.Days)
			if err != nil {
				progress.Failed = append(progress.Failed, date)
				return
			}
			progress.DaysDone++
			progress.Records += res.Progress.Records
		})
	}
	if err := workflow.Await(ctx, func() bool { return inFlight == 0 }); err != nil {
		return progress, err
	}
	fail := func(step string, err error) (BackfillProgress, error) {
		progress.Phase, progress.Error = PhaseFailed, err.Error()
		notify(ctx, activities.Alert{Workflow: BackfillType, Date: in.From + ".." + in.To, Step: step, Error: err.Error()})
		return progress, err
	}
	var merge Progress
	merged, step, err := mergePending(ctx, touched, runID, in.Options.heartbeat(), spreadOf(ctx, in.Options), &merge)
	progress.Merged, progress.Quarantined = merged, merge.Quarantined
	if err != nil {
		return fail(step, err)
	}
	if len(progress.Failed) > 0 {
		slices.Sort(progress.Failed)
		return fail(PhaseIngest, fmt.Errorf("days failed: %v", progress.Failed))
	}
	progress.Phase = PhaseDone
	return progress, nil
}

// TransformInput asks for silver and gold of the bronze days From..To to be merged again.
type TransformInput struct {
	From    string  `json:"from"`
	To      string  `json:"to"`
	Options Options `json:"options"`
}

// TransformWorkflow re-merges silver and gold from the bronze of From..To (and the days
// pending) without calling the API: how an operator repairs the tables after a fix.
func TransformWorkflow(ctx workflow.Context, in TransformInput) (Progress, error) {
	progress := Progress{Date: in.From + ".." + in.To, Phase: PhaseTransform}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return progress, nil }); err != nil {
		return progress, err
	}
	from, err1 := dates.Parse(in.From)
	to, err2 := dates.Parse(in.To)
	if err := errors.Join(err1, err2); err != nil || to.Before(from) {
		return progress, temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad range %s..%s: %v", in.From, in.To, err), "BadInput", nil)
	}
	zone, err := zoneOf(ctx, in.Options)
	if err != nil {
		return progress, err
	}
	if err := lake.CheckEndedDay(zone, to, workflow.Now(ctx)); err != nil {
		return progress, badDate(err)
	}
	var days []string
	for _, d := range dates.Range(from, to) {
		days = append(days, dates.Format(d))
	}
	runID := "transform-" + workflow.GetInfo(ctx).WorkflowExecution.RunID
	merged, step, err := mergePending(ctx, days, runID, in.Options.heartbeat(), spreadOf(ctx, in.Options), &progress)
	progress.Merged = merged
	if err != nil {
		progress.Phase, progress.Error = PhaseFailed, err.Error()
		notify(ctx, activities.Alert{Workflow: TransformType, Date: progress.Date, Step: step, Error: err.Error()})
		return progress, err
	}
	progress.Phase = PhaseDone
	return progress, nil
}
