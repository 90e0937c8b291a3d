package soak_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/devserver"
	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// The account: medias at launch, two launched during the week, one deleted after day 3, a
// burst of five times the usual plays on day 6, and events up to three days late, which the
// daily run's lookback (two days before the watermark, which is the day before the date)
// still reads.
const (
	medias   = 16
	visitors = 400
)

func (w *week) startSim(t *testing.T) {
	t.Helper()
	opts := wistiasim.Options{Seed: int64(w.cfg.seed % (1 << 62)), Medias: medias, Visitors: visitors, MeanEventsPerDay: 25,
		HistoryDays: 10, LateShare: 0.08, LateDays: 3, QuirkShare: 0.05, CorruptShare: 0.01, DuplicateShare: 0.02,
		RateLimit: rateLimit, RatePeriod: time.Second, Now: simNow(w.days[0]), Bursts: map[time.Time]float64{}}
	for _, k := range []int{1, 4} { // launched on days 2 and 5, read the next day
		if k < len(w.days) {
			opts.Launches = append(opts.Launches, w.days[k].Add(time.Duration(6+w.r.IntN(12))*time.Hour))
		}
	}
	if len(w.days) > 3 {
		// Deleted just after day 3's run read it: what that run read is all there is.
		opts.Deletions = []wistiasim.Deletion{{Index: w.r.IntN(medias), At: simNow(w.days[2]).Add(time.Second)}}
	}
	if len(w.days) > 5 {
		opts.Bursts[w.days[5]] = 5
	}
	w.deletions = opts.Deletions
	sim, err := wistiasim.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	w.sim, w.simURL = sim, srv.URL+wistiasim.BasePath
}

func (w *week) startStorage(t *testing.T) {
	t.Helper()
	w.s3 = testenv.StartS3(t)
	w.ddb = testenv.StartDynamoDBOnDisk(t)
	w.sns = testenv.StartSNS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", w.s3.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", w.s3.SecretKey)
	t.Setenv("AWS_REGION", w.s3.Region)
	w.lakeCfg = lake.Config{DataDir: w.dir, Account: account, AWSRegion: w.s3.Region, S3Endpoint: w.s3.Endpoint, S3PathStyle: true,
		BronzeURL: "s3://lake/bronze", LookbackDays: 2,
		LakehouseConfig: lake.LakehouseConfig{Catalog: "sql", Warehouse: "s3://lake/warehouse",
			SilverNamespace: "wistia_silver", GoldNamespace: "wistia_gold", SnapshotRetention: 7}}
	ctx := context.Background()
	store, err := w.lakeCfg.OpenStore(ctx)
	require.NoError(t, err)
	require.NoError(t, store.(*bronze.S3Store).EnsureBucket(ctx))
	awsCfg, err := w.lakeCfg.AWS(ctx)
	require.NoError(t, err)
	w.s3c = s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(w.s3.Endpoint), true })
}

// startTemporal starts the dev server on a database file, so a restart keeps every run.
func (w *week) startTemporal(t *testing.T) {
	t.Helper()
	w.tpOpts = devserver.Options{CLI: testenv.Tool(t, "temporal"), Port: testenv.FreePort(t), UIPort: testenv.FreePort(t),
		DBFile: filepath.Join(w.dir, "temporal.db"), LogLevel: "error", Log: &strings.Builder{}}
	w.restartTemporal(t, false)
	tc, err := client.Dial(client.Options{HostPort: w.tp.Address})
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	w.tc = tc
}

// restartTemporal (re)starts the dev server; with stop, it stops the running one first.
func (w *week) restartTemporal(t *testing.T, stop bool) {
	t.Helper()
	if stop {
		w.tp.Stop()
	}
	w.tpOpts.Log = &strings.Builder{}
	srv, err := devserver.Start(context.Background(), w.tpOpts)
	require.NoError(t, err, "temporal dev server on %s", w.tpOpts.DBFile)
	if !stop {
		t.Cleanup(func() { w.tp.Stop() })
	}
	w.tp = srv
}

