package workflows_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/wistia"
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
		res, elapsed := runDaily(b, s, id, workflows.DailyRunInput{Date: s.date, Options: workflows.Options{Account: "acct", MaxConcurrency: 50}})
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

// runDaily runs DailyRunWorkflow under id and waits for it, returning its result and how long
// it took.
func runDaily(b *testing.B, s *stack, id string, in workflows.DailyRunInput) (workflows.DailyRunResult, time.Duration) {
	start := time.Now()
	run, err := s.tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: "wistia-test"}, workflows.DailyRunWorkflow, in)
	if err != nil {
		b.Fatal(err)
	}
	var res workflows.DailyRunResult
	if err := run.Get(context.Background(), &res); err != nil {
		b.Fatal(err)
	}
	return res, time.Since(start)
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

// BenchmarkDailyRunRequests runs one catch-up daily run (the first of the account, so its
// window is the day alone) of an account of 10,000 medias, 15% of them watched on a given day,
// about 60,000 events a day, through the dev server and one worker. It reports the run's API
// requests by endpoint against the fewest the data needs: the media list's pages, one by_date
// per media, the event pages of the watched media-days (the simulator's ground truth counts
// them), and one request per visitor, none fetched within a day before. The simulator answers
// as fast as it can, with no rate limit, so the run's time at Wistia's budget is computed from
// its requests: requests / 600 a minute. It also reports the orchestration: ms per media, and
// the parent's and one child's history (events and bytes). BENCH_MEDIAS sets the medias.
// `make bench-requests`; the figures are in docs/performance.md.
func BenchmarkDailyRunRequests(b *testing.B) {
	medias := 10_000
	if v := os.Getenv("BENCH_MEDIAS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_MEDIAS=%q: want a number of medias", v)
		}
		medias = n
	}
	opts := wistiasim.Options{Seed: 25, Medias: medias, Visitors: 6 * medias, MeanEventsPerDay: 6, WatchedShare: 0.15,
		Now: simNow, RateLimit: 1_000_000, RatePeriod: time.Second}
	sim, err := wistiasim.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	s := newStackFor(b, sim, opts)
	s.startWorker(b, "INGEST_FIRST_DAY="+s.date)
	day, err := dates.Parse(s.date)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		before := sim.Stats().ByEndpoint
		id := workflows.DailyRunID("acct", s.date)
		res, elapsed := runDaily(b, s, id, workflows.DailyRunInput{Date: s.date, Mode: activities.ModeCatchUp,
			Options: workflows.Options{Account: "acct", MaxConcurrency: 50}})
		after := sim.Stats().ByEndpoint
		requests := map[string]int64{}
		var total int64
		for _, name := range wistiasim.EndpointNames {
			requests[name] = after[name] - before[name]
			total += requests[name]
		}
		need := fewestRequests(sim.Truth(day.Time(), day.Time()), wistia.MaxPerPage)
		var fewest int64
		for _, n := range need {
			fewest += n
		}
		for _, name := range wistiasim.EndpointNames {
			b.ReportMetric(float64(requests[name]), "req-"+name)
			b.ReportMetric(float64(need[name]), "min-"+name)
		}
		b.ReportMetric(float64(total), "requests")
		b.ReportMetric(float64(fewest), "min-requests")
		b.ReportMetric(float64(total)/float64(fewest), "x-min")
		b.ReportMetric(float64(total)/600, "min-at-600/min")
		b.ReportMetric(float64(res.Progress.Unwatched), "unwatched-days")
		b.ReportMetric(float64(elapsed.Milliseconds())/float64(medias), "ms/media")
		events, size, _ := historySize(b, s, id)
		b.ReportMetric(float64(events), "parent-events")
		b.ReportMetric(float64(size)/1024, "parent-history-KiB")
		// Children differ only in how many days they read events for: one unwatched and one
		// watched media's child bound the others.
		parent := historyActions(b, s, id)
		for _, m := range []string{"unwatched", "watched"} {
			child := workflows.MediaIngestID("acct", s.date, mediaOf(sim.Truth(day.Time(), day.Time()), m == "watched"))
			events, size, _ = historySize(b, s, child)
			b.ReportMetric(float64(events), m+"-child-events")
			b.ReportMetric(float64(size)/1024, m+"-child-history-KiB")
			b.ReportMetric(float64(parent)/float64(medias)+float64(historyActions(b, s, child)), "actions/"+m+"-media")
		}
	}
}

// mediaOf is a media of truth's day with plays when watched, else one without.
func mediaOf(truth wistiasim.Truth, watched bool) string {
	for _, st := range truth.Daily {
		if (st.Plays > 0 || st.Loads > 0) == watched {
			return st.MediaID
		}
	}
	return truth.Daily[0].MediaID
}

// historyActions counts the Temporal Cloud Actions a workflow's history records, as Temporal
// Cloud bills them: its start (and each continue-as-new), each activity scheduled and each
// retry of it, each timer, each search-attribute upsert (version markers' are exempt), each
// signal and side effect, and the local activities of one workflow task as one. Heartbeats
// and queries leave no event: they are not counted.
func historyActions(b *testing.B, s *stack, id string) int {
	ctx := context.Background()
	resp, err := s.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowId = %q", id)})
	if err != nil {
		b.Fatal(err)
	}
	actions := 0
	for _, e := range resp.Executions {
		localTasks := map[int64]bool{}
		iter := s.tc.GetWorkflowHistory(ctx, id, e.Execution.RunId, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				b.Fatal(err)
			}
			switch ev.EventType {
			case enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enums.EVENT_TYPE_TIMER_STARTED,
				enums.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				actions++
			case enums.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				actions += max(0, int(ev.GetActivityTaskStartedEventAttributes().GetAttempt())-1)
			case enums.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
				if _, version := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()["TemporalChangeVersion"]; !version ||
					len(ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()) > 1 {
					actions++
				}
			case enums.EVENT_TYPE_MARKER_RECORDED:
				m := ev.GetMarkerRecordedEventAttributes()
				switch m.GetMarkerName() {
				case "SideEffect":
					actions++
				case "LocalActivity":
					localTasks[m.GetWorkflowTaskCompletedEventId()] = true
				}
			}
		}
		actions += len(localTasks)
	}
	return actions
}

// fewestRequests is the fewest API requests truth's day needs, by endpoint: the media list's
// pages, one by_date per media, the event pages of each media's listed events (by_date counts
// each play once), and one request per visitor.
func fewestRequests(truth wistiasim.Truth, perPage int) map[string]int64 {
	pages := func(n int64) int64 { return (n + int64(perPage) - 1) / int64(perPage) }
	need := map[string]int64{"medias": pages(int64(len(truth.Medias))), "by_date": int64(len(truth.Medias)), "visitors": int64(len(truth.Visitors))}
	for _, st := range truth.Daily {
		need["events"] += pages(st.Plays)
	}
	return need
}
