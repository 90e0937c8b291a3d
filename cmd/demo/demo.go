package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/app"
	"github.com/marketing-data/wistia-pipeline/internal/dashboard"
	"github.com/marketing-data/wistia-pipeline/internal/devserver"
	"github.com/marketing-data/wistia-pipeline/internal/httpserve"
	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// DemoConfig tunes `make demo` and `make dev`.
type DemoConfig struct {
	Days          int    `envconfig:"DEMO_DAYS" default:"7"`
	TemporalPort  int    `envconfig:"DEMO_TEMPORAL_PORT" default:"7233"`
	UIPort        int    `envconfig:"DEMO_UI_PORT" default:"8233"`
	Medias        int    `envconfig:"DEMO_MEDIAS" default:"25"` // simulator medias
	TemporalCLI   string `envconfig:"DEMO_TEMPORAL_CLI" default:"temporal"`
	DashboardAddr string `envconfig:"DEMO_DASHBOARD_ADDR" default:"127.0.0.1:8090"` // the dashboard, served by the demo
}

// Validate reports every bad value.
func (c DemoConfig) Validate() []error {
	var errs []error
	if c.Days < 1 || c.Days > 60 {
		errs = append(errs, config.Invalid("DEMO_DAYS", c.Days, "1 to 60"))
	}
	if c.Medias < 1 {
		errs = append(errs, config.Invalid("DEMO_MEDIAS", c.Medias, "1 or more"))
	}
	return errs
}

// DemoSimOptions is the simulated account the demo ingests when no token is set: it counts its
// stats days in zone, the pipeline's WISTIA_STATS_TIMEZONE.
func (c DemoConfig) DemoSimOptions(zone dates.Zone) wistiasim.Options {
	return wistiasim.Options{Seed: 2026, Medias: c.Medias, MeanEventsPerDay: 12, LateShare: 0.05, QuirkShare: 0.05,
		CorruptShare: 0.01, DuplicateShare: 0.02, RateLimit: demoSimRate, RatePeriod: time.Minute, Zone: zone.Location()}
}

// demoSimRate is the simulator's budget in the demo: ten times Wistia's, so that a week
// ingests in a minute or two rather than the quarter hour the real budget would take.
const demoSimRate = 6000

// DemoRange is the days a demo ingests: the last days of zone that have ended at now.
func DemoRange(now time.Time, zone dates.Zone, days int) (from, to dates.Date) {
	to = zone.LastEnded(now)
	return to.AddDays(-(days - 1)), to
}

