// Package lake is the lakehouse: the pipeline's silver and gold tables in one Iceberg catalog,
// the transform that merges bronze into silver and recomputes gold, the checks of both, and
// the lake's configuration. Each part has its room: lake/bronze (raw objects), lake/state
// (what the workers share), lake/engine (Iceberg), lake/silver and lake/gold (the tables).
package lake

import (
	"github.com/marketing-data/wistia-pipeline/lake/engine"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
)

// Tables lists every table the pipeline writes, silver first, as their packages declare them.
func Tables() []engine.Info { return append(silver.Tables(), gold.Tables()...) }
