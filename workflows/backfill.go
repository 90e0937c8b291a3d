package workflows

import (
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// BackfillInput asks for the days From..To (inclusive).
type BackfillInput struct {
	From        string  `json:"from"`
	To          string  `json:"to"`
	Parallelism int     `json:"parallelism"` // days ingested at once
	Options     Options `json:"options"`
}

// BackfillProgress is what the progress query of a backfill reports.
type BackfillProgress struct {
	From        string       `json:"from"`
	To          string       `json:"to"`
	Phase       string       `json:"phase"`
	DaysTotal   int          `json:"days_total"`
	DaysDone    int          `json:"days_done"`
	Records     int          `json:"records"`
	Quarantined int          `json:"quarantined"` // rows the backfill's merge added to silver.quarantine
	Merged      []dates.Date `json:"merged,omitempty"`
	Failed      []dates.Date `json:"failed,omitempty"`
	Error       string       `json:"error,omitempty"`
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
	if err := errors.Join(err1, err2); err != nil || to < from {
		return BackfillProgress{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad range %s..%s: %v", in.From, in.To, err), activities.ErrTypeBadInput, nil)
	}
	zone, err := zoneOf(ctx, in.Options)
	if err != nil {
		return BackfillProgress{}, err
	}
	for _, d := range []dates.Date{from, to} {
		if err := wistia.CheckRunDay(zone, d, workflow.Now(ctx)); err != nil {
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
		touched  []dates.Date
	)
	limit := max(1, in.Parallelism)
	for _, day := range days {
		if err := workflow.Await(ctx, func() bool { return inFlight < limit }); err != nil {
			return progress, err
		}
		date := day.String()
		inFlight++
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer func() { inFlight-- }()
			res, err := runAs(gctx, DailyRunID(opts.Account, date), DailyRunInput{Date: date, Mode: activities.ModeBackfill, Options: opts, RunID: runID + "-" + date})
			touched = mergeDays(touched, res.Days)
			if err != nil {
				progress.Failed = append(progress.Failed, day)
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
