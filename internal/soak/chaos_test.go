package soak_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// A fault strikes when its moment comes in the day's run.
const (
	atPage           = "mid-page"           // a worker running a media's events crawl
	atContinueAsNew  = "at continue-as-new" // as the run continues as new
	atMerge          = "mid-merge"          // the worker running the day's merge, as it starts
	atCommit         = "mid-commit"         // the same, up to 1.5 s into the merge
	atIngest         = "during ingest"      // while children run
	killFault        = "SIGKILL worker"
	s3Outage         = "versitygw down"
	dynamoOutage     = "dynalite down"
	temporalRestart  = "Temporal restart"
	stormFault       = "429 storm"
	stormLength      = 10 * time.Second
	stormRetryAfter  = 3 * time.Second
	killPause        = 500 * time.Millisecond // least time before the killed worker's replacement starts
	triggerPoll      = 100 * time.Millisecond
	activityIngest   = "IngestDayEvents"
	activityMerge    = "MergeDaysAndCheck"
	mediaIngestQuery = `WorkflowType = "` + workflows.MediaIngestType + `" AND ExecutionStatus = "Running"`
)

type fault struct {
	what, when string
	delay      time.Duration
}

// plan is day k's faults in the order they strike: a kill mid-page, the day's outage, a kill at
// continue-as-new, and a kill in the merge. Days 2 to 5 each have one outage.
func (w *week) plan(k int) []fault {
	plan := []fault{{what: killFault, when: atPage}}
	switch k {
	case 1:
		plan = append(plan, fault{what: s3Outage, when: atIngest})
	case 2:
		plan = append(plan, fault{what: stormFault, when: atIngest})
	case 3:
		plan = append(plan, fault{what: dynamoOutage, when: atIngest})
	case 4:
		plan = append(plan, fault{what: temporalRestart, when: atIngest})
	}
	plan = append(plan, fault{what: killFault, when: atContinueAsNew})
	if w.r.IntN(2) == 0 {
		plan = append(plan, fault{what: killFault, when: atMerge})
	} else {
		plan = append(plan, fault{what: killFault, when: atCommit, delay: time.Duration(w.r.IntN(1500)) * time.Millisecond})
	}
	return plan
}

// strike waits for f's moment in date's run and delivers it. A run that ends first leaves the
// fault undelivered, which the kill count catches.
func (w *week) strike(t *testing.T, date time.Time, f fault, row *dayReport) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dayDeadline)
	defer cancel()
	id := workflows.DailyRunID(account, dates.DateOf(date).String())
	var (
		pid   int
		label = f.when
	)
	firstRun := ""
	err := eventually(ctx, triggerPoll, func(ctx context.Context) (bool, error) {
		w.reviveCrashed(t, row)
		desc, err := w.tc.DescribeWorkflow(ctx, id, "")
		if err != nil {
			return false, nil // not started yet, or the server is restarting
		}
		d := desc.RawResponse
		if d.WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING &&
			d.WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
			return false, errStop
		}
		run := d.WorkflowExecutionInfo.Execution.RunId
		switch f.when {
		case atIngest:
			return len(d.PendingChildren) > 0, nil
		case atContinueAsNew:
			if firstRun == "" {
				firstRun = run
			}
			if run != firstRun {
				return true, nil
			}
			if pid = startedBy(d.PendingActivities, activityMerge); pid != 0 {
				label = "mid-merge (no continue-as-new left)"
				return true, nil
			}
		case atMerge, atCommit:
			pid = startedBy(d.PendingActivities, activityMerge)
			return pid != 0, nil
		case atPage:
			pid = w.crawlingWorker(ctx)
			return pid != 0, nil
		}
		return false, nil
	})
	if errors.Is(err, errStop) || ctx.Err() != nil {
		t.Logf("%s %s: the run of %s ended first", f.what, f.when, dates.DateOf(date).String())
		return
	}
	require.NoError(t, err)
	time.Sleep(f.delay)
	t.Logf("%s %s %s", time.Now().UTC().Format("15:04:05"), f.what, label)
	switch f.what {
	case killFault:
		w.kill(t, pid, label, row)
	case s3Outage:
		row.OutageSecs += w.down(func() { w.s3.Stop() }, func() { w.s3.Start() })
		row.Faults = append(row.Faults, fmt.Sprintf("%s %.0f s", s3Outage, outage.Seconds()))
	case dynamoOutage:
		row.OutageSecs += w.down(func() { w.ddb.Stop() }, func() { w.ddb.Start() })
		row.Faults = append(row.Faults, fmt.Sprintf("%s %.0f s", dynamoOutage, outage.Seconds()))
	case temporalRestart:
		start := time.Now()
		w.restartTemporal(t, true)
		secs := time.Since(start).Seconds()
		row.OutageSecs += secs
		row.Faults = append(row.Faults, fmt.Sprintf("%s (%.0f s)", temporalRestart, secs))
	case stormFault:
		w.sim.SetFaults(withStorm(baseFaults))
		time.Sleep(stormLength)
		w.sim.SetFaults(baseFaults)
		row.OutageSecs += stormLength.Seconds()
		row.Faults = append(row.Faults, fmt.Sprintf("%s %.0f s", stormFault, stormLength.Seconds()))
	}
}

