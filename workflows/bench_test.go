package workflows_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// BenchmarkDailyRunOrchestration runs a day of 1,000 and of 5,000 medias without events
// through the dev server and one worker, and reports the time per media and the parent's
// history size: the cost of the orchestration itself (the goal: at most 50 ms per media;
// figures in docs/performance.md).
func BenchmarkDailyRunOrchestration(b *testing.B) {
	for _, medias := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("medias=%d", medias), func(b *testing.B) { benchmarkDailyRun(b, medias) })
	}
}

func benchmarkDailyRun(b *testing.B, medias int) {
	opts := wistiasim.Options{Seed: 5, Medias: medias, Visitors: 1, MeanEventsPerDay: 1e-9, Now: simNow, RateLimit: 100_000, RatePeriod: time.Second}
	sim, err := wistiasim.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	s := newStackFor(b, sim, opts)
	s.startWorker(b, "INGEST_FIRST_DAY="+s.date)
	for b.Loop() {
		// The date's own ID: a run started under another one follows it as a child, and the
		// history measured would be that wrapper's.
		id := workflows.DailyRunID("acct", s.date)
		start := time.Now()
		run, err := s.tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: "wistia-test"}, workflows.DailyRunWorkflow,
			workflows.DailyRunInput{Date: s.date, Options: workflows.Options{Account: "acct", MaxConcurrency: 50}})
		if err != nil {
			b.Fatal(err)
		}
		var res workflows.DailyRunResult
		if err := run.Get(context.Background(), &res); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		if res.Progress.MediasDone != medias {
			b.Fatalf("%d medias done", res.Progress.MediasDone)
		}
		events, bytes, runs := historySize(b, s, id)
		b.ReportMetric(elapsed.Seconds(), "s/day")
		b.ReportMetric(float64(elapsed.Milliseconds())/float64(medias), "ms/media")
		b.ReportMetric(float64(events), "parent-events")
		b.ReportMetric(float64(bytes)/1024, "parent-history-KiB")
		b.ReportMetric(float64(runs), "parent-runs")
	}
}

// historySize sums the history of every run of a workflow (continue-as-new makes several),
// finding the runs through visibility.
func historySize(b *testing.B, s *stack, id string) (events, size, runs int) {
	ctx := context.Background()
	var runIDs []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowId = %q", id)})
		if err != nil {
			b.Fatal(err)
		}
		runIDs = runIDs[:0]
		closed := 0
		for _, e := range resp.Executions {
			runIDs = append(runIDs, e.Execution.RunId)
			if e.Status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
				closed++
			}
		}
		if closed == len(runIDs) && closed > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // visibility is eventually consistent
	}
	for _, runID := range runIDs {
		iter := s.tc.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			e, err := iter.Next()
			if err != nil {
				b.Fatal(err)
			}
			events++
			size += e.Size()
		}
	}
	return events, size, len(runIDs)
}
