// Package operate is what operators do through Temporal: manage the daily schedule, start a
// run, backfill or transform (or attach to the one in flight), and follow its progress. The
// starter CLI and the demo both go through it.
package operate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// Pipeline is one account's pipeline in a Temporal namespace.
type Pipeline struct {
	Client     client.Client
	TaskQueue  string
	ScheduleID string            // the daily schedule; empty: workflows.ScheduleID
	Options    workflows.Options // every run's tunables, Account included
}

func (p Pipeline) scheduleID() string { return cmp.Or(p.ScheduleID, workflows.ScheduleID) }

// Started is a workflow the pipeline started, or attached to when it was already in flight.
type Started struct {
	Run      client.WorkflowRun
	Attached bool
}

// Verb says which: "started" or "attached to".
func (s Started) Verb() string {
	if s.Attached {
		return "attached to"
	}
	return "started"
}

// Run starts the run of a date, reading date minus the lookback to date (explicit mode).
func (p Pipeline) Run(ctx context.Context, date string) (Started, error) {
	return p.startOrAttach(ctx, workflows.DailyRunID(p.Options.Account, date), workflows.DailyRunWorkflow,
		workflows.DailyRunInput{Date: date, Mode: activities.ModeExplicit, Options: p.Options})
}

// Backfill starts the backfill of from..to, parallelism days at once.
func (p Pipeline) Backfill(ctx context.Context, from, to string, parallelism int) (Started, error) {
	return p.startOrAttach(ctx, workflows.BackfillID(p.Options.Account, from, to), workflows.BackfillWorkflow,
		workflows.BackfillInput{From: from, To: to, Parallelism: parallelism, Options: p.Options})
}

// Transform starts the merge of the bronze of from..to into silver and gold again.
func (p Pipeline) Transform(ctx context.Context, from, to string) (Started, error) {
	return p.startOrAttach(ctx, workflows.TransformID(p.Options.Account, from, to), workflows.TransformWorkflow,
		workflows.TransformInput{From: from, To: to, Options: p.Options})
}

// startOrAttach starts the workflow, or, when one with its ID is in flight, attaches to it:
// a second start of the same date or range never runs the work twice.
func (p Pipeline) startOrAttach(ctx context.Context, id string, wf, input any) (Started, error) {
	d, err := p.Client.DescribeWorkflow(ctx, id, "")
	inFlight := err == nil && d.Status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING
	run, err := p.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: p.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}, wf, input)
	if err != nil {
		return Started{}, err
	}
	return Started{Run: run, Attached: inFlight && d.WorkflowExecution.RunID == run.GetRunID()}, nil
}

// ErrScheduleExists is CreateSchedule finding the schedule already there.
var ErrScheduleExists = errors.New("the schedule already exists; use 'starter schedule update'")

// schedule is the daily schedule's spec and action for cron, in the account's stats zone:
// Temporal keeps the fire at the same local time across daylight-saving changes.
func (p Pipeline) schedule(cron string) (client.ScheduleSpec, *client.ScheduleWorkflowAction) {
	return client.ScheduleSpec{CronExpressions: []string{cron}, TimeZoneName: p.zone().String()},
		&client.ScheduleWorkflowAction{ID: workflows.ScheduledRunID(p.Options.Account), Workflow: workflows.DailyRunType,
			TaskQueue: p.TaskQueue, Args: []any{workflows.DailyRunInput{Options: p.Options}}}
}

func (p Pipeline) zone() dates.Zone {
	z, _ := dates.LoadZone(p.Options.StatsZone) // the config loader has checked it
	return z
}

