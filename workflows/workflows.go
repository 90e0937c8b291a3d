// Package workflows holds the pipeline's Temporal workflows: the daily run, the per-media
// ingest it fans out to, and backfills. Workflow code is deterministic: all I/O happens in
// activities (package activities), and every later change goes behind workflow.GetVersion.
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
	PhaseTransform = "transforming"
	PhaseChecks    = "checking"
	PhaseDone      = "done"
	PhaseFailed    = "failed"
)

// Progress is what a run has done so far.
type Progress struct {
	Date        string `json:"date"`
	Phase       string `json:"phase"`
	MediasTotal int    `json:"medias_total"`
	MediasDone  int    `json:"medias_done"`
	Skipped     int    `json:"skipped"` // medias gone between listing and ingest (404)
	Records     int    `json:"records"`
	Requests    int    `json:"requests"` // API calls made by activities that completed
	Quarantined int    `json:"quarantined"`
	Error       string `json:"error,omitempty"`
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
	Date    string   `json:"date,omitempty"`
	Options Options  `json:"options"`
	RunID   string   `json:"run_id,omitempty"`
	Medias  []string `json:"medias,omitempty"`
	Cursor  int      `json:"cursor,omitempty"` // medias before it are done
	Days    []string `json:"days,omitempty"`   // days touched so far
	// Progress so far, carried over continue-as-new.
	Progress Progress `json:"progress"`
}

// DailyRunResult is a finished run's summary.
type DailyRunResult struct {
	Progress Progress `json:"progress"`
	Days     []string `json:"days"` // days the run ingested
}

// LogicalDate is the date a run covers: the explicit input, else the day before the schedule
// fired (a run firing on the 25th ingests the 24th, the last closed day).
func LogicalDate(ctx workflow.Context, explicit string) (string, error) {
	if explicit != "" {
		if _, err := dates.Parse(explicit); err != nil {
			return "", temporal.NewNonRetryableApplicationError(err.Error(), "BadInput", nil)
		}
		return explicit, nil
	}
	attrs := workflow.GetTypedSearchAttributes(ctx)
	if at, ok := attrs.GetTime(temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")); ok {
		return dates.Format(dates.AddDays(dates.Day(at), -1)), nil
	}
	return "", temporal.NewNonRetryableApplicationError("no date: pass one, or start the run from the wistia-daily schedule", "BadInput", nil)
}

// Activity options per kind of work. Wistia calls back off long enough to ride out a
// rate-limit pause; storage calls retry quickly; the transform is long and retried rarely.
func wistiaCalls(ctx workflow.Context, heartbeat time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 5 * time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: activities.NonRetryable},
	})
}

// storageLocal runs short watermark reads and writes as local activities: in the worker that
// runs the workflow, recorded as one marker instead of a scheduled task, which halves the
// orchestration cost per media.
func storageLocal(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: activities.NonRetryable},
	})
}

// Change IDs for workflow.GetVersion; see the replay test.
const (
	versionLocalWatermarks = "local-watermark-activities"
	versionExpireSnapshots = "expire-snapshots-after-checks"
)

// expireSnapshots drops table snapshots past SNAPSHOT_RETENTION_DAYS once a run's data is in
// and checked. It is housekeeping: a failure is logged, never fails the run.
func expireSnapshots(ctx workflow.Context, heartbeat time.Duration) {
	if workflow.GetVersion(ctx, versionExpireSnapshots, workflow.DefaultVersion, 1) < 1 {
		return
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: heartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 3}})
	if err := workflow.ExecuteActivity(actx, a.ExpireSnapshots).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("snapshot expiration failed; the next run retries it", "error", err)
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
			NonRetryableErrorTypes: append(slices.Clone(activities.NonRetryable), "DataCheckFailed", "BadInput")},
	})
}

// a names activities by method value; it is never called.
var a *activities.Activities

