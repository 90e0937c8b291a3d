package workflows_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/deploy/observability"
	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// simNow is the simulator's clock in the stacks of newStack: five days before the real one,
// so that every date these tests name has ended and is within the API's retention on any day
// they run. Their data changes with that day: expectations come from the ground truth.
var simNow = dates.DateOf(time.Now()).AddDays(-5).Time().Add(9*time.Hour + 30*time.Minute)

// stack is a dev server, a simulator and the environment a worker process needs, sharing one
// data folder with the test.
type stack struct {
	tp     *testenv.Temporal
	sim    *wistiasim.Sim
	env    []string
	dir    string
	worker string // the worker binary
	// starterBin is the operator CLI's binary, built on first use.
	starterBin string
	tc         client.Client
	date       string
}

// newStack starts a dev server and a simulator at simNow. Tests on a stack of their own run
// in parallel (t.Parallel) unless they measure time: the heartbeat, rate-limit, kill and
// merge-spread tests run alone, since a busy machine would change what they measure.
func newStack(t testing.TB, opts wistiasim.Options) *stack {
	t.Helper()
	return newStackAt(t, opts, simNow)
}

// newStackAt is newStack with the simulator's clock at now.
func newStackAt(t testing.TB, opts wistiasim.Options, now time.Time) *stack {
	t.Helper()
	opts.Now = now
	if opts.RateLimit == 0 {
		opts.RateLimit, opts.RatePeriod = 100, time.Second
	}
	sim, err := wistiasim.New(opts)
	require.NoError(t, err)
	return newStackFor(t, sim, opts)
}

func newStackFor(t testing.TB, sim *wistiasim.Sim, opts wistiasim.Options) *stack {
	t.Helper()
	var err error
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	now := sim.Now()
	s := &stack{tp: testenv.StartTemporal(t), sim: sim, dir: t.TempDir(), worker: testenv.Build(t, "./worker"),
		date: dates.DateOf(now).AddDays(-1).String()}
	s.env = []string{
		"TEMPORAL_ADDRESS=" + s.tp.Address, "TEMPORAL_TASK_QUEUE=wistia-test",
		"WISTIA_BASE_URL=" + srv.URL + wistiasim.BasePath, "WISTIA_API_TOKEN=" + sim.Token(),
		fmt.Sprintf("WISTIA_RATE_LIMIT=%d", opts.RateLimit), "WISTIA_RATE_PERIOD=" + opts.RatePeriod.String(), "WISTIA_BACKOFF_BASE=20ms", "WISTIA_BACKOFF_MAX=200ms", "WISTIA_MAX_ATTEMPTS=10",
		"DATA_DIR=" + s.dir, "WISTIA_ACCOUNT=acct", "INGEST_FIRST_DAY=" + dates.DateOf(now).AddDays(-3).String(),
		"MAX_CONCURRENCY=4", "LOG_LEVEL=warn", "TEMPORAL_UI_URL=" + s.tp.UI,
	}
	s.tc, err = client.Dial(client.Options{HostPort: s.tp.Address})
	require.NoError(t, err)
	t.Cleanup(s.tc.Close)
	return s
}

// startWorker runs a worker process; it is ready once its metrics endpoint listens.
func (s *stack) startWorker(t testing.TB, extra ...string) *testenv.Server {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	env := append(slices.Clone(s.env), "METRICS_ADDR="+addr)
	return testenv.StartProcess(t, addr, append(env, extra...), s.worker)
}

// run starts the day's DailyRunWorkflow and waits for it.
func (s *stack) run(t *testing.T, id string, during func(client.WorkflowRun)) workflows.DailyRunResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "wistia-test"}, workflows.DailyRunWorkflow,
		workflows.DailyRunInput{Date: s.date, Options: workflows.Options{Account: "acct", MaxConcurrency: 4, HeartbeatTimeout: 5 * time.Second}})
	require.NoError(t, err)
	if during != nil {
		during(run)
	}
	var res workflows.DailyRunResult
	require.NoError(t, run.Get(ctx, &res))
	return res
}

// lakehouse opens the stack's lakehouse as an operator would.
func (s *stack) lakehouse(t *testing.T) *lake.Lakehouse {
	t.Helper()
	cfg := lake.Config{DataDir: s.dir, LakehouseConfig: lake.LakehouseConfig{Catalog: "sql", SilverNamespace: "wistia_silver", GoldNamespace: "wistia_gold", SnapshotRetention: 7}}
	lh, err := cfg.OpenLakehouse(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { lh.Close() })
	return lh
}

