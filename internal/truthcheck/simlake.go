package truthcheck

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/ingest"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/wistia"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// SimLake is a simulator on loopback and a bronze store fed from it through the ingest steps
// a run takes, for tests of the lake and of what reads it, without Temporal.
type SimLake struct {
	Sim    *wistiasim.Sim
	In     *ingest.Ingester
	Store  bronze.Store
	Config lake.Config
	Clock  time.Time // the ingest's clock (bronze _ingested_at); tests move it between landings
}

// NewSimLake starts a simulator with opts (at opts.Now, without a rate limit) and opens the
// store of cfg; an empty cfg.DataDir is a fresh temporary folder.
func NewSimLake(t testing.TB, opts wistiasim.Options, cfg lake.Config) *SimLake {
	t.Helper()
	opts.RateLimit = -1
	sim, err := wistiasim.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client, err := wistia.New(wistia.Config{
		BaseURL: srv.URL + wistiasim.BasePath, APIToken: config.Secret(sim.Token()), RateLimit: 10_000, RatePeriod: time.Second,
		RequestTimeout: 5 * time.Second, MaxAttempts: 6, BackoffBase: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		MaxRetryAfter: 10 * time.Second, PerPage: 100,
	})
	require.NoError(t, err)
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	store, err := cfg.OpenStore(context.Background())
	require.NoError(t, err)
	if s, ok := store.(*bronze.S3Store); ok {
		require.NoError(t, s.EnsureBucket(context.Background()))
	}
	s := &SimLake{Sim: sim, Store: store, Config: cfg, Clock: sim.Now()}
	s.In = &ingest.Ingester{Client: client, Store: store, Now: func() time.Time { return s.Clock }}
	return s
}

// Lakehouse opens a lakehouse on the catalog, as another worker would, with its tables.
func (s *SimLake) Lakehouse(t testing.TB) *lake.Lakehouse {
	t.Helper()
	lh, err := s.Config.OpenLakehouse(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { lh.Close() })
	require.NoError(t, lh.EnsureTables(context.Background()))
	return lh
}

// Land ingests days as one run would: the media list and by_date stats on the last day's
// bronze, events by day window, then, once for the run, the visitors seen.
func (s *SimLake) Land(t testing.TB, runID string, days []dates.Date) {
	t.Helper()
	ctx := context.Background()
	last := days[len(days)-1]
	_, medias, err := s.In.Medias(ctx, last, runID)
	require.NoError(t, err)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, media := range medias {
		g.Go(func() error {
			if _, err := s.In.DailyStats(ctx, media, days[0], last, last, runID); err != nil {
				return err
			}
			for _, day := range days {
				l, err := s.In.Events(ctx, media, day, runID, ingest.EventsProgress{}, nil)
				if err != nil {
					return err
				}
				if !l.Complete {
					t.Errorf("events window %s %s incomplete", media, day)
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
	_, err = s.In.Visitors(context.Background(), bronze.AllMedia, days, last, runID, ingest.VisitorsProgress{}, nil)
	require.NoError(t, err)
}

// InBucket keeps cfg's bronze and warehouse in a bucket of a versitygw server started for the
// test, as the deployed pipeline keeps them in S3 (the sqlite catalog over s3:// paths).
func InBucket(t testing.TB, cfg *lake.Config) {
	t.Helper()
	s3 := testenv.StartS3(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3.SecretKey)
	cfg.AWSRegion, cfg.S3Endpoint, cfg.S3PathStyle = s3.Region, s3.Endpoint, true
	cfg.BronzeURL, cfg.Warehouse = "s3://lake/bronze", "s3://lake/warehouse"
}
