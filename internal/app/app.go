// Package app wires the pipeline's parts from configuration: the Temporal client, the
// activities with their Wistia client and stores, and the worker. The worker and starter
// binaries and the demo all start here.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/ingest"
	"github.com/marketing-data/wistia-pipeline/internal/httpserve"
	"github.com/marketing-data/wistia-pipeline/internal/metrics"
	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/state"
	"github.com/marketing-data/wistia-pipeline/wistia"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// TemporalConfig is how to reach Temporal.
type TemporalConfig struct {
	Address   string        `envconfig:"TEMPORAL_ADDRESS" default:"localhost:7233"`
	Namespace string        `envconfig:"TEMPORAL_NAMESPACE" default:"default"`
	TaskQueue string        `envconfig:"TEMPORAL_TASK_QUEUE" default:"wistia-pipeline"`
	APIKey    config.Secret `envconfig:"TEMPORAL_API_KEY"` // Temporal Cloud API key; implies TLS
	TLS       bool          `envconfig:"TEMPORAL_TLS" default:"false"`
	TLSCert   string        `envconfig:"TEMPORAL_TLS_CERT"` // client certificate (mTLS), PEM file
	TLSKey    string        `envconfig:"TEMPORAL_TLS_KEY"`
}

// Validate reports every bad value.
func (c TemporalConfig) Validate() []error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		errs = append(errs, config.Invalid("TEMPORAL_ADDRESS", c.Address, "host:port"))
	}
	if c.Namespace == "" {
		errs = append(errs, config.Invalid("TEMPORAL_NAMESPACE", c.Namespace, "a namespace name"))
	}
	if c.TaskQueue == "" {
		errs = append(errs, config.Invalid("TEMPORAL_TASK_QUEUE", c.TaskQueue, "a task queue name"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, config.Invalid("TEMPORAL_TLS_KEY", c.TLSKey, "set together with TEMPORAL_TLS_CERT"))
	}
	return errs
}

// Dial connects to Temporal, failing fast when it cannot be reached.
func (c TemporalConfig) Dial(ctx context.Context, logger *slog.Logger, handler client.MetricsHandler) (client.Client, error) {
	opts := client.Options{HostPort: c.Address, Namespace: c.Namespace, Logger: log.NewStructuredLogger(logger), MetricsHandler: handler}
	if c.TLS || c.APIKey.IsSet() || c.TLSCert != "" {
		tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("TEMPORAL_TLS_CERT/KEY: %w", err)
			}
			tlsCfg.Certificates = []tls.Certificate{cert}
		}
		opts.ConnectionOptions.TLS = tlsCfg
	}
	if c.APIKey.IsSet() {
		opts.Credentials = client.NewAPIKeyStaticCredentials(c.APIKey.Reveal())
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (namespace %s): %w", c.Address, c.Namespace, err)
	}
	return cl, nil
}

// WorkerConfig tunes the worker process.
type WorkerConfig struct {
	MaxConcurrency      int `envconfig:"MAX_CONCURRENCY" default:"20"`             // media ingests in flight per run
	ActivityConcurrency int `envconfig:"WORKER_ACTIVITY_CONCURRENCY" default:"16"` // activities at once in this worker
	// MergeConcurrency is the day merges of a spread merge this worker runs at once: each takes
	// a core and a day's rows of memory.
	MergeConcurrency int `envconfig:"WORKER_MERGE_CONCURRENCY" default:"1"`
	// MergeSpread is how many days' merges a backfill or transform queues at once for all
	// workers; 1 merges a backfill's days in one activity.
	MergeSpread int    `envconfig:"MERGE_SPREAD" default:"4"`
	MetricsAddr string `envconfig:"METRICS_ADDR" default:"127.0.0.1:9464"` // empty disables /metrics
	// CloudWatchNamespace, when set, has the worker write the metrics the deploy stack alarms
	// on to stdout every minute in CloudWatch's embedded metric format.
	CloudWatchNamespace string `envconfig:"METRICS_CLOUDWATCH_NAMESPACE"`
	LogLevel            string `envconfig:"LOG_LEVEL" default:"info"`
	// SharedBudget makes every worker of the account draw on one request budget kept in the
	// watermark store, so WISTIA_RATE_LIMIT holds across all workers together.
	SharedBudget bool `envconfig:"WISTIA_SHARED_BUDGET" default:"true"`
}