// DailyRunWorkflow ingests one logical date: the media list, one MediaIngestWorkflow per
// media (at most MaxConcurrency at once), then the transform of the days touched and the
// data checks. It continues as new before its history grows too large, carrying its cursor.
func DailyRunWorkflow(ctx workflow.Context, in DailyRunInput) (DailyRunResult, error) {
	date, err := LogicalDate(ctx, in.Date)
	if err != nil {
		return DailyRunResult{}, err
	}
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
		notify(ctx, activities.Alert{Workflow: "DailyRunWorkflow", Date: date, Step: step, Error: err.Error()})
		return DailyRunResult{Progress: progress}, err
	}

	if in.Medias == nil {
		progress.Phase = PhaseMedias
		var list activities.MediaList
		if err := workflow.ExecuteActivity(wistiaCalls(ctx, in.Options.heartbeat()), a.ListMedias, date, in.RunID).Get(ctx, &list); err != nil {
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
	days, next, err := fanOut(ctx, in, &progress)
	in.Days = mergeDays(in.Days, days)
	if err != nil {
		return fail(PhaseIngest, err)
	}
	if next < len(in.Medias) {
		in.Cursor, in.Progress = next, progress
		return DailyRunResult{}, workflow.NewContinueAsNewError(ctx, DailyRunWorkflow, in)
	}

	if !in.Options.SkipTransform && len(in.Days) > 0 {
		rep, step, err := transformAndCheck(ctx, in.Days, in.RunID, in.Options.heartbeat(), &progress.Phase)
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

// transformAndCheck merges the days' bronze into silver and gold, checks the result and
// expires old snapshots, keeping phase current. On failure it names the step that failed.
func transformAndCheck(ctx workflow.Context, days []string, runID string, heartbeat time.Duration, phase *string) (lake.TransformReport, string, error) {
	tctx := transformCalls(ctx, heartbeat)
	*phase = PhaseTransform
	var rep lake.TransformReport
	if err := workflow.ExecuteActivity(tctx, a.Transform, days, runID).Get(ctx, &rep); err != nil {
		return rep, PhaseTransform, err
	}
	*phase = PhaseChecks
	if err := workflow.ExecuteActivity(tctx, a.CheckData, days).Get(ctx, nil); err != nil {
		return rep, PhaseChecks, err
	}
	expireSnapshots(ctx, heartbeat)
	return rep, "", nil
}

// fanOut runs MediaIngestWorkflow children from the cursor on, at most MaxConcurrency at a
// time. It stops starting children when the history should be continued as new, waits for
// those in flight, and returns the index of the first media not started.
func fanOut(ctx workflow.Context, in DailyRunInput, progress *Progress) ([]string, int, error) {
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
		fut := workflow.ExecuteChildWorkflow(cctx, MediaIngestWorkflow, MediaIngestInput{Media: media, Date: in.Date, RunID: in.RunID, HeartbeatTimeout: in.Options.HeartbeatTimeout})
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

// MediaIngestID is the deterministic workflow ID of a media's ingest for a date.
func MediaIngestID(account, date, media string) string {
	return fmt.Sprintf("media-ingest/%s/%s/%s", account, date, media)
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
	Media            string        `json:"media"`
	Date             string        `json:"date"`
	RunID            string        `json:"run_id"`
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout,omitempty"`
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
}

// MediaIngestWorkflow lands one media's by_date stats, its events one day window at a time,
// and the visitors seen, then advances its watermark to the last day before which every
// window was read completely.
func MediaIngestWorkflow(ctx workflow.Context, in MediaIngestInput) (MediaIngestResult, error) {
	res := MediaIngestResult{Media: in.Media}
	// Version 1: watermark reads and writes became local activities.
	local := workflow.GetVersion(ctx, versionLocalWatermarks, workflow.DefaultVersion, 1) >= 1
	storage := func(fn any, args ...any) workflow.Future {
		if local {
			return workflow.ExecuteLocalActivity(storageLocal(ctx), fn, args...)
		}
		return workflow.ExecuteActivity(storageCalls(ctx), fn, args...)
	}
	var w activities.Window
	if err := storage(a.PlanWindow, in.Media, in.Date).Get(ctx, &w); err != nil {
		return res, err
	}
	if len(w.Days) == 0 {
		return res, nil
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

	lastComplete := ""
	broken := false
	for _, day := range w.Days {
		var ev ingest.Landed
		if err := workflow.ExecuteActivity(api, a.IngestEvents, in.Media, day, in.RunID).Get(ctx, &ev); err != nil {
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

	var visitors ingest.Landed
	if err := workflow.ExecuteActivity(api, a.IngestVisitors, in.Media, w, in.Date, in.RunID).Get(ctx, &visitors); err != nil {
		return res, err
	}
	res.add(visitors)

	if lastComplete != "" {
		if err := storage(a.AdvanceWatermark, in.Media, lastComplete, in.RunID).Get(ctx, nil); err != nil {
			return res, err
		}
		res.Mark = lastComplete
	}
	return res, nil
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
	From      string   `json:"from"`
	To        string   `json:"to"`
	Phase     string   `json:"phase"`
	DaysTotal int      `json:"days_total"`
	DaysDone  int      `json:"days_done"`
	Records   int      `json:"records"`
	Failed    []string `json:"failed,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// BackfillWorkflow runs the days From..To as DailyRunWorkflow children, Parallelism at a
// time, without their transforms; then it transforms every touched day once and checks them.
// One transform at the end keeps gold recomputes from interleaving.
func BackfillWorkflow(ctx workflow.Context, in BackfillInput) (BackfillProgress, error) {
	from, err1 := dates.Parse(in.From)
	to, err2 := dates.Parse(in.To)
	if err := errors.Join(err1, err2); err != nil || to.Before(from) {
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
		touched  []string
	)
	limit := max(1, in.Parallelism)
	for _, day := range days {
		if err := workflow.Await(ctx, func() bool { return inFlight < limit }); err != nil {
			return progress, err
		}
		date := dates.Format(day)
		inFlight++
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("daily-run/%s/%s/%s", opts.Account, date, runID), ParentClosePolicy: enums.PARENT_CLOSE_POLICY_TERMINATE})
		fut := workflow.ExecuteChildWorkflow(cctx, DailyRunWorkflow, DailyRunInput{Date: date, Options: opts, RunID: runID + "-" + date})
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer func() { inFlight-- }()
			var res DailyRunResult
			if err := fut.Get(gctx, &res); err != nil {
				progress.Failed = append(progress.Failed, date)
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
		notify(ctx, activities.Alert{Workflow: "BackfillWorkflow", Date: in.From + ".." + in.To, Step: step, Error: err.Error()})
		return progress, err
	}
	if len(progress.Failed) > 0 {
		slices.Sort(progress.Failed)
		return fail(PhaseIngest, fmt.Errorf("days failed: %v", progress.Failed))
	}
	if len(touched) > 0 {
		if _, step, err := transformAndCheck(ctx, touched, runID, in.Options.heartbeat(), &progress.Phase); err != nil {
			return fail(step, err)
		}
	}
	progress.Phase = PhaseDone
	return progress, nil
}
