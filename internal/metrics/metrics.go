// Package metrics exposes the worker's Prometheus metrics: the Temporal SDK's own (through a
// client.MetricsHandler) and the pipeline's.
package metrics

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/wistia"
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
	// LastSuccess is when each stream last landed in this worker, and "merge" when days were
	// last merged and checked: the alert on silence compares it with now.
	LastSuccess *prometheus.GaugeVec
	// WatermarkLag is how far behind its run's date the furthest-behind media was, among those
	// this worker planned for the latest catch-up date.
	WatermarkLag prometheus.Gauge
	// MaintenanceFailures counts runs whose table maintenance failed after its retries.
	MaintenanceFailures prometheus.Counter
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
	p.LastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "wistia", Name: "last_success_timestamp_seconds",
		Help: "When each stream last landed in this worker (stream=merge: days last merged and checked), Unix seconds."}, []string{"stream"})
	p.WatermarkLag = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "wistia", Name: "watermark_lag_days",
		Help: "Days between the latest catch-up run's date and the watermark of the furthest-behind media this worker planned for it."})
	p.MaintenanceFailures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "wistia", Name: "table_maintenance_failures_total",
		Help: "Runs whose table maintenance (snapshot expiry, orphan deletion) failed after its retries; the next run retries it."})
	reg.MustRegister(p.Bytes, p.MergeDuration, p.PercentOverOne, p.LastSuccess, p.WatermarkLag, p.MaintenanceFailures)
	return p
}

// RegisterClient exports the Wistia client's request counts from stats.
func RegisterClient(reg prometheus.Registerer, stats func() wistia.Stats) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "wistia", Name: "http_requests_total", Help: "HTTP requests sent to Wistia, retries included."},
			func() float64 { return float64(stats().Requests) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "wistia", Name: "retries_total", Help: "Wistia requests retried."},
			func() float64 { return float64(stats().Retries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "wistia", Name: "rate_limited_total", Help: "429 (and 503 with Retry-After) answers from Wistia."},
			func() float64 { return float64(stats().RateLimited) }),
	)
}

// StreamMerge is LastSuccess's stream for days merged and checked.
const StreamMerge = "merge"

// SDKHandler adapts a Prometheus registry to the Temporal SDK's metrics, named the Prometheus
// way: dots become underscores, counters end in _total and timers are histograms in seconds.
// The SDK tags one metric with different label sets (a poller's metrics with and without an
// activity type, say); every series keeps all its tags, and the others of the metric show the
// labels they lack as empty, as Prometheus wants one label set per metric.
type SDKHandler struct {
	reg  prometheus.Registerer
	tags map[string]string // never changed once the handler exists: series share it
	key  string            // the series key of tags
	fams *families
}

type families struct {
	mu   sync.Mutex
	byID map[string]*family
}

// NewSDKHandler returns a handler registering the SDK's metrics in reg.
func NewSDKHandler(reg prometheus.Registerer) *SDKHandler {
	return &SDKHandler{reg: reg, tags: map[string]string{}, key: seriesKey(nil), fams: &families{byID: map[string]*family{}}}
}

var _ client.MetricsHandler = (*SDKHandler)(nil)

// WithTags returns a handler whose metrics carry tags as well.
func (h *SDKHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	maps.Copy(merged, tags)
	return &SDKHandler{reg: h.reg, tags: merged, key: seriesKey(merged), fams: h.fams}
}

func metricName(name string) string { return strings.NewReplacer(".", "_", "-", "_").Replace(name) }

// timerBuckets span a millisecond to about four minutes.
var timerBuckets = prometheus.ExponentialBuckets(0.001, 4, 10)

// family is one metric: its series by label set, exposed with the union of their labels.
type family struct {
	name, help string
	kind       prometheus.ValueType // CounterValue, GaugeValue, or UntypedValue for a histogram
	mu         sync.Mutex
	series     map[string]*series
}

type series struct {
	tags    map[string]string
	value   float64
	count   uint64
	sum     float64
	buckets []uint64 // per upper bound of timerBuckets, not cumulative
}

func (h *SDKHandler) family(name string, kind prometheus.ValueType) *family {
	id := fmt.Sprint(kind, name)
	h.fams.mu.Lock()
	defer h.fams.mu.Unlock()
	f, ok := h.fams.byID[id]
	if !ok {
		f = &family{name: name, help: "Temporal SDK metric " + name, kind: kind, series: map[string]*series{}}
		h.reg.MustRegister(f)
		h.fams.byID[id] = f
	}
	return f
}

// seriesKey names a tag set: fmt prints maps sorted by key.
func seriesKey(tags map[string]string) string { return fmt.Sprint(tags) }

// of is the series of a handler's tags (its key made once, with the handler).
func (f *family) of(key string, tags map[string]string) *series {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.series[key]
	if !ok {
		s = &series{tags: tags}
		if f.kind == prometheus.UntypedValue {
			s.buckets = make([]uint64, len(timerBuckets))
		}
		f.series[key] = s
	}
	return s
}

// Describe sends nothing: the family's labels grow with the tags the SDK uses, so it is an
// unchecked collector.
func (f *family) Describe(chan<- *prometheus.Desc) {}

// Collect exposes every series with the union of the family's labels.
func (f *family) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := map[string]bool{}
	for _, s := range f.series {
		for k := range s.tags {
			names[k] = true
		}
	}
	labels := slices.Sorted(maps.Keys(names))
	desc := prometheus.NewDesc(f.name, f.help, labels, nil)
	for _, s := range f.series {
		values := make([]string, len(labels))
		for i, l := range labels {
			values[i] = s.tags[l]
		}
		if f.kind != prometheus.UntypedValue {
			ch <- prometheus.MustNewConstMetric(desc, f.kind, s.value, values...)
			continue
		}
		cumulative := make(map[float64]uint64, len(timerBuckets))
		var n uint64
		for i, b := range timerBuckets {
			n += s.buckets[i]
			cumulative[b] = n
		}
		ch <- prometheus.MustNewConstHistogram(desc, s.count, s.sum, cumulative, values...)
	}
}

// Counter is a Prometheus counter named after the SDK metric, with _total.
func (h *SDKHandler) Counter(name string) client.MetricsCounter {
	f := h.family(metricName(name)+"_total", prometheus.CounterValue)
	return counter{f, f.of(h.key, h.tags)}
}

// Gauge is a Prometheus gauge named after the SDK metric.
func (h *SDKHandler) Gauge(name string) client.MetricsGauge {
	f := h.family(metricName(name), prometheus.GaugeValue)
	return gauge{f, f.of(h.key, h.tags)}
}

// Timer is a Prometheus histogram, in seconds, named after the SDK metric.
func (h *SDKHandler) Timer(name string) client.MetricsTimer {
	f := h.family(metricName(name)+"_seconds", prometheus.UntypedValue)
	return timer{f, f.of(h.key, h.tags)}
}

type counter struct {
	f *family
	s *series
}

func (c counter) Inc(n int64) {
	c.f.mu.Lock()
	c.s.value += float64(n)
	c.f.mu.Unlock()
}

type gauge struct {
	f *family
	s *series
}

func (g gauge) Update(v float64) {
	g.f.mu.Lock()
	g.s.value = v
	g.f.mu.Unlock()
}

type timer struct {
	f *family
	s *series
}

func (t timer) Record(d time.Duration) {
	v := d.Seconds()
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.s.count++
	t.s.sum += v
	for i, b := range timerBuckets {
		if v <= b {
			t.s.buckets[i]++
			return
		}
	}
}