// step runs one named step of the demo; a failure names it.
func step(out io.Writer, name string, fn func() error) error {
	fmt.Fprintf(out, "==> %s\n", name)
	if err := fn(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Demo runs the whole pipeline locally: the Temporal dev server with its Web UI, the Wistia
// simulator (or the account of WISTIA_API_TOKEN), a worker; it creates the wistia-daily
// schedule, ingests the last DEMO_DAYS days through the real workflows, prints a summary read
// from gold, and stops everything it started. With dev set it keeps the stack running until
// ctx is cancelled (Ctrl-C). It returns the exit status.
func Demo(ctx context.Context, dev bool, out, errOut io.Writer) int {
	if err := demo(ctx, dev, out); err != nil {
		fmt.Fprintf(errOut, "demo failed at step %v\n", err)
		return 1
	}
	return 0
}

func demo(ctx context.Context, dev bool, out io.Writer) error {
	// What the demo starts (simulator, dashboard) stops when it returns.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		cfg  app.Config
		dcfg DemoConfig
	)
	if err := step(out, "read the configuration", func() error {
		if err := config.Load(&dcfg); err != nil {
			return err
		}
		var err error
		cfg, err = app.LoadConfig()
		return err
	}); err != nil {
		return err
	}
	dataDir, err := filepath.Abs(cfg.Lake.DataDir)
	if err != nil {
		return err
	}
	cfg.Lake.DataDir = dataDir
	cfg.Temporal.Address = fmt.Sprintf("127.0.0.1:%d", dcfg.TemporalPort)
	cfg.Alerts.UIURL = fmt.Sprintf("http://127.0.0.1:%d", dcfg.UIPort)
	cfg.Worker.MetricsAddr = "127.0.0.1:0"
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}

	var stopServer func()
	if err := step(out, "start the Temporal dev server (Web UI "+cfg.Alerts.UIURL+")", func() error {
		var err error
		stopServer, err = startDevServer(ctx, dcfg, cfg, dataDir)
		return err
	}); err != nil {
		return err
	}
	defer stopServer()

	from, to := DemoRange(time.Now(), cfg.Lake.Zone(), dcfg.Days)
	if !cfg.Wistia.APIToken.IsSet() {
		if err := step(out, "start the Wistia simulator", func() error {
			sim, err := wistiasim.New(dcfg.DemoSimOptions(cfg.Lake.Zone()))
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			httpserve.Background(ctx, ln, sim.Handler())
			cfg.Wistia.BaseURL = "http://" + ln.Addr().String() + wistiasim.BasePath
			cfg.Wistia.APIToken = config.Secret(sim.Token())
			cfg.Wistia.RateLimit, cfg.Wistia.RatePeriod = demoSimRate, time.Minute
			return nil
		}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "    ingesting the account behind WISTIA_API_TOKEN at %s\n", config.URL(cfg.Wistia.BaseURL))
	}
	if cfg.Lake.FirstDay == "" {
		cfg.Lake.FirstDay = from.String() // no older history than the demo's days
	}

	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	if err := step(out, "start a worker (log in "+filepath.Join(dataDir, "worker.log")+")", func() error {
		logFile, err := os.OpenFile(filepath.Join(dataDir, "worker.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		logger := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
		go func() {
			workerDone <- app.RunWorker(workerCtx, cfg, logger)
			logFile.Close()
		}()
		return nil
	}); err != nil {
		stopWorker()
		return err
	}
	defer func() {
		stopWorker()
		<-workerDone
	}()

	tc, err := cfg.Temporal.Dial(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		return err
	}
	defer tc.Close()
	pipeline := cfg.Pipeline(tc)
	if err := step(out, "create the "+cfg.Schedule.ID+" schedule (daily at 03:00 in "+cfg.Lake.Zone().String()+")", func() error {
		return pipeline.EnsureSchedule(ctx, cfg.Schedule.Cron)
	}); err != nil {
		return err
	}
	if err := step(out, fmt.Sprintf("ingest %s to %s through the workflows", from.String(), to.String()), func() error {
		select {
		case err := <-workerDone:
			return fmt.Errorf("the worker stopped: %w", err)
		default:
		}
		started, err := pipeline.Backfill(ctx, from.String(), to.String(), 3)
		if err != nil {
			return err
		}
		// The demo's output is usually a log: plain progress lines, not a redrawn bar.
		stop := operate.Follower{W: out}.Follow(ctx, tc, started.Run.GetID(), func(v operate.Snapshot) (int, int, string) {
			return v.DaysDone, v.DaysTotal, v.Phase
		})
		var res workflows.BackfillProgress
		err = started.Run.Get(ctx, &res)
		stop()
		if err != nil {
			return fmt.Errorf("%s failed: %w", started.Run.GetID(), err)
		}
		fmt.Fprintf(out, "done: %d days, %d records, %d quarantined, merged %v\n", res.DaysDone, res.Records, res.Quarantined, res.Merged)
		return nil
	}); err != nil {
		return err
	}
	if err := step(out, "read the summary from gold", func() error {
		lh, err := cfg.Lake.OpenLakehouse(ctx)
		if err != nil {
			return err
		}
		defer lh.Close()
		s, err := Summarize(ctx, lh, from, to)
		if err != nil {
			return err
		}
		s.Print(out)
		return nil
	}); err != nil {
		return err
	}
	dashboardURL := ""
	if err := step(out, "serve the dashboard", func() error {
		lh, err := cfg.Lake.OpenLakehouse(ctx)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", dcfg.DashboardAddr)
		if err != nil {
			lh.Close()
			return fmt.Errorf("DEMO_DASHBOARD_ADDR %s: %w", dcfg.DashboardAddr, err)
		}
		served := httpserve.Background(ctx, ln, dashboard.Handler(dashboard.NewReports(lh), slog.New(slog.NewTextHandler(io.Discard, nil))))
		go func() { <-served; lh.Close() }()
		dashboardURL = "http://" + ln.Addr().String() + "/"
		return nil
	}); err != nil {
		return err
	}
	warehouse, err := cfg.Lake.WarehouseURL()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `
Where to look next:
  Dashboard:   %s (make dev keeps it running; or: go run ./starter dashboard)
  Web UI:      %s/namespaces/default/workflows
  Warehouse:   %s (catalog %s)
  Query gold:  go run ./starter query gold.fact_media_daily --from %s --to %s --format table
  Backfill:    temporal schedule backfill --schedule-id %s --start-time %sT00:00:00Z --end-time %sT23:59:59Z --address %s
`, dashboardURL, cfg.Alerts.UIURL, warehouse, cfg.Lake.CatalogPath(),
		from.String(), to.String(), cfg.Schedule.ID, from.AddDays(1).String(), to.AddDays(1).String(), cfg.Temporal.Address)
	if dev {
		fmt.Fprintln(out, "\nThe stack keeps running; press Ctrl-C to stop it.")
		<-ctx.Done()
	}
	fmt.Fprintln(out, "==> stop everything")
	return nil
}

// startDevServer runs the dev server with its state in DATA_DIR and its log beside it.
func startDevServer(ctx context.Context, dcfg DemoConfig, cfg app.Config, dataDir string) (func(), error) {
	cli, err := exec.LookPath(dcfg.TemporalCLI)
	if err != nil {
		return nil, fmt.Errorf("the temporal CLI is not installed (run 'make tools'): %w", err)
	}
	logFile, err := os.Create(filepath.Join(dataDir, "temporal.log"))
	if err != nil {
		return nil, err
	}
	srv, err := devserver.Start(ctx, devserver.Options{CLI: cli, Port: dcfg.TemporalPort, UIPort: dcfg.UIPort,
		Namespace: cfg.Temporal.Namespace, DBFile: filepath.Join(dataDir, "temporal.db"), Log: logFile})
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%w; see %s", err, logFile.Name())
	}
	return func() { srv.Stop(); logFile.Close() }, nil
}

