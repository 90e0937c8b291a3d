package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSDKMetricsFollowPrometheusNamesAndKeepEveryLabel(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewSDKHandler(reg)
	poll := h.WithTags(map[string]string{"namespace": "default", "task_queue": "wistia"})
	poll.Counter("temporal_request").Inc(2)
	poll.WithTags(map[string]string{"operation": "PollActivityTaskQueue"}).Counter("temporal_request").Inc(3)
	poll.Gauge("temporal.worker.slots").Update(4)
	poll.WithTags(map[string]string{"activity_type": "IngestEvents"}).Timer("temporal_activity_execution_latency").Record(30 * time.Millisecond)

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
		assert.Equal(t, map[string]string{"activity_type": "IngestEvents", "namespace": "default", "task_queue": "wistia"}, labels)
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
