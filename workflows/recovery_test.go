package workflows_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// TestRebuildAfterLosingWarehouseAndCatalog is deploy/RUNBOOK.md's recovery, on the local
// stack with the warehouse in S3 as in production (versitygw; bronze in the same bucket): the
// schedule's catch-up run lands three days and merges them, silver and gold equal the
// simulator's ground truth; then every object of the warehouse and the catalog's file are
// deleted, as an operator who lost them would find them. The documented recovery, a restarted
// worker and the TransformWorkflow of the same days (`starter transform --from --to`, through
// operate.Pipeline as the CLI starts it), rebuilds every table from bronze alone: the ground
// truth again, row for row what it was, with no API call, no bronze object written and no
// watermark moved.
func TestRebuildAfterLosingWarehouseAndCatalog(t *testing.T) {
	t.Parallel()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := newStack(t, liveSim)
	store := testenv.StartS3(t)
	s.env = append(s.env, "BRONZE_URL=s3://lake/bronze", "ICEBERG_WAREHOUSE=s3://lake/warehouse",
		"S3_ENDPOINT="+store.Endpoint, "S3_FORCE_PATH_STYLE=true", "AWS_REGION="+store.Region,
		"AWS_ACCESS_KEY_ID="+store.AccessKey, "AWS_SECRET_ACCESS_KEY="+store.SecretKey)
	// The test's own calls take the credentials explicitly: the environment is the workers'.
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: store.AccessKey, SecretAccessKey: store.SecretKey}, nil
	})
	s3c := s3.New(s3.Options{Region: store.Region, BaseEndpoint: aws.String(store.Endpoint), UsePathStyle: true, Credentials: creds})
	require.NoError(t, bronze.NewS3Store(s3c, "lake", "bronze").EnsureBucket(ctx))
	catalogFile := filepath.Join(s.dir, "catalog.db")
	openLake := func() *lake.Lakehouse {
		t.Helper()
		cat, err := engine.OpenSQLCatalog(catalogFile, "s3://lake/warehouse", iceberg.Properties{
			icebergio.S3Region: store.Region, icebergio.S3EndpointURL: store.Endpoint,
			icebergio.S3AccessKeyID: store.AccessKey, icebergio.S3SecretAccessKey: store.SecretKey})
		require.NoError(t, err)
		lh := lake.NewLakehouse(cat, lake.LakehouseOptions{})
		t.Cleanup(func() { lh.Close() })
		return lh
	}
	w := s.startWorker(t)

	// The schedule's daily fire of D: a catch-up from INGEST_FIRST_DAY (D-2), which moves the
	// watermarks to D.
	run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.DailyRunID("acct", s.date), TaskQueue: "wistia-test"},
		workflows.DailyRunWorkflow, workflows.DailyRunInput{Date: s.date, Mode: activities.ModeCatchUp,
			Options: workflows.Options{Account: "acct", MaxConcurrency: 4, HeartbeatTimeout: 5 * time.Second}})
	require.NoError(t, err)
	var res workflows.DailyRunResult
	require.NoError(t, run.Get(ctx, &res))
	require.Equal(t, workflows.PhaseDone, res.Progress.Phase)
	from, to := s.day(-2), s.date
	marks := s.marks(t)
	require.Len(t, marks, len(s.sim.MediaIDs()))
	for m, d := range marks {
		require.Equal(t, to, d, "watermark of %s", m)
	}
	truth := s.truth() // from..to
	require.Equal(t, []string{from, to}, []string{dates.DateOf(truth.From).String(), dates.DateOf(truth.To).String()})
	lh := openLake()
	truthcheck.AssertLakehouse(t, lh, truth)
	before := tables(t, lh)
	require.NoError(t, lh.Close())
	bronze := objects(ctx, t, s3c, "bronze/")
	require.NotEmpty(t, bronze)
	requests := s.sim.Stats().Requests
	ingested := time.Now()

	// Lost: every object of the warehouse, and the catalog. The sqlite catalog is a file the
	// worker holds open, so the worker is stopped first and a new one started after.
	w.Stop()
	warehouse := objects(ctx, t, s3c, "warehouse/")
	require.NotEmpty(t, warehouse)
	for key := range warehouse {
		_, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("lake"), Key: aws.String(key)})
		require.NoError(t, err)
	}
	for _, f := range []string{catalogFile, catalogFile + "-wal", catalogFile + "-shm"} {
		require.NoError(t, ignoreMissing(os.Remove(f)))
	}
	require.Empty(t, objects(ctx, t, s3c, "warehouse/"), "the warehouse is gone")
	t.Logf("lost %d warehouse objects and the catalog; bronze keeps %d objects", len(warehouse), len(bronze))

	// Recovered as the runbook says: a worker, then `starter transform --from D-2 --to D`.
	s.startWorker(t)
	p := operate.Pipeline{Client: s.tc, TaskQueue: "wistia-test",
		Options: workflows.Options{Account: "acct", MaxConcurrency: 4, MergeSpread: 4, StatsZone: "UTC"}}
	started, err := p.Transform(ctx, from, to)
	require.NoError(t, err)
	assert.Equal(t, workflows.TransformID("acct", from, to), started.Run.GetID())
	var progress workflows.Progress
	require.NoError(t, started.Run.Get(ctx, &progress))
	assert.Equal(t, workflows.PhaseDone, progress.Phase)
	assert.Equal(t, []string{from, s.day(-1), to}, dates.Strings(progress.Merged))

	assert.Equal(t, requests, s.sim.Stats().Requests, "the rebuild calls no API")
	assert.Equal(t, bronze, objects(ctx, t, s3c, "bronze/"), "the rebuild writes no bronze object")
	assert.Equal(t, marks, s.marks(t), "the rebuild moves no watermark")
	lh = openLake()
	truthcheck.AssertLakehouse(t, lh, truth)
	assert.Equal(t, before, tables(t, lh), "every table has the rows it had")
	t.Logf("ingest and check %s, loss and rebuild %s, total %s", ingested.Sub(start).Round(time.Millisecond),
		time.Since(ingested).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// objects lists the objects of the bucket "lake" under prefix: key → size, ETag and last
// modified time, so that a rewrite of a key shows as well as a new key.
func objects(ctx context.Context, t *testing.T, c *s3.Client, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("lake"), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		require.NoError(t, err)
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = fmt.Sprintf("%s %s %d bytes", aws.ToString(o.ETag),
				aws.ToTime(o.LastModified).UTC().Format(time.RFC3339Nano), aws.ToInt64(o.Size))
		}
	}
	return out
}