func (w *week) startWorkers(t *testing.T) {
	t.Helper()
	w.workerBin = testenv.Build(t, "./worker")
	w.workerEnv = []string{
		"TEMPORAL_ADDRESS=" + w.tp.Address, "TEMPORAL_TASK_QUEUE=" + queue, "TEMPORAL_UI_URL=" + w.tp.UI,
		"WISTIA_BASE_URL=" + w.simURL, "WISTIA_API_TOKEN=" + w.sim.Token(), "WISTIA_ACCOUNT=" + account,
		fmt.Sprintf("WISTIA_RATE_LIMIT=%d", rateLimit), "WISTIA_RATE_PERIOD=1s", "WISTIA_SHARED_BUDGET=true",
		"WISTIA_BACKOFF_BASE=50ms", "WISTIA_BACKOFF_MAX=2s", "WISTIA_MAX_ATTEMPTS=8",
		"DATA_DIR=" + w.dir, "BRONZE_URL=" + w.lakeCfg.BronzeURL, "ICEBERG_WAREHOUSE=" + w.lakeCfg.Warehouse,
		"S3_ENDPOINT=" + w.s3.Endpoint, "S3_FORCE_PATH_STYLE=true",
		"WATERMARKS_URL=dynamodb://wistia-soak", "DYNAMODB_ENDPOINT=" + w.ddb.Endpoint, "DYNAMODB_CREATE_TABLE=true",
		"AWS_REGION=" + w.s3.Region, "AWS_ACCESS_KEY_ID=" + w.s3.AccessKey, "AWS_SECRET_ACCESS_KEY=" + w.s3.SecretKey,
		"ALERT_SNS_TOPIC_ARN=" + w.sns.TopicARN, "ALERT_SNS_ENDPOINT=" + w.sns.Endpoint,
		"INGEST_FIRST_DAY=" + dates.DateOf(w.first).String(), "MAX_CONCURRENCY=4", "LOG_LEVEL=warn",
	}
	for range 3 {
		w.startWorker(t)
	}
}

// startWorker runs one more worker process; it is ready once its metrics endpoint listens.
func (w *week) startWorker(t *testing.T) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	w.workers = append(w.workers, testenv.StartProcess(t, addr, append(slices.Clone(w.workerEnv), "METRICS_ADDR="+addr), w.workerBin))
}

// soakOptions are the runs' options: children continue as new every six medias, so kills
// land around continue-as-new, and a dead worker's activity is retried after five seconds.
var soakOptions = workflows.Options{Account: account, MaxConcurrency: 4, ChildrenPerRun: 6, HeartbeatTimeout: 5 * time.Second}

// createSchedule creates wistia-daily as `starter schedule create` does. Temporal's clock
// cannot be moved, so each soak day fires through a schedule backfill of that day's fire time;
// the action is pinned to catch-up, the mode the daily fire has when it fires on time (a
// backfill of an old fire would otherwise read exactly its date).
func (w *week) createSchedule(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	p := operate.Pipeline{Client: w.tc, TaskQueue: queue, Options: soakOptions}
	require.NoError(t, p.CreateSchedule(ctx, workflows.DefaultCron))
	require.NoError(t, operate.PauseSchedule(ctx, w.tc, workflows.ScheduleID, true), "only the soak's backfills fire")
	h := w.tc.ScheduleClient().GetHandle(ctx, workflows.ScheduleID)
	require.NoError(t, h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		action := in.Description.Schedule.Action.(*client.ScheduleWorkflowAction)
		action.Args = []any{workflows.DailyRunInput{Mode: activities.ModeCatchUp, Options: soakOptions}}
		return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
	}}))
}

// fire backfills the schedule over date's fire time: the schedule starts the day's run.
func (w *week) fire(t *testing.T, date time.Time) {
	t.Helper()
	at := fireTime(date)
	h := w.tc.ScheduleClient().GetHandle(context.Background(), workflows.ScheduleID)
	require.NoError(t, h.Backfill(context.Background(), client.ScheduleBackfillOptions{Backfill: []client.ScheduleBackfill{{
		Start: at.Add(-time.Minute), End: at.Add(time.Minute), Overlap: enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL}}}))
}