// CreateSchedule creates the wistia-daily schedule firing at cron in the account's stats zone.
func (p Pipeline) CreateSchedule(ctx context.Context, cron string) error {
	spec, action := p.schedule(cron)
	_, err := p.Client.ScheduleClient().Create(ctx, client.ScheduleOptions{ID: p.scheduleID(), Spec: spec, Action: action,
		// A backfill's days run one after another, none dropped; a missed fire catches up.
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL, CatchupWindow: 24 * time.Hour,
		Note: "Wistia daily ingest: each action ingests the day before its scheduled time, in the schedule's time zone (the account's stats zone)."})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("schedule %s: %w", p.scheduleID(), ErrScheduleExists)
	}
	return err
}

// UpdateSchedule sets the schedule's cron and its action's options to the pipeline's.
func (p Pipeline) UpdateSchedule(ctx context.Context, cron string) error {
	spec, action := p.schedule(cron)
	return p.Client.ScheduleClient().GetHandle(ctx, p.scheduleID()).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			s.Spec = &spec
			s.Action = action
			return &client.ScheduleUpdate{Schedule: &s}, nil
		}})
}

// EnsureSchedule creates the schedule, or updates it when it exists.
func (p Pipeline) EnsureSchedule(ctx context.Context, cron string) error {
	err := p.CreateSchedule(ctx, cron)
	if errors.Is(err, ErrScheduleExists) {
		return p.UpdateSchedule(ctx, cron)
	}
	return err
}

// ScheduleState is what DescribeSchedule reports.
type ScheduleState struct {
	ID       string            `json:"id"`
	Paused   bool              `json:"paused"`
	Actions  int64             `json:"actions_taken"`
	Fires    []string          `json:"fires"` // "hour 2 minute 0 (UTC)"
	Next     []ScheduledAction `json:"next"`
	Recent   []ScheduledAction `json:"recent"`
	TimeZone string            `json:"time_zone"`
}

// ScheduledAction is one fire of the schedule: when, the date it ingests, and the workflow.
type ScheduledAction struct {
	At         time.Time `json:"at"`
	Date       string    `json:"date"`
	WorkflowID string    `json:"workflow_id,omitempty"`
}

// DescribeSchedule reads the state of schedule id.
func DescribeSchedule(ctx context.Context, tc client.Client, id string) (ScheduleState, error) {
	d, err := tc.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		return ScheduleState{}, err
	}
	st := ScheduleState{ID: id, Paused: d.Schedule.State.Paused, Actions: int64(d.Info.NumActions),
		TimeZone: d.Schedule.Spec.TimeZoneName}
	zone, err := dates.LoadZone(st.TimeZone)
	if err != nil {
		return st, fmt.Errorf("schedule %s: %w", id, err)
	}
	st.TimeZone = zone.String()
	for _, c := range d.Schedule.Spec.Calendars {
		st.Fires = append(st.Fires, fmt.Sprintf("hour %v minute %v (%s)", ranges(c.Hour), ranges(c.Minute), st.TimeZone))
	}
	for _, t := range d.Info.NextActionTimes {
		st.Next = append(st.Next, ScheduledAction{At: t.UTC(), Date: ingests(zone, t)})
	}
	for _, r := range d.Info.RecentActions {
		st.Recent = append(st.Recent, ScheduledAction{At: r.ScheduleTime.UTC(), Date: ingests(zone, r.ScheduleTime), WorkflowID: r.StartWorkflowResult.WorkflowID})
	}
	return st, nil
}

// ingests is the date a fire at t ingests: the day before, in the schedule's zone.
func ingests(zone dates.Zone, t time.Time) string { return zone.LastEnded(t).String() }

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

// PauseSchedule pauses schedule id, or unpauses it.
func PauseSchedule(ctx context.Context, tc client.Client, id string, pause bool) error {
	h := tc.ScheduleClient().GetHandle(ctx, id)
	if pause {
		return h.Pause(ctx, client.SchedulePauseOptions{Note: "paused with starter"})
	}
	return h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "unpaused with starter"})
}

// DeleteSchedule deletes schedule id; runs it started are left alone.
func DeleteSchedule(ctx context.Context, tc client.Client, id string) error {
	return tc.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
}
