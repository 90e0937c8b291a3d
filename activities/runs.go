package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/state"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// Mode is what a run of a date reads, and whether it may move watermarks.
type Mode string

const (
	// ModeCatchUp is the schedule's run of yesterday: each media from its watermark minus the
	// lookback to the date. The only mode that advances watermarks.
	ModeCatchUp Mode = "catch-up"
	// ModeExplicit is `starter run --date D`: D minus the lookback to D, whatever the watermarks say.
	ModeExplicit Mode = "explicit"
	// ModeBackfill is one day of a backfill (starter's or the schedule's): exactly that day.
	ModeBackfill Mode = "backfill"
)

// Valid reports a known mode.
func (m Mode) Valid() bool { return m == ModeCatchUp || m == ModeExplicit || m == ModeBackfill }

// PlanInput asks which days one media's run reads.
type PlanInput struct {
	Media string     `json:"media"`
	Date  dates.Date `json:"date"`
	Mode  Mode       `json:"mode"`
}

// PlanIngest returns the days a media's run reads in its mode: only a catch-up run looks at
// the watermark. Every window is clipped to the days the API still serves.
func (a *Activities) PlanIngest(ctx context.Context, in PlanInput) (ReadPlan, error) {
	target := in.Date
	var start, end dates.Date
	switch in.Mode {
	case ModeCatchUp:
		mark, ok, err := a.Marks.Get(ctx, a.key(in.Media))
		if err != nil {
			return ReadPlan{}, classify(err)
		}
		if ok && a.OnLag != nil {
			a.OnLag(target, target.DaysSince(mark.Day))
		}
		var valid bool
		if start, end, valid = a.Policy.Range(mark.Day, ok, target, a.Now()); !valid {
			return ReadPlan{}, nil
		}
	case ModeExplicit:
		start, end = target.AddDays(-a.Policy.LookbackDays), target
	case ModeBackfill:
		start, end = target, target
	default:
		return ReadPlan{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown run mode %q", in.Mode), ErrTypeBadInput, nil)
	}
	if first, _ := wistia.ServedDays(a.Policy.Zone, a.Now()); start < first {
		start = first
	}
	return planOf(start, end), nil
}

// LandedInput reports what one media's run landed.
type LandedInput struct {
	Media   string       `json:"media"`
	Days    []dates.Date `json:"days"` // bronze dt= days written
	Mark    dates.Date   `json:"mark,omitempty"`
	RunID   string       `json:"run_id"`
	Advance bool         `json:"advance"` // move the watermark to Mark (catch-up runs only)
}

// RecordLanded puts the landed days in the ledger of days pending merge, and only then, for a
// catch-up run, advances the media's watermark: a day behind a watermark is always merged or
// pending, so a failed transform never strands it.
func (a *Activities) RecordLanded(ctx context.Context, in LandedInput) (bool, error) {
	if err := a.MarkDaysPending(ctx, PendingInput{Days: in.Days}); err != nil {
		return false, err
	}
	if !in.Advance || in.Mark.IsZero() {
		return false, nil
	}
	return a.advanceWatermark(ctx, in.Media, in.Mark, in.RunID)
}

// PendingInput names bronze days that landed.
type PendingInput struct {
	Days []dates.Date `json:"days"`
}

// MarkDaysPending records bronze days landed and not yet merged.
func (a *Activities) MarkDaysPending(ctx context.Context, in PendingInput) error {
	return classify(a.Marks.MarkPending(ctx, a.Account, in.Days))
}

// PendingDays lists the account's days whose bronze landed and is not yet merged and checked.
func (a *Activities) PendingDays(ctx context.Context) ([]PendingDay, error) {
	days, err := a.Marks.Pending(ctx, a.Account)
	return pendingOf(days), classify(err)
}

// VerifiedMergeMessage is logged each time a run's days passed their checks and left the
// ledger: deploy/cdk counts these lines, and alarms when none appears for a day.
const VerifiedMergeMessage = "days merged and checked"

// ClearInput names the pending days a run merged and checked, as PendingDays read them.
type ClearInput struct {
	Days []PendingDay `json:"days"`
}

// ClearMerged takes the days off the ledger, except those whose bronze landed again since
// they were read. Workflows call it only after the days' checks passed.
func (a *Activities) ClearMerged(ctx context.Context, in ClearInput) (int, error) {
	days := in.Days
	n, err := a.Marks.ClearPending(ctx, a.Account, statePending(days))
	if err != nil {
		return n, classify(err)
	}
	activity.GetLogger(ctx).Info(VerifiedMergeMessage, "account", a.Account, "days", len(days), "cleared", n)
	if a.OnVerified != nil {
		a.OnVerified(len(days))
	}
	return n, nil
}

// transformLeaseTTL is how long a dead worker can keep other transforms of its account waiting.
const transformLeaseTTL = time.Minute

// MergeResult is what MergeDaysAndCheck (or a part of a spread merge) did: the transform's
// counts and the checks'.
type MergeResult struct {
	Report TransformReport `json:"report"`
	Check  CheckResult     `json:"check"`
}

// checked adds the checks' outcome; problems fail the activity for good.
func (r MergeResult) checked(check lake.CheckReport, err error) (MergeResult, error) {
	if err != nil {
		return r, classify(err)
	}
	r.Check = CheckResult{BronzeEvents: check.BronzeEvents, SilverEvents: check.SilverEvents, FactRows: check.FactRows}
	if check.ProblemsTotal > 0 {
		return r, temporalCheckFailure(check)
	}
	return r, nil
}

// MergeInput names the bronze days a run merges.
type MergeInput struct {
	Days  []dates.Date `json:"days"`
	RunID string       `json:"run_id"`
}

// MergeDaysAndCheck merges the days' bronze into silver, recomputes gold and checks the
// result, holding the account's transform lease throughout, so gold recomputes of one account
// never interleave whichever workers run them. The checks compare silver with exactly the
// bronze the merge read: bronze landing meanwhile is pending, and the next run merges it.
func (a *Activities) MergeDaysAndCheck(ctx context.Context, in MergeInput) (MergeResult, error) {
	return a.mergeStep(ctx, mergeOwner(activity.GetInfo(ctx)), true,
		func(ctx context.Context) (lake.TransformReport, error) {
			return a.Lake.Transform(ctx, a.Store, in.Days, in.RunID)
		},
		func(ctx context.Context, rep lake.TransformReport) (lake.CheckReport, error) {
			return a.Lake.CheckRead(ctx, a.Store, in.Days, rep.Read)
		})
}

// MergeSilver is one part of a merge spread over workers: it merges the days' bronze into
// silver and checks silver against exactly what it read. It holds the account's transform
// lease with its workflow run as owner, so the run's other MergeSilver merge beside it on any
// worker (a silver commit that loses a race is redone), while no other run's transform
// interleaves; it leaves the lease to run out rather than freeing it, and the run's
// RecomputeGoldAndCheck, last, frees it.
func (a *Activities) MergeSilver(ctx context.Context, in MergeInput) (MergeResult, error) {
	return a.mergeStep(ctx, spreadOwner(ctx), false,
		func(ctx context.Context) (lake.TransformReport, error) {
			return a.Lake.MergeSilver(ctx, a.Store, in.Days, in.RunID)
		},
		func(ctx context.Context, rep lake.TransformReport) (lake.CheckReport, error) {
			return a.Lake.CheckSilver(ctx, a.Store, in.Days, rep.Read)
		})
}

// GoldInput asks for gold of Dates to be recomputed and of Days to be checked, after the
// silver of Days was merged by MergeSilver.
type GoldInput struct {
	Dates []dates.Date `json:"dates"` // dates whose facts the silver merges touched
	Days  []dates.Date `json:"days"`  // days merged
	RunID string       `json:"run_id"`
}

// RecomputeGoldAndCheck ends a merge spread over workers: under the lease its MergeSilver
// held, it recomputes gold from silver, checks it, and frees the lease.
func (a *Activities) RecomputeGoldAndCheck(ctx context.Context, in GoldInput) (MergeResult, error) {
	return a.mergeStep(ctx, spreadOwner(ctx), true,
		func(ctx context.Context) (lake.TransformReport, error) {
			rep := lake.TransformReport{Quarantined: map[string]int{}}
			return rep, a.Lake.RecomputeGold(ctx, in.Dates, in.RunID, &rep)
		},
		func(ctx context.Context, _ lake.TransformReport) (lake.CheckReport, error) {
			return a.Lake.CheckGold(ctx, in.Days)
		})
}

// mergeStep is what the three merge activities share: under the account's transform lease,
// held by owner, merge runs and then check holds what it did against what it read; the lease
// is freed at the end, or, without release, left to run out for the run's next step on any
// worker. A merge that fails is not checked.
func (a *Activities) mergeStep(ctx context.Context, owner string, release bool,
	merge func(context.Context) (lake.TransformReport, error),
	check func(context.Context, lake.TransformReport) (lake.CheckReport, error)) (MergeResult, error) {
	defer keepAlive(ctx)()
	ctx, lease, err := a.holdTransform(ctx, owner)
	if err != nil {
		return MergeResult{}, err
	}
	if release {
		defer lease.Release()
	} else {
		defer lease.Leave()
	}
	rep, err := merge(ctx)
	if a.OnTransform != nil {
		a.OnTransform(rep)
	}
	res := MergeResult{Report: reportOf(rep)}
	if err != nil {
		return res, classify(err)
	}
	return res.checked(check(ctx, rep))
}

// mergeOwner owns the transform lease for one MergeDaysAndCheck, whichever attempt: the retry of
// a merge whose worker died takes its lease over at once instead of waiting out the dead
// attempt's ttl (the soak's mid-merge kills each cost a minute). A live earlier attempt that
// lost its heartbeat stops at its next one; until then both redo the same idempotent merge.
func mergeOwner(info activity.Info) string {
	return info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" + info.ActivityID
}

// spreadOwner is the transform lease's owner for the activities of one merge spread over
// workers: their workflow run.
func spreadOwner(ctx context.Context) string {
	info := activity.GetInfo(ctx)
	return info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "#spread"
}

// transformHold is the transform lease an activity holds, and the cancellation of the context
// that lives while it is held.
type transformHold struct {
	lease  *state.Lease
	cancel context.CancelCauseFunc
}

// Release frees the lease.
func (h transformHold) Release() { h.cancel(nil); h.lease.Release() }

// Leave lets the lease run out for its owner's next holder (see state.Lease.Leave).
func (h transformHold) Leave() { h.cancel(nil); h.lease.Leave() }

// holdTransform waits for the account's transform lease under owner, makes sure the tables
// exist, and returns a context that is cancelled if the lease is lost.
func (a *Activities) holdTransform(ctx context.Context, owner string) (context.Context, transformHold, error) {
	lease, err := state.HoldLease(ctx, a.Marks, a.Account+"#transform", owner, transformLeaseTTL, 2*time.Second)
	if err != nil {
		return ctx, transformHold{}, fmt.Errorf("wait for the transform lease of %s: %w", a.Account, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-lease.Lost():
			cancel(errors.New("transform lease lost: another worker took it over"))
		case <-ctx.Done():
		}
	}()
	if err := a.Lake.EnsureTables(ctx); err != nil {
		cancel(nil)
		lease.Release()
		return ctx, transformHold{}, classify(err)
	}
	return ctx, transformHold{lease: lease, cancel: cancel}, nil
}

// FollowInput names the workflow a run follows.
type FollowInput struct {
	WorkflowID string `json:"workflow_id"`
}

// FollowRun waits for the workflow with the given ID (its latest run, across continue-as-new)
// to end and returns its result as JSON. A run of a date that is already in flight is
// attached to this way instead of being started twice.
func (a *Activities) FollowRun(ctx context.Context, in FollowInput) (json.RawMessage, error) {
	workflowID := in.WorkflowID
	defer keepAlive(ctx)()
	if a.Temporal == nil {
		return nil, temporal.NewNonRetryableApplicationError("this worker has no Temporal client to follow other runs", ErrTypeMisconfigured, nil)
	}
	var out json.RawMessage
	err := a.Temporal.GetWorkflow(ctx, workflowID, "").Get(ctx, &out)
	var failed *temporal.WorkflowExecutionError
	if errors.As(err, &failed) {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("run %s, attached to, failed: %v", workflowID, err), ErrTypeAttachedRunFailed, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("follow run %s: %w", workflowID, err) // unreachable server: retried
	}
	return out, nil
}