func withStorm(f wistiasim.Faults) wistiasim.Faults {
	f.Storm = stormRetryAfter
	return f
}

// down stops a server for the outage and starts it again on its data, returning the seconds
// it was down.
func (w *week) down(stop, start func()) float64 {
	t0 := time.Now()
	stop()
	time.Sleep(outage)
	start()
	return time.Since(t0).Seconds()
}

// crawlingWorker is the process id of a worker running a media's events crawl, or 0.
func (w *week) crawlingWorker(ctx context.Context) int {
	resp, err := w.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: mediaIngestQuery, PageSize: 100})
	if err != nil {
		return 0
	}
	for _, e := range resp.Executions {
		d, err := w.tc.DescribeWorkflow(ctx, e.Execution.WorkflowId, e.Execution.RunId)
		if err == nil {
			if pid := startedBy(d.RawResponse.PendingActivities, activityIngest); pid != 0 {
				return pid
			}
		}
	}
	return 0
}

// startedBy is the process id of the worker running a started activity of the type, or 0. The
// SDK's worker identity starts with "<pid>@".
func startedBy(pending []*workflowpb.PendingActivityInfo, activityType string) int {
	for _, a := range pending {
		if a.GetActivityType().GetName() != activityType || a.GetState() != enums.PENDING_ACTIVITY_STATE_STARTED {
			continue
		}
		pidText, _, _ := strings.Cut(a.GetLastWorkerIdentity(), "@")
		if pid, err := strconv.Atoi(pidText); err == nil {
			return pid
		}
	}
	return 0
}

// kill SIGKILLs the worker with the process id (a random one when it is not ours, or 0), and
// starts a replacement a moment later, as an orchestrator would.
func (w *week) kill(t *testing.T, pid int, label string, row *dayReport) {
	t.Helper()
	i := slices.IndexFunc(w.workers, func(s *testenv.Server) bool { return s.PID() == pid })
	if i < 0 {
		i = w.r.IntN(len(w.workers))
	}
	w.workers[i].Stop()
	w.workers = slices.Delete(w.workers, i, i+1)
	row.Kills = append(row.Kills, label)
	time.Sleep(killPause + time.Duration(w.r.IntN(2000))*time.Millisecond)
	w.reviveCrashed(t, row)
	w.startWorker(t)
}

// reviveCrashed starts again, on its data, a storage emulator that exited on its own (seen
// once in CI: dynalite gone between two days, with nothing planned). Production's services do
// not crash this way, and the pipeline rides out their outages (the planned ones prove it), so
// the week goes on; the day's row and the log say what happened and what the emulator printed.
func (w *week) reviveCrashed(t *testing.T, row *dayReport) {
	t.Helper()
	for _, s := range []*testenv.Server{w.s3.Server, w.ddb.Server, w.sns.Server} {
		crashes := s.Crashes()
		for _, c := range crashes {
			t.Logf("unplanned: %s", c)
		}
		if len(crashes) > 0 {
			row.Faults = append(row.Faults, fmt.Sprintf("unplanned: %s exited on its own, restarted", filepath.Base(s.Name())))
			s.Start()
		}
	}
}