// Validate reports every bad value.
func (c WorkerConfig) Validate() []error {
	var errs []error
	if c.MaxConcurrency < 1 || c.MaxConcurrency > 2000 {
		errs = append(errs, config.Invalid("MAX_CONCURRENCY", c.MaxConcurrency, "1 to 2000 (Temporal allows 2,000 pending children)"))
	}
	if c.ActivityConcurrency < 1 {
		errs = append(errs, config.Invalid("WORKER_ACTIVITY_CONCURRENCY", c.ActivityConcurrency, "1 or more"))
	}
	if c.MergeConcurrency < 1 {
		errs = append(errs, config.Invalid("WORKER_MERGE_CONCURRENCY", c.MergeConcurrency, "1 or more"))
	}
	if c.MergeSpread < 1 || c.MergeSpread > 1000 {
		errs = append(errs, config.Invalid("MERGE_SPREAD", c.MergeSpread, "1 to 1000"))
	}
	if _, _, err := net.SplitHostPort(c.MetricsAddr); c.MetricsAddr != "" && err != nil {
		errs = append(errs, config.Invalid("METRICS_ADDR", c.MetricsAddr, "host:port, or empty to disable"))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, config.Invalid("LOG_LEVEL", c.LogLevel, "debug, info, warn or error"))
	}
	return errs
}

// ScheduleConfig is the daily schedule a deployment wants: what `starter schedule create`
// makes and `starter doctor` expects to find. Its runs' settings are the worker's.
type ScheduleConfig struct {
	// ID names the schedule in the namespace; environments sharing one namespace differ here.
	ID   string `envconfig:"TEMPORAL_SCHEDULE_ID" default:"wistia-daily"`
	Cron string `envconfig:"SCHEDULE_CRON" default:"0 3 * * *"` // in the account's stats zone
}

// Validate reports every bad value.
func (c ScheduleConfig) Validate() []error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, config.Invalid("TEMPORAL_SCHEDULE_ID", c.ID, "a schedule ID"))
	}
	if err := operate.CheckCron(c.Cron); err != nil {
		errs = append(errs, config.Invalid("SCHEDULE_CRON", c.Cron, "a cron expression such as \"0 3 * * *\" (minute hour day month weekday)"))
	}
	return errs
}

// Config is everything the worker reads from the environment.
type Config struct {
	Temporal TemporalConfig
	Schedule ScheduleConfig
	Worker   WorkerConfig
	Wistia   wistia.Config
	Lake     lake.Config
	Alerts   activities.AlertConfig
}

// LoadConfig reads and validates the worker's configuration.
func LoadConfig() (Config, error) {
	var c Config
	err := config.Load(&c.Temporal, &c.Schedule, &c.Worker, &c.Wistia, &c.Lake, &c.Alerts)
	return c, err
}

// Pipeline is the pipeline operations of this configuration on the client tc.
func (c Config) Pipeline(tc client.Client) operate.Pipeline {
	return operate.Pipeline{Client: tc, TaskQueue: c.Temporal.TaskQueue, ScheduleID: c.Schedule.ID, Options: c.Options()}
}

// Logger is the JSON logger at the configured level.
func (c WorkerConfig) Logger() *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// Options are the workflow options a run is started with.
func (c Config) Options() workflows.Options {
	return workflows.Options{Account: c.Lake.Account, MaxConcurrency: c.Worker.MaxConcurrency, MergeSpread: c.Worker.MergeSpread,
		StatsZone: c.Lake.Zone().String()}
}

// Resources are the opened clients and stores behind the activities.
type Resources struct {
	Activities *activities.Activities
	Lake       *lake.Lakehouse
	Store      bronze.Store
	Client     *wistia.Client
	closers    []func() error
}

