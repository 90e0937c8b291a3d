// Package metrics exposes the worker's Prometheus metrics: the Temporal SDK's own (through a
// client.MetricsHandler) and the pipeline's.
package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// Pipeline holds the pipeline's own metrics.
type Pipeline struct {
	Requests      *prometheus.CounterVec // API pages read, by stream
	Records       *prometheus.CounterVec // records landed in bronze, by stream
	Rejects       *prometheus.CounterVec // records the client could not type, by stream
	Quarantined   *prometheus.CounterVec // rows added to silver.quarantine, by stream: each bad record once
	Bytes         prometheus.Counter     // bronze bytes written
	MergeDuration *prometheus.HistogramVec
	// PercentOverOne counts events merged whose percent_viewed is above 1 (kept; capped in gold).
	PercentOverOne prometheus.Counter
}

// NewPipeline registers the pipeline's metrics in reg.
func NewPipeline(reg prometheus.Registerer) *Pipeline {
	f := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "wistia", Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	p := &Pipeline{
		Requests:    f("pages_total", "Wistia API pages read, by stream.", "stream"),
		Records:     f("records_total", "Records landed in bronze.", "stream"),
		Rejects:     f("rejected_records_total", "Records the client could not type (kept in bronze).", "stream"),
		Quarantined: f("quarantined_total", "Rows added to silver.quarantine: each bad record counts once, however often it is read.", "stream"),
		Bytes:       prometheus.NewCounter(prometheus.CounterOpts{Namespace: "wistia", Name: "bronze_bytes_total", Help: "Bronze bytes written."}),
		PercentOverOne: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "wistia", Name: "percent_viewed_over_one_total",
			Help: "Events merged whose percent_viewed is above 1: kept in silver, capped at 1 in gold watch time."}),
		MergeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "wistia", Name: "merge_duration_seconds",
			Help: "Duration of one table merge.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}, []string{"table"}),
	}
	reg.MustRegister(p.Bytes, p.MergeDuration, p.PercentOverOne)
	return p
}

// SDKHandler adapts a Prometheus registry to the Temporal SDK's metrics. Each metric name gets
// the label set of its first use; later uses with other tags fill missing labels with "" and
// drop the extra ones rather than fail.
type SDKHandler struct {
	reg  prometheus.Registerer
	tags map[string]string
	vecs *vecs
}

type vecs struct {
	mu       sync.Mutex
	counters map[string]*labeled[*prometheus.CounterVec]
	gauges   map[string]*labeled[*prometheus.GaugeVec]
	timers   map[string]*labeled[*prometheus.HistogramVec]
}

type labeled[V any] struct {
	vec    V
	labels []string
}

// NewSDKHandler returns a handler registering the SDK's metrics in reg.
func NewSDKHandler(reg prometheus.Registerer) *SDKHandler {
	return &SDKHandler{reg: reg, tags: map[string]string{}, vecs: &vecs{
		counters: map[string]*labeled[*prometheus.CounterVec]{},
		gauges:   map[string]*labeled[*prometheus.GaugeVec]{},
		timers:   map[string]*labeled[*prometheus.HistogramVec]{},
	}}
}

var _ client.MetricsHandler = (*SDKHandler)(nil)

// WithTags returns a handler whose metrics carry tags as well.
func (h *SDKHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	maps.Copy(merged, tags)
	return &SDKHandler{reg: h.reg, tags: merged, vecs: h.vecs}
}

func metricName(name string) string { return strings.NewReplacer(".", "_", "-", "_").Replace(name) }

func (h *SDKHandler) values(labels []string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = h.tags[l]
	}
	return out
}

func get[V prometheus.Collector](h *SDKHandler, m map[string]*labeled[V], name string, build func(labels []string) V) (V, []string) {
	h.vecs.mu.Lock()
	defer h.vecs.mu.Unlock()
	l, ok := m[name]
	if !ok {
		labels := slices.Sorted(maps.Keys(h.tags))
		l = &labeled[V]{vec: build(labels), labels: labels}
		if err := h.reg.Register(l.vec); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				l.vec = are.ExistingCollector.(V)
			}
		}
		m[name] = l
	}
	return l.vec, h.values(l.labels)
}

// Counter is a Prometheus counter named after the SDK metric.
func (h *SDKHandler) Counter(name string) client.MetricsCounter {
	vec, values := get(h, h.vecs.counters, name, func(labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricName(name), Help: "Temporal SDK metric " + name}, labels)
	})
	return counter{vec.WithLabelValues(values...)}
}

// Gauge is a Prometheus gauge named after the SDK metric.
func (h *SDKHandler) Gauge(name string) client.MetricsGauge {
	vec, values := get(h, h.vecs.gauges, name, func(labels []string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricName(name), Help: "Temporal SDK metric " + name}, labels)
	})
	return gauge{vec.WithLabelValues(values...)}
}

// Timer is a Prometheus histogram, in seconds, named after the SDK metric.
func (h *SDKHandler) Timer(name string) client.MetricsTimer {
	vec, values := get(h, h.vecs.timers, name, func(labels []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metricName(name) + "_seconds",
			Help: "Temporal SDK metric " + name, Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, labels)
	})
	return timer{vec.WithLabelValues(values...)}
}

type counter struct{ c prometheus.Counter }

func (c counter) Inc(n int64) { c.c.Add(float64(n)) }

type gauge struct{ g prometheus.Gauge }

func (g gauge) Update(v float64) { g.g.Set(v) }

type timer struct{ o prometheus.Observer }

func (t timer) Record(d time.Duration) { t.o.Observe(d.Seconds()) }
