package workflows_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

var simNow = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

// stack is a dev server, a simulator and the environment a worker process needs, sharing one
// data folder with the test.
type stack struct {
	tp     *testenv.Temporal
	sim    *wistiasim.Sim
	env    []string
	dir    string
	worker string // the worker binary
	tc     client.Client
	date   string
}

func newStack(t *testing.T, opts wistiasim.Options) *stack {
	t.Helper()
	opts.Now = simNow
	opts.RateLimit, opts.RatePeriod = 100, time.Second
	sim, err := wistiasim.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	s := &stack{tp: testenv.StartTemporal(t), sim: sim, dir: t.TempDir(), worker: testenv.Build(t, "./worker"),
		date: dates.Format(dates.AddDays(dates.Day(simNow), -1))}
	s.env = []string{
		"TEMPORAL_ADDRESS=" + s.tp.Address, "TEMPORAL_TASK_QUEUE=wistia-test",
		"WISTIA_BASE_URL=" + srv.URL + wistiasim.BasePath, "WISTIA_API_TOKEN=" + sim.Token(),
		"WISTIA_RATE_LIMIT=100", "WISTIA_RATE_PERIOD=1s", "WISTIA_BACKOFF_BASE=20ms", "WISTIA_BACKOFF_MAX=200ms", "WISTIA_MAX_ATTEMPTS=10",
		"DATA_DIR=" + s.dir, "WISTIA_ACCOUNT=acct", "INGEST_FIRST_DAY=" + dates.Format(dates.AddDays(dates.Day(simNow), -3)),
		"MAX_CONCURRENCY=4", "LOG_LEVEL=warn", "TEMPORAL_UI_URL=" + s.tp.UI,
	}
	s.tc, err = client.Dial(client.Options{HostPort: s.tp.Address})
	require.NoError(t, err)
	t.Cleanup(s.tc.Close)
	return s
}

// startWorker runs a worker process; it is ready once its metrics endpoint listens.
func (s *stack) startWorker(t *testing.T, extra ...string) *testenv.Server {
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
	last := dates.AddDays(dates.Day(simNow), -1)
	return s.sim.Truth(dates.AddDays(last, -2), last)
}

// tables reads every table whole, rows sorted, for comparing two states.
func tables(t *testing.T, lh *lake.Lakehouse) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, name := range lake.TableNames() {
		res, err := lh.Read(context.Background(), name, time.Time{}, time.Time{})
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
	QuirkShare: 0.1, CorruptShare: 0.02, DuplicateShare: 0.05}

func TestDailyRunOnDevServer(t *testing.T) {
	s := newStack(t, faultySim)
	s.sim.SetFaults(wistiasim.Faults{ErrorRate: 0.05, ResetRate: 0.02, TruncateRate: 0.02, InsertRate: 0.03})
	s.startWorker(t)

	res := s.run(t, "daily-run/acct/"+s.date, nil)
	assert.Equal(t, workflows.PhaseDone, res.Progress.Phase)
	assert.Equal(t, 8, res.Progress.MediasDone)
	assert.Len(t, res.Days, 3)
	lh := s.lakehouse(t)
	truthcheck.AssertLakehouse(t, lh, s.truth())
	recordHistories(t, s, "daily-run/acct/"+s.date)

	// The same day again, on the same API data (no more mid-crawl inserts, which add events):
	// every table keeps exactly its rows.
	s.sim.SetFaults(wistiasim.Faults{ErrorRate: 0.05, ResetRate: 0.02, TruncateRate: 0.02})
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

// recordHistories exports the run's parent and first child histories into testdata when
// RECORD_HISTORIES is set (see workflows/testdata/record.sh); the replay test replays them.
func recordHistories(t *testing.T, s *stack, parentID string) {
	dir := os.Getenv("RECORD_HISTORIES")
	if dir == "" {
		return
	}
	ids := []string{parentID, workflows.MediaIngestID("acct", s.date, s.sim.MediaIDs()[0])}
	for i, id := range ids {
		out, err := execCLI(s, "workflow", "show", "--workflow-id", id, "--output", "json")
		require.NoError(t, err, string(out))
		name := []string{"daily_run.json", "media_ingest.json"}[i]
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), out, 0o644))
	}
}

func execCLI(s *stack, args ...string) ([]byte, error) {
	cmd := testenvCommand(s.tp.CLI, append(args, "--address", s.tp.Address)...)
	return cmd.CombinedOutput()
}