// Close releases the stores.
func (r *Resources) Close() error {
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Open builds the activities' dependencies from configuration.
func Open(ctx context.Context, c Config, pm *metrics.Pipeline) (*Resources, error) {
	if !c.Wistia.APIToken.IsSet() {
		return nil, errors.New("WISTIA_API_TOKEN is not set")
	}
	r := &Resources{}
	var err error
	if r.Store, err = c.Lake.OpenStore(ctx); err != nil {
		return nil, err
	}
	marks, err := c.Lake.OpenState(ctx)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, marks.Close)
	wc, err := c.WistiaClient(marks)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.Client = wc
	if r.Lake, err = c.Lake.OpenLakehouse(ctx); err != nil {
		r.Close()
		return nil, err
	}
	r.closers = append(r.closers, r.Lake.Close)
	if err := r.Lake.EnsureTables(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("create tables: %w", err)
	}
	alerter, err := c.Alerter(ctx)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.Activities = &activities.Activities{
		Account:  c.Lake.Account,
		Ingester: &ingest.Ingester{Client: wc, Store: r.Store, Now: time.Now},
		Store:    r.Store, Lake: r.Lake, Marks: marks, Policy: c.Lake.CatchUpPolicy(),
		Alerts: alerter,
		Now:    time.Now,
	}
	if pm != nil {
		r.Activities.OnRecords = func(stream string, l ingest.Landed) {
			pm.Requests.WithLabelValues(stream).Add(float64(l.Requests))
			pm.Records.WithLabelValues(stream).Add(float64(l.Records))
			pm.Rejects.WithLabelValues(stream).Add(float64(l.Rejects))
			pm.Bytes.Add(float64(l.Bytes))
			pm.LastSuccess.WithLabelValues(stream).SetToCurrentTime()
		}
		r.Activities.OnVerified = func(int) { pm.LastSuccess.WithLabelValues(metrics.StreamMerge).SetToCurrentTime() }
		var (
			lagMu   sync.Mutex
			lagDate dates.Date
			lagDays int
		)
		r.Activities.OnLag = func(date dates.Date, behind int) {
			lagMu.Lock()
			defer lagMu.Unlock()
			if date > lagDate { // a newer date's run: its medias start the figure afresh
				lagDate, lagDays = date, behind
			} else if date == lagDate {
				lagDays = max(lagDays, behind)
			} else {
				return
			}
			pm.WatermarkLag.Set(float64(lagDays))
		}
		r.Activities.OnMaintenanceFailed = pm.MaintenanceFailures.Inc
		r.Activities.OnTransform = func(rep lake.TransformReport) {
			for stream, n := range rep.Quarantined {
				pm.Quarantined.WithLabelValues(stream).Add(float64(n))
			}
			for _, m := range rep.Merges {
				pm.MergeDuration.WithLabelValues(m.Table).Observe(m.Duration.Seconds())
			}
			pm.PercentOverOne.Add(float64(rep.PercentOverOne))
		}
	}
	return r, nil
}

// WistiaClient is the Wistia client of the configuration; with WISTIA_SHARED_BUDGET every
// request draws on the account's budget, counted in the shared state's counters.
func (c Config) WistiaClient(counters state.Counters) (*wistia.Client, error) {
	var opts []wistia.Option
	if c.Worker.SharedBudget {
		budget, err := state.NewSharedBudget(counters, c.Lake.Account, c.Wistia.RateLimit, c.Wistia.RatePeriod)
		if err != nil {
			return nil, fmt.Errorf("WISTIA_SHARED_BUDGET: %w", err)
		}
		opts = append(opts, wistia.WithGate(budget))
	}
	return wistia.New(c.Wistia, opts...)
}

