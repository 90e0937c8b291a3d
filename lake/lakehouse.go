package lake

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	_ "github.com/apache/iceberg-go/catalog/glue" // registers "glue"
	_ "github.com/apache/iceberg-go/catalog/rest" // registers "rest"
	icebergio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // registers s3:// warehouses

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
)

// Lakehouse is the pipeline's silver and gold tables in one Iceberg catalog (the engine's
// Warehouse), with what the transform needs to fill them: the channel rules, the PII policy
// and the account's stats zone.
type Lakehouse struct {
	*engine.Warehouse
	channels gold.ChannelRules
	pii      silver.PII
	zone     dates.Zone // the account's stats zone: the days of events' dates
}

// LakehouseOptions configures OpenLakehouse beyond its catalog.
type LakehouseOptions struct {
	SilverNamespace, GoldNamespace string
	Channels                       gold.ChannelRules
	SnapshotRetention              time.Duration
	PII                            silver.PII
	Zone                           dates.Zone // the account's stats zone; the zero Zone is UTC
	// Tables are the tables of the lakehouse; nil means the pipeline's (Tables).
	Tables []engine.Info
}

// Zone is the account's stats zone: the days of the tables' dates.
func (l *Lakehouse) Zone() dates.Zone { return l.zone }

// NewLakehouse wraps an open catalog.
func NewLakehouse(cat catalog.Catalog, opts LakehouseOptions) *Lakehouse {
	tables := opts.Tables
	if tables == nil {
		tables = Tables()
	}
	l := &Lakehouse{Warehouse: engine.New(cat, tables, engine.Options{SilverNamespace: opts.SilverNamespace,
		GoldNamespace: opts.GoldNamespace, SnapshotRetention: opts.SnapshotRetention, Properties: columnProperties}),
		channels: opts.Channels, pii: opts.PII, zone: opts.Zone}
	if l.channels == nil {
		l.channels = gold.DefaultChannelRules()
	}
	return l
}

// ReadRows returns the rows of R's table, sorted by key (see engine.ReadRows).
func ReadRows[R any](ctx context.Context, l *Lakehouse, from, to dates.Date) ([]R, error) {
	return engine.ReadRows[R](ctx, l.Warehouse, from, to)
}

// Snapshot is a table as the catalog held it when loaded (see engine.Snapshot).
type Snapshot[R any] = engine.Snapshot[R]

// Part is one partition of a Snapshot and its data files (see engine.Part).
type Part = engine.Part

// TableOf is the lakehouse's table of rows of type R: its name, and what writes its rows.
func TableOf[R any](l *Lakehouse) (*engine.Table[R], error) { return engine.TableOf[R](l.Warehouse) }

// LoadSnapshot loads R's table as the catalog holds it now (see engine.Snapshot): a reader
// that caches rows keys them by its ID and reads them through it.
func LoadSnapshot[R any](ctx context.Context, l *Lakehouse) (Snapshot[R], error) {
	return engine.LoadSnapshot[R](ctx, l.Warehouse)
}

// TableNames lists the pipeline's tables by their "<layer>.<name>" names, silver first.
func TableNames() []string {
	tables := Tables()
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.TableName()
	}
	return names
}

// LakehouseConfig is the Iceberg part of the storage settings.
type LakehouseConfig struct {
	Catalog           string `envconfig:"ICEBERG_CATALOG" default:"sql"`
	CatalogURI        string `envconfig:"ICEBERG_CATALOG_URI"`
	Warehouse         string `envconfig:"ICEBERG_WAREHOUSE"`
	SilverNamespace   string `envconfig:"ICEBERG_SILVER_NAMESPACE" default:"wistia_silver"`
	GoldNamespace     string `envconfig:"ICEBERG_GOLD_NAMESPACE" default:"wistia_gold"`
	SnapshotRetention int    `envconfig:"SNAPSHOT_RETENTION_DAYS" default:"7"`
	ChannelRules      string `envconfig:"CHANNEL_RULES"`
	// PIIInSilver lets silver (today: the quarantine's records) hold emails as they came.
	PIIInSilver bool          `envconfig:"PII_COLUMNS_IN_SILVER" default:"false"`
	PIISalt     config.Secret `envconfig:"PII_SALT"` // salts the hash that replaces emails
}

// WarehouseURL is ICEBERG_WAREHOUSE, or the file:// URL of DATA_DIR/warehouse by default.
func (c Config) WarehouseURL() (string, error) {
	if c.Warehouse != "" {
		return c.Warehouse, nil
	}
	abs, err := filepath.Abs(filepath.Join(c.DataDir, "warehouse"))
	if err != nil {
		return "", err
	}
	return "file://" + abs, nil
}

// CatalogPath is the sqlite file of the SQL catalog: ICEBERG_CATALOG_URI, or DATA_DIR/catalog.db.
func (c Config) CatalogPath() string {
	return cmp.Or(c.CatalogURI, filepath.Join(c.DataDir, "catalog.db"))
}

// ioProperties are the file IO settings of the tables under warehouse.
func (c Config) ioProperties(warehouse string) iceberg.Properties {
	props := iceberg.Properties{"warehouse": warehouse}
	if u, _ := url.Parse(warehouse); u != nil && u.Scheme == "s3" {
		// Credentials come from the default AWS chain, never from these properties.
		props[icebergio.S3Region] = c.AWSRegion
		if c.S3Endpoint != "" {
			props[icebergio.S3EndpointURL] = c.S3Endpoint
		}
	}
	return props
}

// ObjectIO is the file IO the tables use at location (a warehouse or bronze URL): the same
// library and calls (HEAD before a delete, say), for checks of what the tables will do.
func (c Config) ObjectIO(ctx context.Context, location string) (icebergio.IO, error) {
	return icebergio.LoadFS(ctx, c.ioProperties(location), location)
}

// OpenLakehouse opens the configured catalog and wraps it; tables are created by EnsureTables.
func (c Config) OpenLakehouse(ctx context.Context) (*Lakehouse, error) {
	rules := gold.DefaultChannelRules()
	if c.ChannelRules != "" {
		var err error
		if rules, err = gold.ParseChannelRules(c.ChannelRules); err != nil {
			return nil, fmt.Errorf("CHANNEL_RULES: %w", err)
		}
	}
	warehouse, err := c.WarehouseURL()
	if err != nil {
		return nil, err
	}
	props := c.ioProperties(warehouse)
	var cat catalog.Catalog
	switch c.Catalog {
	case "sql":
		cat, err = engine.OpenSQLCatalog(c.CatalogPath(), warehouse, props)
	case "glue":
		props["type"] = "glue"
		props["glue.region"] = c.AWSRegion
		cat, err = catalog.Load(ctx, engine.CatalogName, props)
	case "rest":
		props["type"] = "rest"
		props["uri"] = c.CatalogURI
		cat, err = catalog.Load(ctx, engine.CatalogName, props)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s catalog: %w", c.Catalog, err)
	}
	return NewLakehouse(cat, LakehouseOptions{SilverNamespace: c.SilverNamespace, GoldNamespace: c.GoldNamespace,
		Channels: rules, SnapshotRetention: time.Duration(c.SnapshotRetention) * 24 * time.Hour,
		PII: silver.PII{InSilver: c.PIIInSilver, Salt: []byte(c.PIISalt.Reveal())}, Zone: c.Zone()}), nil
}
