package gold

import (
	"github.com/apache/iceberg-go"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// TableSchemas returns the Iceberg schema of every gold table, keyed by table name
// ("dim_media", "fact_media_daily", …), as the pipeline creates the tables in the gold
// namespace. The schemas are built from the table definitions on each call, so a caller may
// keep or change what it gets.
func TableSchemas() map[string]*iceberg.Schema {
	schemas := map[string]*iceberg.Schema{}
	for _, t := range Tables() {
		if layer, name := t.Ident(); layer == engine.Gold {
			schemas[name] = t.Schema()
		}
	}
	return schemas
}