// Summary is what the demo prints, read from gold.
type Summary struct {
	From, To dates.Date
	Days     []string // days with rows in gold.fact_media_daily
	Channels []ChannelTotal
	Top      []MediaTotal
}

// ChannelTotal sums a channel's plays and hours watched (gold.fact_media_daily).
type ChannelTotal struct {
	Channel      string
	Plays        int64
	HoursWatched float64
}

// MediaTotal is one media's plays over the range.
type MediaTotal struct {
	MediaID, Title, Channel string
	Plays                   int64
}

// Summarize reads the range's totals from gold.
func Summarize(ctx context.Context, lh *lake.Lakehouse, from, to dates.Date) (Summary, error) {
	s := Summary{From: from, To: to}
	daily, err := lake.ReadRows[gold.FactMediaDaily](ctx, lh, from, to)
	if err != nil {
		return s, err
	}
	dims, err := lake.ReadRows[gold.DimMedia](ctx, lh, 0, 0)
	if err != nil {
		return s, err
	}
	media := map[string]gold.DimMedia{}
	for _, d := range dims {
		media[d.MediaID] = d
	}
	channels := map[string]*ChannelTotal{}
	perMedia := map[string]*MediaTotal{}
	days := map[string]bool{}
	for _, f := range daily {
		days[f.Date.String()] = true
		d := media[f.MediaID]
		ch := cmp.Or(d.Channel, gold.UnknownChannel)
		if channels[ch] == nil {
			channels[ch] = &ChannelTotal{Channel: ch}
		}
		channels[ch].Plays += f.PlayCount
		channels[ch].HoursWatched += f.HoursWatched
		if perMedia[f.MediaID] == nil {
			perMedia[f.MediaID] = &MediaTotal{MediaID: f.MediaID, Title: d.Title, Channel: ch}
		}
		perMedia[f.MediaID].Plays += f.PlayCount
	}
	for _, c := range channels {
		s.Channels = append(s.Channels, *c)
	}
	slices.SortFunc(s.Channels, func(a, b ChannelTotal) int {
		return cmp.Or(cmp.Compare(b.Plays, a.Plays), cmp.Compare(a.Channel, b.Channel))
	})
	for _, m := range perMedia {
		s.Top = append(s.Top, *m)
	}
	slices.SortFunc(s.Top, func(a, b MediaTotal) int {
		return cmp.Or(cmp.Compare(b.Plays, a.Plays), cmp.Compare(a.MediaID, b.MediaID))
	})
	s.Top = s.Top[:min(5, len(s.Top))]
	for d := range days {
		s.Days = append(s.Days, d)
	}
	slices.Sort(s.Days)
	return s, nil
}

// Print renders the summary.
func (s Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "\nDays covered: %d (%s to %s)\n\nPlays and watch time per channel:\n", len(s.Days), s.From, s.To)
	for _, c := range s.Channels {
		fmt.Fprintf(w, "  %s\n", c.Line())
	}
	fmt.Fprintln(w, "\nTop media by plays:")
	for i, m := range s.Top {
		fmt.Fprintf(w, "  %d. %-32s %-10s %6d plays  (%s)\n", i+1, m.Title, m.Channel, m.Plays, m.MediaID)
	}
}

// Line is how a channel's totals print.
func (c ChannelTotal) Line() string {
	return fmt.Sprintf("%-10s %8d plays %10.2f hours watched", c.Channel, c.Plays, c.HoursWatched)
}