func (s *stack) truth() wistiasim.Truth {
	last := dates.DateOf(s.sim.Now()).AddDays(-1)
	return s.sim.Truth(last.AddDays(-2).Time(), last.Time())
}

// tables reads every table whole, rows sorted, for comparing two states.
func tables(t *testing.T, lh *lake.Lakehouse) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, name := range lake.TableNames() {
		res, err := lh.Read(context.Background(), name, 0, 0, 0)
		require.NoError(t, err)
		rows := make([]string, len(res.Rows))
		for i, r := range res.Rows {
			rows[i] = fmt.Sprint(r...)
		}
		slices.Sort(rows)
		out[name] = rows
	}
	return out
}

var faultySim = wistiasim.Options{Seed: 7, Medias: 8, Visitors: 120, MeanEventsPerDay: 15, LateShare: 0.1,
	QuirkShare: 0.1, CorruptShare: 0.02, DuplicateShare: 0.05, Plant: []wistiasim.Planted{wistiasim.PlantCorrupt, wistiasim.PlantDuplicate}}

func TestDailyRunOnDevServer(t *testing.T) {
	t.Parallel()
	s := newStack(t, faultySim)
	// Mid-crawl inserts are left out: they change the API's answers (by_date counts included)
	// while the run reads them, so no fixed ground truth exists. wistia's end-to-end test covers them.
	s.sim.SetFaults(wistiasim.Faults{ErrorRate: 0.05, ResetRate: 0.02, TruncateRate: 0.02})
	w := s.startWorker(t)

	res := s.run(t, "daily-run/acct/"+s.date, nil)
	metrics := scrape(t, "http://"+w.Addr+"/metrics")
	for _, m := range []string{`wistia_records_total{stream="events"}`, "wistia_retries_total", "wistia_merge_duration_seconds_count",
		`wistia_quarantined_total{stream="events"}`, "temporal_workflow_completed_total{", `wistia_last_success_timestamp_seconds{stream="merge"}`} {
		assert.Contains(t, metrics, m, "the worker exposes %s", m)
	}
	// Every metric the alert rules and the Grafana dashboard query is one the worker exports.
	names, err := observability.MetricNames()
	require.NoError(t, err)
	for _, n := range names {
		if n != "up" {
			assert.Regexp(t, `(?m)^`+n+`(_bucket|_sum|_count)?[{ ]`, metrics, "deploy/observability queries %s", n)
		}
	}
	assert.NotContains(t, metrics, s.sim.Token(), "no secret in metrics")
	assert.Equal(t, workflows.PhaseDone, res.Progress.Phase)
	assert.Equal(t, 8, res.Progress.MediasDone)
	assert.Len(t, res.Days, 3)
	lh := s.lakehouse(t)
	truthcheck.AssertLakehouse(t, lh, s.truth())
	recordHistories(t, s, map[string]string{"daily_run_v5.json": workflows.DailyRunID("acct", s.date),
		"media_ingest_v5.json": workflows.MediaIngestID("acct", s.date, s.sim.MediaIDs()[0])})

	// The same day again: every table keeps exactly its rows.
	before := tables(t, lh)
	s.run(t, "daily-run/acct/"+s.date+"/again", nil)
	assert.Equal(t, before, tables(t, lh))
}

func TestWorkerKilledMidRun(t *testing.T) {
	s := newStack(t, faultySim)
	s.sim.SetFaults(wistiasim.Faults{Latency: 30 * time.Millisecond})
	first := s.startWorker(t)
	res := s.run(t, "daily-run/acct/"+s.date, func(run client.WorkflowRun) {
		// Kill the worker once some medias are done, then start another.
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			v, err := s.tc.QueryWorkflow(context.Background(), run.GetID(), "", workflows.ProgressQuery)
			var p workflows.Progress
			if err == nil && v.Get(&p) == nil && p.MediasDone >= 2 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		first.Stop() // SIGKILL
		s.startWorker(t)
	})
	assert.Equal(t, workflows.PhaseDone, res.Progress.Phase)
	truthcheck.AssertLakehouse(t, s.lakehouse(t), s.truth())
}

