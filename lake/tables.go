// Package lake is the lakehouse: the pipeline's silver and gold tables in one Iceberg catalog,
// the transform that merges bronze into silver and recomputes gold, the checks of both, and
// the lake's configuration. Each part has its room: lake/bronze (raw objects), lake/state
// (what the workers share), lake/engine (Iceberg), lake/silver and lake/gold (the tables).
package lake

import (
	"github.com/apache/iceberg-go"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
)

// Tables lists every table the pipeline writes, silver first, as their packages declare them.
func Tables() []engine.Info { return append(silver.Tables(), gold.Tables()...) }

// columnProperties are the Parquet settings of the columns the pipeline's tables share, set on
// every table.
var columnProperties = iceberg.Properties{
	// Columns whose values are (nearly) all distinct: a dictionary only costs time to build and
	// is then dropped for plain encoding.
	"write.parquet.dict-encoding-enabled.column._source":     "false",
	"write.parquet.dict-encoding-enabled.column.event_key":   "false",
	"write.parquet.dict-encoding-enabled.column.received_at": "false",
	"write.parquet.dict-encoding-enabled.column.record_key":  "false",
	"write.parquet.dict-encoding-enabled.column.visitor_key": "false",
	"write.parquet.dict-encoding-enabled.column.visitor_id":  "false",
	// The strings of a few values each per day. zstd makes their plain pages nearly as small as a
	// dictionary (at 4M events these columns grew from 0.2 to 0.8 MB, of 122 MB), and arrow-go
	// allocates for every string it looks up in a dictionary: 1.1 s of a 4M-event transform's
	// 21 s of CPU. Numbers (percent viewed, watch time) and the IP keep theirs: it halves them.
	"write.parquet.dict-encoding-enabled.column.media_id":        "false",
	"write.parquet.dict-encoding-enabled.column.embed_url":       "false",
	"write.parquet.dict-encoding-enabled.column.country":         "false",
	"write.parquet.dict-encoding-enabled.column.region":          "false",
	"write.parquet.dict-encoding-enabled.column.city":            "false",
	"write.parquet.dict-encoding-enabled.column.org":             "false",
	"write.parquet.dict-encoding-enabled.column.conversion_type": "false",
	"write.parquet.dict-encoding-enabled.column._run_id":         "false",
}
