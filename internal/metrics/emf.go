package metrics

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// EMF writes the metrics the deploy stack alarms on as CloudWatch embedded metric format
// lines: the awslogs driver already ships the worker's output, and CloudWatch turns each line
// into metric points, so no collector runs beside the worker. Counters are sent as what they
// added since the last line; the values come from the Prometheus registry, so /metrics and
// CloudWatch never disagree.
type EMF struct {
	Namespace string // the stack's metric namespace (one per environment)
	Account   string // the Account dimension: WISTIA_ACCOUNT
	Gatherer  prometheus.Gatherer
	Out       io.Writer
	last      map[string]float64
}

// emfMetric is one CloudWatch metric made from a Prometheus metric.
type emfMetric struct {
	name, from, unit string
	counter          bool // send the increase since the last line
}

// emfMetrics are what the stack's alarms read; deploy/cdk names the same.
var emfMetrics = []emfMetric{
	{"HttpRequests", "wistia_http_requests_total", "Count", true},
	{"RateLimited", "wistia_rate_limited_total", "Count", true},
	{"RecordsLanded", "wistia_records_total", "Count", true},
	{"Quarantined", "wistia_quarantined_total", "Count", true},
	{"MaintenanceFailures", "wistia_table_maintenance_failures_total", "Count", true},
	{"WatermarkLagDays", "wistia_watermark_lag_days", "None", false},
}

// Run writes a line every interval until ctx ends, and a last one then.
func (e *EMF) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = e.Write(time.Now())
			return
		case now := <-tick.C:
			_ = e.Write(now)
		}
	}
}

// Write writes one line stamped now.
func (e *EMF) Write(now time.Time) error {
	fams, err := e.Gatherer.Gather()
	if err != nil {
		return err
	}
	sums := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			sums[f.GetName()] += value(f.GetType(), m)
		}
	}
	if e.last == nil {
		e.last = map[string]float64{}
	}
	type definition struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	line := map[string]any{"Account": e.Account}
	defs := make([]definition, 0, len(emfMetrics))
	for _, m := range emfMetrics {
		v := sums[m.from]
		if m.counter {
			v, e.last[m.from] = v-e.last[m.from], v
		}
		line[m.name] = v
		defs = append(defs, definition{m.name, m.unit})
	}
	line["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace": e.Namespace, "Dimensions": [][]string{{"Account"}}, "Metrics": defs,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = e.Out.Write(append(b, '\n'))
	return err
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	}
	return 0
}