// recordHistories exports the histories of the given workflows (file name → workflow ID) into
// testdata when RECORD_HISTORIES is set (see workflows/testdata/record.sh), and lists them in
// testdata/histories.json; the replay test replays them.
func recordHistories(t *testing.T, s *stack, histories map[string]string) {
	t.Helper()
	dir := os.Getenv("RECORD_HISTORIES")
	if dir == "" {
		return
	}
	index := filepath.Join(dir, "histories.json")
	b, err := os.ReadFile(index)
	require.NoError(t, err)
	var list []map[string]string
	require.NoError(t, json.Unmarshal(b, &list))
	for _, name := range slices.Sorted(maps.Keys(histories)) {
		id := histories[name]
		out, err := execCLI(s, "workflow", "show", "--workflow-id", id, "--output", "json")
		require.NoError(t, err, string(out))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), out, 0o644))
		list = slices.DeleteFunc(list, func(e map[string]string) bool { return e["file"] == name })
		list = append(list, map[string]string{"file": name, "workflow_id": id})
	}
	b, err = json.MarshalIndent(list, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(index, append(b, '\n'), 0o644))
}

func execCLI(s *stack, args ...string) ([]byte, error) {
	cmd := testenvCommand(s.tp.CLI, append(args, "--address", s.tp.Address)...)
	return cmd.CombinedOutput()
}

