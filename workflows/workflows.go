// Package workflows holds the pipeline's Temporal workflows, a file each: the daily run
// (daily.go), the per-media ingest it fans out to (media.go), backfills (backfill.go) and
// rebuilds from bronze (transform.go), with the merge they share (merge.go). options.go names
// every timeout and retry policy by the kind of work it serves; register.go is the one list of
// workflows a worker, a replayer or a test registers; legacy.go is the frozen code older
// histories replay on. Workflow code is deterministic: all I/O happens in activities (package
// activities), and every later change goes behind workflow.GetVersion.
package workflows

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
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
	OffZone []activities.OffZoneWindow `json:"off_zone,omitempty"`
	// Merged is the days the run merged: its own and those pending from earlier runs.
	Merged []dates.Date `json:"merged,omitempty"`
	// RunningAs is the ID of the date's run when this one was started under another ID (by
	// the schedule) and handed the work to it.
	RunningAs string `json:"running_as,omitempty"`
	Error     string `json:"error,omitempty"`
}

// countMerge adds what a merge reported to the run's counts.
func (p *Progress) countMerge(rep activities.TransformReport) {
	for _, n := range rep.Quarantined {
		p.Quarantined += n
	}
	p.PercentOverOne += rep.PercentOverOne
	p.OffZone = append(p.OffZone, rep.OffZone...)
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
	// versionActivityInputs: every activity takes one input struct, under the names that
	// replaced the positional ones (activities/legacy.go keeps those for older runs).
	versionActivityInputs = "activity-inputs"
)

// inputStructs reports whether the run passes each activity one input struct: not on runs
// started before versionActivityInputs, which schedule the positional activities.
func inputStructs(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, versionActivityInputs, workflow.DefaultVersion, 1) >= 1
}

// zoneOf is the zone whose days a run's dates are: its options' stats zone, or UTC on runs
// started before the zone was an option.
func zoneOf(ctx workflow.Context, opts Options) (dates.Zone, error) {
	if workflow.GetVersion(ctx, versionStatsZone, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return dates.UTC, nil
	}
	zone, err := dates.LoadZone(opts.StatsZone)
	if err != nil {
		return dates.UTC, temporal.NewNonRetryableApplicationError("stats_zone: "+err.Error(), activities.ErrTypeBadInput, nil)
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

// a names activities by method value; it is never called.
var a *activities.Activities

// mergeDays is the sorted union of two lists of days.
func mergeDays[D cmp.Ordered](a, b []D) []D {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// notify sends a failure alert; a failing alert is logged, never hides the run's own error.
func notify(ctx workflow.Context, al activities.Alert) {
	info := workflow.GetInfo(ctx)
	al.WorkflowID, al.RunID = info.WorkflowExecution.ID, info.WorkflowExecution.RunID
	if err := workflow.ExecuteActivity(alertCalls(ctx), a.Notify, al).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("alert not sent", "error", err)
	}
}

func isNotFound(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == activities.ErrTypeNotFound
}

// parseInputDate reads a date a workflow was given; a malformed one fails the run for good.
func parseInputDate(s string) (dates.Date, error) {
	d, err := dates.Parse(s)
	if err != nil {
		return 0, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrTypeBadInput, nil)
	}
	return d, nil
}

// badDate fails a run of a date it cannot read, at once and for good.
func badDate(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrTypeBadDate, nil)
}

func isCheckFailure(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == activities.ErrTypeCheckFailed
}
