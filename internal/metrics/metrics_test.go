package metrics

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/wistia"
)

func TestSDKMetricsFollowPrometheusNamesAndKeepEveryLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewSDKHandler(reg)
	poll := h.WithTags(map[string]string{"namespace": "default", "task_queue": "wistia"})
	poll.Counter("temporal_request").Inc(2)
	poll.WithTags(map[string]string{"operation": "PollActivityTaskQueue"}).Counter("temporal_request").Inc(3)
	poll.Gauge("temporal.worker.slots").Update(4)
	poll.WithTags(map[string]string{"activity_type": "IngestDayEvents"}).Timer("temporal_activity_execution_latency").Record(30 * time.Millisecond)

	want := `
# HELP temporal_request_total Temporal SDK metric temporal_request_total
# TYPE temporal_request_total counter
temporal_request_total{namespace="default",operation="",task_queue="wistia"} 2
temporal_request_total{namespace="default",operation="PollActivityTaskQueue",task_queue="wistia"} 3
# HELP temporal_worker_slots Temporal SDK metric temporal_worker_slots
# TYPE temporal_worker_slots gauge
temporal_worker_slots{namespace="default",task_queue="wistia"} 4
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "temporal_request_total", "temporal_worker_slots"))

	families, err := reg.Gather()
	require.NoError(t, err)
	var found bool
	for _, f := range families {
		if f.GetName() != "temporal_activity_execution_latency_seconds" {
			continue
		}
		found = true
		m := f.GetMetric()[0]
		assert.Equal(t, uint64(1), m.GetHistogram().GetSampleCount())
		assert.InDelta(t, 0.03, m.GetHistogram().GetSampleSum(), 1e-9)
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		assert.Equal(t, map[string]string{"activity_type": "IngestDayEvents", "namespace": "default", "task_queue": "wistia"}, labels)
		for _, b := range m.GetHistogram().GetBucket() {
			if b.GetUpperBound() >= 0.064 {
				assert.Equal(t, uint64(1), b.GetCumulativeCount(), "le %g", b.GetUpperBound())
			} else if b.GetUpperBound() < 0.016 {
				assert.Zero(t, b.GetCumulativeCount(), "le %g", b.GetUpperBound())
			}
		}
	}
	assert.True(t, found, "timers are histograms in seconds")
}

func TestPipelineMetricNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := NewPipeline(reg)
	p.LastSuccess.WithLabelValues(StreamMerge).Set(1.7e9)
	p.WatermarkLag.Set(3)
	want := `
# HELP wistia_last_success_timestamp_seconds When each stream last landed in this worker (stream=merge: days last merged and checked), Unix seconds.
# TYPE wistia_last_success_timestamp_seconds gauge
wistia_last_success_timestamp_seconds{stream="merge"} 1.7e+09
# HELP wistia_watermark_lag_days Days between the latest catch-up run's date and the watermark of the furthest-behind media this worker planned for it.
# TYPE wistia_watermark_lag_days gauge
wistia_watermark_lag_days 3
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "wistia_last_success_timestamp_seconds", "wistia_watermark_lag_days"))
}

// The embedded-metric-format line carries what CloudWatch needs (a millisecond timestamp, the
// namespace, the Account dimension, each metric's unit) and each counter's increase since the
// line before, read from the same registry /metrics serves.
func TestEMFLinesCarryTheIncreaseSinceTheLastLine(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := NewPipeline(reg)
	var stats wistia.Stats
	RegisterClient(reg, func() wistia.Stats { return stats })
	var out strings.Builder
	e := &EMF{Namespace: "WistiaPipeline/staging", Account: "acme", Gatherer: reg, Out: &out}

	stats.Requests, stats.RateLimited = 40, 3
	p.Records.WithLabelValues("events").Add(90)
	p.Records.WithLabelValues("by_date").Add(10)
	p.Quarantined.WithLabelValues("events").Add(2)
	p.WatermarkLag.Set(4)
	p.MaintenanceFailures.Inc()
	at := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	require.NoError(t, e.Write(at))
	stats.Requests = 50
	p.Records.WithLabelValues("events").Add(5)
	p.WatermarkLag.Set(1)
	require.NoError(t, e.Write(at.Add(time.Minute)))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	var first, second map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &second))
	aws := first["_aws"].(map[string]any)
	assert.EqualValues(t, at.UnixMilli(), aws["Timestamp"])
	def := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	assert.Equal(t, "WistiaPipeline/staging", def["Namespace"])
	assert.Equal(t, []any{[]any{"Account"}}, def["Dimensions"])
	units := map[string]string{}
	for _, m := range def["Metrics"].([]any) {
		units[m.(map[string]any)["Name"].(string)] = m.(map[string]any)["Unit"].(string)
	}
	assert.Equal(t, map[string]string{"HttpRequests": "Count", "RateLimited": "Count", "RecordsLanded": "Count",
		"Quarantined": "Count", "MaintenanceFailures": "Count", "WatermarkLagDays": "None"}, units)
	for name, want := range map[string]float64{"HttpRequests": 40, "RateLimited": 3, "RecordsLanded": 100, "Quarantined": 2, "MaintenanceFailures": 1, "WatermarkLagDays": 4} {
		assert.EqualValues(t, want, first[name], name)
	}
	assert.Equal(t, "acme", first["Account"])
	for name, want := range map[string]float64{"HttpRequests": 10, "RateLimited": 0, "RecordsLanded": 5, "Quarantined": 0, "MaintenanceFailures": 0, "WatermarkLagDays": 1} {
		assert.EqualValues(t, want, second[name], name)
	}
}
