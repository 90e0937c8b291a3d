// Package observability holds the Prometheus alert rules and the Grafana dashboard for the
// pipeline's workers (alerts.yml, grafana-dashboard.json), and reads which metrics they use,
// so tests can hold them to the metrics the worker exports.
package observability

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed alerts.yml grafana-dashboard.json
var files embed.FS

// Rule is one alerting rule of alerts.yml.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Rules reads alerts.yml.
func Rules() ([]Rule, error) {
	b, err := files.ReadFile("alerts.yml")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []Rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("alerts.yml: %w", err)
	}
	var out []Rule
	for _, g := range doc.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

// Panel is one panel of the Grafana dashboard.
type Panel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// Panels reads grafana-dashboard.json.
func Panels() ([]Panel, error) {
	b, err := files.ReadFile("grafana-dashboard.json")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Panels []Panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("grafana-dashboard.json: %w", err)
	}
	return doc.Panels, nil
}

var identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)

// MetricNames lists the metrics the rules and the dashboard query, sorted: the pipeline's
// (wistia_*), the Temporal SDK's (temporal_*), and Prometheus's own up. A histogram's series
// (_bucket, _sum, _count) are named by the histogram.
func MetricNames() ([]string, error) {
	rules, err := Rules()
	if err != nil {
		return nil, err
	}
	panels, err := Panels()
	if err != nil {
		return nil, err
	}
	var exprs []string
	for _, r := range rules {
		exprs = append(exprs, r.Expr)
	}
	for _, p := range panels {
		for _, t := range p.Targets {
			exprs = append(exprs, t.Expr)
		}
	}
	var names []string
	for _, e := range exprs {
		for _, id := range identifier.FindAllString(e, -1) {
			if id == "up" || strings.HasPrefix(id, "wistia_") || strings.HasPrefix(id, "temporal_") {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if strings.HasSuffix(id, "_seconds"+suffix) {
						id = strings.TrimSuffix(id, suffix)
					}
				}
				names = append(names, id)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