// Alerter is the alert destinations of the configuration.
func (c Config) Alerter(ctx context.Context) (*activities.Alerter, error) {
	var snsClient *sns.Client
	if c.Alerts.SNSTopicARN != "" {
		awsCfg, err := c.Lake.AWS(ctx)
		if err != nil {
			return nil, err
		}
		snsClient = sns.NewFromConfig(awsCfg, func(o *sns.Options) {
			if c.Alerts.SNSEndpoint != "" {
				o.BaseEndpoint = &c.Alerts.SNSEndpoint
			}
		})
	}
	return activities.NewAlerter(c.Alerts, c.Temporal.Namespace, snsClient), nil
}

// Register adds the workflows and activities to a worker.
func Register(w worker.Registry, acts *activities.Activities) {
	workflows.Register(w)
	w.RegisterActivity(acts)
}

// RegisterMerges adds the activities of a spread merge to the worker of the merge task queue
// (workflows.MergeTaskQueue).
func RegisterMerges(w worker.ActivityRegistry, acts *activities.Activities) {
	w.RegisterActivityWithOptions(acts.MergeSilver, activity.RegisterOptions{Name: "MergeSilver"})
	w.RegisterActivityWithOptions(acts.MergeSilverDays, activity.RegisterOptions{Name: "MergeSilverDays"}) // runs before versionActivityInputs
	w.RegisterActivityWithOptions(acts.RecomputeGoldAndCheck, activity.RegisterOptions{Name: "RecomputeGoldAndCheck"})
}

// RunWorker serves the task queue until ctx is cancelled, then stops gracefully: activities
// in flight get WorkerStopTimeout to finish, and Temporal retries the others elsewhere.
func RunWorker(ctx context.Context, c Config, logger *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pm := metrics.NewPipeline(reg)
	tc, err := c.Temporal.Dial(ctx, logger, metrics.NewSDKHandler(reg))
	if err != nil {
		return err
	}
	defer tc.Close()
	res, err := Open(ctx, c, pm)
	if err != nil {
		return err
	}
	defer res.Close()
	res.Activities.Temporal = tc
	metrics.RegisterClient(reg, res.Client.Stats)
	if c.Worker.MetricsAddr != "" {
		ln, err := net.Listen("tcp", c.Worker.MetricsAddr)
		if err != nil {
			return fmt.Errorf("METRICS_ADDR %s: %w", c.Worker.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mctx, stopMetrics := context.WithCancel(ctx) // also on an early return
		served := httpserve.Background(mctx, ln, mux)
		defer func() { stopMetrics(); <-served }()
		logger.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	}
	if c.Worker.CloudWatchNamespace != "" {
		ectx, stopEMF := context.WithCancel(ctx)
		emitted := make(chan struct{})
		go func() {
			defer close(emitted)
			(&metrics.EMF{Namespace: c.Worker.CloudWatchNamespace, Account: c.Lake.Account, Gatherer: reg, Out: os.Stdout}).Run(ectx, time.Minute)
		}()
		defer func() { stopEMF(); <-emitted }() // the last minute's counts go out too
	}
	w := worker.New(tc, c.Temporal.TaskQueue, worker.Options{
		MaxConcurrentActivityExecutionSize: c.Worker.ActivityConcurrency,
		WorkerStopTimeout:                  30 * time.Second,
	})
	Register(w, res.Activities)
	mergeQueue := workflows.MergeTaskQueue(c.Temporal.TaskQueue)
	mw := worker.New(tc, mergeQueue, worker.Options{
		MaxConcurrentActivityExecutionSize: c.Worker.MergeConcurrency,
		WorkerStopTimeout:                  30 * time.Second,
	})
	RegisterMerges(mw, res.Activities)
	for _, wk := range []worker.Worker{w, mw} {
		if err := wk.Start(); err != nil {
			w.Stop()
			return fmt.Errorf("start worker: %w", err)
		}
	}
	logger.Info("worker started", "task_queue", c.Temporal.TaskQueue, "merge_task_queue", mergeQueue, "namespace", c.Temporal.Namespace, "temporal", c.Temporal.Address)
	<-ctx.Done()
	logger.Info("stopping worker")
	mw.Stop()
	w.Stop()
	return nil
}
