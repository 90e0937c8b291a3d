package soak_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// tableKeys is each table's grain, written down here rather than taken from the lake's merge
// code, so the check is independent of what it checks.
var tableKeys = map[string][]string{
	"silver.events":              {"event_key"},
	"silver.media":               {"hashed_id"},
	"silver.media_daily_stats":   {"media_id", "date"},
	"silver.visitors":            {"visitor_key"},
	"silver.quarantine":          {"record_key"},
	"gold.dim_media":             {"media_id"},
	"gold.dim_visitor":           {"visitor_id"},
	"gold.fact_media_engagement": {"media_id", "visitor_id", "date"},
	"gold.fact_media_daily":      {"media_id", "date"},
}

func assertUniqueKeys(t *testing.T, lh *lake.Lakehouse) {
	t.Helper()
	require.ElementsMatch(t, lake.TableNames(), slices.Collect(maps.Keys(tableKeys)), "every table has its key written down")
	for _, name := range lake.TableNames() {
		res, err := lh.Read(context.Background(), name, 0, 0, 0)
		require.NoError(t, err)
		var cols []int
		for _, k := range tableKeys[name] {
			i := slices.Index(res.Columns, k)
			require.GreaterOrEqual(t, i, 0, "%s has column %s", name, k)
			cols = append(cols, i)
		}
		seen := map[string]bool{}
		for _, row := range res.Rows {
			var key strings.Builder
			for _, i := range cols {
				fmt.Fprint(&key, row[i], "|")
			}
			assert.False(t, seen[key.String()], "%s holds key %s twice", name, key.String())
			seen[key.String()] = true
		}
	}
}

// assertBronzeImmutable lists bronze and checks that every object seen on an earlier day
// still has its ETag: bronze is only ever added to. It returns the number of objects.
func (w *week) assertBronzeImmutable(t *testing.T) int {
	t.Helper()
	n := 0
	p := s3.NewListObjectsV2Paginator(w.s3c, &s3.ListObjectsV2Input{Bucket: aws.String("lake"), Prefix: aws.String("bronze/")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, o := range page.Contents {
			n++
			key, etag := aws.ToString(o.Key), aws.ToString(o.ETag)
			if before, ok := w.bronze[key]; ok {
				assert.Equal(t, before, etag, "bronze object %s was rewritten", key)
				continue
			}
			w.bronze[key] = etag
		}
	}
	assert.Len(t, w.bronze, n, "no bronze object disappeared")
	return n
}

// assertRuns checks the date's executions: none is still open, and every failed daily run
// raised an alert. It returns the workflow runs that failed and ran again, and the activity
// attempts after the first.
func (w *week) assertRuns(t *testing.T, date string) (runsRetried, activityRetries int) {
	t.Helper()
	ctx := context.Background()
	prefixes := []string{workflows.DailyRunID(account, date), workflows.MediaIngestID(account, date, "")}
	var failedDaily int
	var token []byte
	for {
		resp, err := w.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000, NextPageToken: token})
		require.NoError(t, err)
		for _, e := range resp.Executions {
			id := e.Execution.WorkflowId
			if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(id, p) }) {
				continue
			}
			switch e.Status {
			case enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
				assert.Fail(t, "a run is stuck", "%s (%s) is still running after its day", id, e.Execution.RunId)
			case enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, enums.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
			default:
				runsRetried++
				if e.Type.Name == workflows.DailyRunType {
					failedDaily++
				}
			}
			activityRetries += w.retriedActivities(t, id, e.Execution.RunId)

		}
		if token = resp.NextPageToken; len(token) == 0 {
			break
		}
	}
	assert.GreaterOrEqual(t, w.alerts(t), failedDaily, "every failed daily run of %s raised an alert", date)
	return runsRetried, activityRetries
}

// retriedActivities counts the activity attempts after the first in one run's history.
func (w *week) retriedActivities(t *testing.T, id, runID string) int {
	t.Helper()
	n := 0
	it := w.tc.GetWorkflowHistory(context.Background(), id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.Attempt > 1 {
			n++
		}

	}
	return n
}

// A merge rewrites each partition it touches into one file, and a date stays in the daily
// run's window for four runs, so every snapshot kept (SNAPSHOT_RETENTION_DAYS outlasts the
// soak) adds at most one file per partition per run, and a killed merge one more. These bound
// what the current snapshot and the store may hold per partition; a merge that piled files up
// (retries appending instead of replacing, orphans never cleaned) would pass them in days.
const (
	maxLiveFilesPerPartition   = 1
	maxStoredFilesPerPartition = 12
)

// assertFilesBounded returns the most data files any partition holds in the current
// snapshots and in the store, and the files no snapshot references (orphans).
func (w *week) assertFilesBounded(t *testing.T, lh *lake.Lakehouse) (live, stored, orphans int) {
	t.Helper()
	for _, name := range lake.TableNames() {
		files, err := lh.DataFiles(context.Background(), name)
		require.NoError(t, err)
		for part, list := range files {
			live = max(live, len(list))
			assert.LessOrEqual(t, len(list), maxLiveFilesPerPartition, "%s partition %s holds %d data files", name, part, len(list))
		}
	}
	perPartition := map[string]int{}
	p := s3.NewListObjectsV2Paginator(w.s3c, &s3.ListObjectsV2Input{Bucket: aws.String("lake"), Prefix: aws.String("warehouse/")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, o := range page.Contents {
			if dir, _, ok := strings.Cut(aws.ToString(o.Key), ".parquet"); ok && strings.Contains(dir, "/data/") {
				perPartition[dir[:strings.LastIndex(dir, "/")]]++
			}
		}
	}
	for part, n := range perPartition {
		stored = max(stored, n)
		assert.LessOrEqual(t, n, maxStoredFilesPerPartition, "%s holds %d data files in the store", part, n)
	}
	byTable, err := lh.OrphanFiles(context.Background())
	require.NoError(t, err)
	for _, n := range byTable {
		orphans += n
	}
	return live, stored, orphans
}