// starter runs the operator CLI, built from ./starter, with the stack's environment.
func (s *stack) starter(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	if s.starterBin == "" {
		s.starterBin = testenv.Build(t, "./starter")
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(s.starterBin, args...)
	cmd.Env = append(os.Environ(), s.env...) // the last setting of a variable wins
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("starter %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func TestScheduleBackfillIngestsExactlyThoseDays(t *testing.T) {
	t.Parallel()
	s := newStack(t, wistiasim.Options{Seed: 3, Medias: 3, Visitors: 30, MeanEventsPerDay: 4, Plant: []wistiasim.Planted{wistiasim.PlantDuplicate}})
	s.env = append(s.env, "INGEST_FIRST_DAY="+s.day(-4)) // the last setting wins
	s.startWorker(t)
	code, out, errOut := s.starter(t, "schedule", "create")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "schedule wistia-daily created")
	code, out, _ = s.starter(t, "schedule", "describe")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "fires: hour 3 minute 0 (UTC)")

	// Three scheduled times: 03:00 UTC of D-3, D-2 and D-1 ingest D-4 to D-2.
	b, err := execCLI(s, "schedule", "backfill", "--schedule-id", "wistia-daily",
		"--start-time", s.day(-3)+"T00:00:00Z", "--end-time", s.day(-1)+"T23:59:59Z", "--overlap-policy", "BufferAll")
	require.NoError(t, err, string(b))

	var got []string
	require.Eventually(t, func() bool {
		resp, err := s.tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf(`WorkflowType = %q AND ExecutionStatus = "Completed"`, workflows.DailyRunType)})
		if err != nil {
			return false
		}
		got = got[:0]
		for _, e := range resp.Executions {
			// The schedule's own executions hand each date to its run (DailyRunID), which
			// carries the date; they carry none.
			if p, ok := e.SearchAttributes.GetIndexedFields()["WistiaDate"]; ok {
				var date string
				require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &date))
				assert.Equal(t, workflows.DailyRunID("acct", date), e.Execution.WorkflowId)
				got = append(got, date)
			}
		}
		return len(got) == 3
	}, 3*time.Minute, time.Second)
	slices.Sort(got)
	assert.Equal(t, []string{s.day(-4), s.day(-3), s.day(-2)}, got)

	code, out, errOut = s.starter(t, "status", "--date", s.day(-3), "--format", "json")
	require.Equal(t, 0, code, errOut)
	var status struct {
		Status   string             `json:"status"`
		Progress workflows.Progress `json:"progress"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &status), "status --format json prints JSON only: %s", out)
	assert.Equal(t, "completed", status.Status)
	assert.Equal(t, workflows.PhaseDone, status.Progress.Phase)
	assert.Equal(t, s.day(-3), status.Progress.Date)
	assert.Equal(t, "UTC", status.Progress.Zone, "the account's stats zone, whose day the date is")
	code, out, errOut = s.starter(t, "status", "--date", s.day(-3))
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `final\s+`+regexp.QuoteMeta(s.day(-3)+" (UTC)"), out, "status names the local day the run made final")
	assert.Regexp(t, `zone_check\s+ok`, out)
	code, out, errOut = s.starter(t, "query", "gold.fact_media_daily", "--from", s.day(-4), "--to", s.day(-2), "--format", "csv")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Equal(t, "media_id,date,load_count,play_count,play_rate,hours_watched", lines[0])
	assert.Len(t, lines[1:], 3*3, "one row per media and day")

	// The deploy gate: recent executions replay on this build, and a change that is not behind
	// GetVersion is caught.
	code, out, errOut = s.starter(t, "replay", "--last", "5")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "DailyRunWorkflow     5 replayed")
	assert.Contains(t, out, "MediaIngestWorkflow  5 replayed")
	changed := func(ctx workflow.Context, in workflows.MediaIngestInput) (workflows.MediaIngestResult, error) {
		_ = workflow.Sleep(ctx, time.Second) // someone adds a pause in front, without GetVersion
		return workflows.MediaIngestWorkflow(ctx, in)
	}
	var report bytes.Buffer
	err = operate.ReplayRecent(context.Background(), s.tc, "default", 2, func(r worker.WorkflowReplayer) {
		workflows.Register(r)
		r.RegisterWorkflowWithOptions(changed, workflow.RegisterOptions{Name: workflows.MediaIngestType, DisableAlreadyRegisteredCheck: true})
	}, &report)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 executions do not replay on this build")
	assert.Contains(t, err.Error(), "TMPRL1100")

	code, _, _ = s.starter(t, "schedule", "pause")
	assert.Equal(t, 0, code)
	code, _, _ = s.starter(t, "schedule", "delete")
	assert.Equal(t, 0, code)
}

func TestStarterRejectsBadInput(t *testing.T) {
	t.Parallel()
	s := &stack{env: []string{"WISTIA_API_TOKEN=x", "DATA_DIR=" + t.TempDir(), "TEMPORAL_ADDRESS=127.0.0.1:1"}}
	// Days the API serves on any day the test runs: the date checks come before the others.
	served := dates.DateOf(time.Now()).AddDays(-3).String()
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"run", "--date", "2026-13-01"}, 2, `--date "2026-13-01": want YYYY-MM-DD`},
		{[]string{"backfill", "--from", served}, 2, "backfill needs --from and --to"},
		{[]string{"query", "gold.nope"}, 2, `unknown table "gold.nope"`},
		{[]string{"launch"}, 2, `unknown command "launch"`},
		{[]string{"run", "--date", served}, 1, "cannot reach Temporal at 127.0.0.1:1"},
		{[]string{"run", "--date", dates.DateOf(time.Now()).String()}, 2, "has not ended yet: pick a day from"},
		{[]string{"backfill", "--from", "2020-01-01", "--to", "2020-01-02"}, 2, "date 2020-01-01 is past the API's 2-year retention"},
		{[]string{"transform", "--from", served}, 2, "transform needs --from and --to"},
	} {
		code, _, errOut := s.starter(t, c.args...)
		assert.Equal(t, c.code, code, "%v: %s", c.args, errOut)
		assert.Contains(t, errOut, c.msg, c.args)
	}
}

func TestThreeWorkersShareTheRateLimit(t *testing.T) {
	// Each worker alone may send 30 requests a second, as many as the simulator allows: three
	// without a shared budget go over it (the control), three sharing it never do.
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			s := newStack(t, wistiasim.Options{Seed: 11, Medias: 9, Visitors: 150, MeanEventsPerDay: 10, RateLimit: 30, RatePeriod: time.Second})
			for range 3 {
				s.startWorker(t, fmt.Sprintf("WISTIA_SHARED_BUDGET=%v", shared))
			}
			s.run(t, "daily-run/acct/"+s.date, nil)
			stats := s.sim.Stats()
			t.Logf("%d requests, %d over the limit", stats.Requests, stats.OverLimit)
			require.Greater(t, stats.Requests, int64(100))
			if shared {
				assert.Zero(t, stats.OverLimit, "requests over the simulator's limit")
				truthcheck.AssertLakehouse(t, s.lakehouse(t), s.truth())
			} else {
				assert.Positive(t, stats.OverLimit, "the control: unshared workers go over the limit")
			}
		})
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestBackfillMergeSpreadsOverThreeWorkers(t *testing.T) {
	s := newStack(t, wistiasim.Options{Seed: 5, Medias: 3, Visitors: 40, MeanEventsPerDay: 6, LateShare: 0.1, DuplicateShare: 0.05})
	// One merge at a time per worker: merges queued together must go to different workers.
	s.env = append(s.env, "WORKER_MERGE_CONCURRENCY=1", "MERGE_SPREAD=3")
	for range 3 {
		s.startWorker(t)
	}
	from, to := s.day(-5), s.date
	code, out, errOut := s.starter(t, "backfill", "--from", from, "--to", to, "--wait")
	require.Equal(t, 0, code, errOut)
	t.Log(out)

	// Every day of the range is merged into silver exactly once, by one MergeSilver of the
	// backfill: its days' runs leave the merge to it.
	lh := s.lakehouse(t)
	commits, err := lh.Commits(context.Background(), "silver.events")
	require.NoError(t, err)
	merged := map[string]int{}
	for _, c := range commits {
		for _, d := range c.Days {
			merged[d]++
		}
		if len(c.Days) > 0 {
			assert.True(t, strings.HasPrefix(c.RunID, "backfill-"), "commit %d by %s", c.SnapshotID, c.RunID)
			assert.Len(t, c.Days, 1, "a spread merge commits one day at a time")
		}
	}
	var want []string
	for _, d := range dates.Range(dayOf(t, from), dayOf(t, to)) {
		want = append(want, d.String())
		assert.Equal(t, 1, merged[d.String()], "silver.events merges of %s", d)
	}
	assert.ElementsMatch(t, want, slices.Collect(maps.Keys(merged)))

	f, l := dayOf(t, from), dayOf(t, to)
	truthcheck.AssertLakehouse(t, lh, s.sim.Truth(f.Time(), l.Time()))

	// The day merges ran on more than one worker.
	workers := map[string]bool{}
	id := workflows.BackfillID("acct", from, to)
	types := map[int64]string{}
	iter := s.tc.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		if sch := e.GetActivityTaskScheduledEventAttributes(); sch != nil {
			name := sch.ActivityType.GetName()
			types[e.EventId] = name
			if name == "MergeSilver" || name == "RecomputeGoldAndCheck" {
				assert.Equal(t, "wistia-test-merge", sch.TaskQueue.GetName(), "%s's task queue", name)
			}
		}
		if st := e.GetActivityTaskStartedEventAttributes(); st != nil && types[st.ScheduledEventId] == "MergeSilver" {
			workers[st.Identity] = true
		}
	}
	t.Logf("day merges ran on %d workers", len(workers))
	assert.GreaterOrEqual(t, len(workers), 2, "day merges spread over the workers")
	recordHistories(t, s, map[string]string{"backfill_v6.json": id})
}

// A run that fails alerts once, through SNS: the queue subscribed to the topic (goaws, an
// SNS and SQS emulator) receives the date, the step that failed and the run's Web UI link.
func TestFailedRunAlertsThroughSNS(t *testing.T) {
	t.Parallel()
	s := newStack(t, wistiasim.Options{Seed: 4, Medias: 2, Visitors: 10, MeanEventsPerDay: 3})
	topic := testenv.StartSNS(t)
	s.env = append(s.env, "WISTIA_API_TOKEN=not-the-token", // every request is refused: 401
		"ALERT_SNS_TOPIC_ARN="+topic.TopicARN, "ALERT_SNS_ENDPOINT="+topic.Endpoint,
		"AWS_REGION="+topic.Region, "AWS_ACCESS_KEY_ID=goaws", "AWS_SECRET_ACCESS_KEY=goaws-not-a-secret")
	s.startWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := workflows.DailyRunID("acct", s.date)
	run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "wistia-test"}, workflows.DailyRunWorkflow,
		workflows.DailyRunInput{Date: s.date, Options: workflows.Options{Account: "acct", MaxConcurrency: 2}})
	require.NoError(t, err)
	require.ErrorContains(t, run.Get(ctx, nil), "401")

	var bodies []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got := topic.Receive(t)
		bodies = append(bodies, got...)
		if len(bodies) > 0 && len(got) == 0 {
			break // the alert arrived, and nothing after it
		}
	}
	require.Len(t, bodies, 1, "one failed run, one alert")
	for _, want := range []string{s.date, `"listing medias"`, "401",
		s.tp.UI + "/namespaces/default/workflows/" + strings.ReplaceAll(id, "/", "%2F") + "/" + run.GetRunID() + "/history"} {
		assert.Contains(t, bodies[0], want)
	}
	assert.NotContains(t, bodies[0], "not-the-token", "no secret in an alert")
}
