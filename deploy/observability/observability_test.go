package observability_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/deploy/observability"
	"github.com/marketing-data/wistia-pipeline/internal/metrics"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// describing is a registry that keeps what each collector registered in it describes, so a
// vector without series yet is named too.
type describing struct {
	*prometheus.Registry
	descs []*prometheus.Desc
}

func (d *describing) MustRegister(cs ...prometheus.Collector) {
	ch := make(chan *prometheus.Desc, 16)
	for _, c := range cs {
		go func() { c.Describe(ch); ch <- nil }()
		for desc := <-ch; desc != nil; desc = <-ch {
			d.descs = append(d.descs, desc)
		}
	}
	d.Registry.MustRegister(cs...)
}

// pipelineMetrics are the names of the metrics the worker registers itself (the Temporal
// SDK's are checked against a worker's scrape in workflows' dev-server test).
func pipelineMetrics(t *testing.T) []string {
	reg := &describing{Registry: prometheus.NewRegistry()}
	metrics.NewPipeline(reg)
	metrics.RegisterClient(reg, func() wistia.Stats { return wistia.Stats{} })
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	var names []string
	for _, d := range reg.descs {
		m := fq.FindStringSubmatch(d.String())
		require.Len(t, m, 2, d.String())
		names = append(names, m[1])
	}
	require.NotEmpty(t, names)
	slices.Sort(names)
	return slices.Compact(names)
}

func TestRulesAndDashboardNameOnlyMetricsTheWorkerExports(t *testing.T) {
	names, err := observability.MetricNames()
	require.NoError(t, err)
	require.NotEmpty(t, names)
	exported := pipelineMetrics(t)
	var wistiaNames int
	for _, n := range names {
		if strings.HasPrefix(n, "wistia_") {
			wistiaNames++
			assert.Contains(t, exported, n, "%s is a metric of the worker", n)
		}
	}
	assert.GreaterOrEqual(t, wistiaNames, 8)
	assert.Contains(t, names, "up", "the worker-down alert reads Prometheus's up")
}

func TestRulesAreComplete(t *testing.T) {
	rules, err := observability.Rules()
	require.NoError(t, err)
	var alerts []string
	for _, r := range rules {
		alerts = append(alerts, r.Alert)
		assert.NotEmpty(t, r.Expr, r.Alert)
		_, err := time.ParseDuration(r.For)
		assert.NoError(t, err, "%s: for %q", r.Alert, r.For)
		assert.Contains(t, []string{"page", "ticket"}, r.Labels["severity"], r.Alert)
		assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
		assert.NotEmpty(t, r.Annotations["description"], r.Alert)
	}
	// The four: no successful run in 26 hours, worker down, 429s rising, quarantine over 1%.
	for _, want := range []string{"WistiaNoVerifiedMergeIn26Hours", "WistiaWorkerDown", "WistiaRateLimitedRising", "WistiaQuarantineOverOnePercent"} {
		assert.Contains(t, alerts, want)
	}
	panels, err := observability.Panels()
	require.NoError(t, err)
	require.NotEmpty(t, panels)
	for _, p := range panels {
		assert.NotEmpty(t, p.Targets, p.Title)
	}
}
