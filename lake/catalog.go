package lake

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	_ "github.com/apache/iceberg-go/catalog/glue" // registers "glue"
	_ "github.com/apache/iceberg-go/catalog/rest" // registers "rest"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	icebergio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // registers s3:// warehouses
	"github.com/apache/iceberg-go/table"

	"github.com/marketing-data/wistia-pipeline/internal/config"
	"github.com/marketing-data/wistia-pipeline/internal/dates"
)

// catalogName is the catalog_name the SQL catalog stores its rows under.
const catalogName = "wistia"

// Lakehouse is the silver and gold tables in one Iceberg catalog.
type Lakehouse struct {
	cat      catalog.Catalog
	ns       map[Layer]table.Identifier
	channels ChannelRules
	// retention is how long snapshots are kept by ExpireSnapshots.
	retention time.Duration
	pii       PII
	zone      dates.Zone // the account's stats zone: the days of events' dates
}

// LakehouseOptions configures OpenLakehouse beyond its catalog.
type LakehouseOptions struct {
	SilverNamespace, GoldNamespace string
	Channels                       ChannelRules
	SnapshotRetention              time.Duration
	PII                            PII
	Zone                           dates.Zone // the account's stats zone; the zero Zone is UTC
}

// Zone is the account's stats zone: the days of the tables' dates.
func (l *Lakehouse) Zone() dates.Zone { return l.zone }

// NewLakehouse wraps an open catalog.
func NewLakehouse(cat catalog.Catalog, opts LakehouseOptions) *Lakehouse {
	l := &Lakehouse{cat: cat, channels: opts.Channels, retention: opts.SnapshotRetention, pii: opts.PII, zone: opts.Zone,
		ns: map[Layer]table.Identifier{Silver: {cmp.Or(opts.SilverNamespace, "wistia_silver")}, Gold: {cmp.Or(opts.GoldNamespace, "wistia_gold")}}}
	if l.channels == nil {
		l.channels = DefaultChannelRules()
	}
	if l.retention <= 0 {
		l.retention = 7 * 24 * time.Hour
	}
	return l
}

// Close releases the catalog.
func (l *Lakehouse) Close() error {
	if c, ok := l.cat.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// ReadNamespaces reads the silver and gold namespaces' properties (Glue: the databases), the
// first call every table operation makes.
func (l *Lakehouse) ReadNamespaces(ctx context.Context) error {
	for _, layer := range []Layer{Silver, Gold} {
		if _, err := l.cat.LoadNamespaceProperties(ctx, l.ns[layer]); err != nil {
			return fmt.Errorf("read namespace %s: %w", l.ns[layer], err)
		}
	}
	return nil
}

// OpenSQLCatalog opens (creating if needed) a SQL catalog in a sqlite file, with WAL and a busy
// timeout so that several workers on one machine can commit concurrently.
func OpenSQLCatalog(path, warehouse string, props iceberg.Properties) (catalog.Catalog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("catalog folder: %w", err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(30000)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	p := iceberg.Properties{"warehouse": warehouse}
	for k, v := range props {
		p[k] = v
	}
	cat, err := sqlcat.NewCatalog(catalogName, db, sqlcat.SQLite, p)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	return &ownedSQLCatalog{Catalog: cat, db: db}, nil
}

// ownedSQLCatalog closes the database it was opened on.
type ownedSQLCatalog struct {
	*sqlcat.Catalog
	db *sql.DB
}

func (c *ownedSQLCatalog) Close() error { return errors.Join(c.Catalog.Close(), c.db.Close()) }

// tableInfo is what catalog maintenance needs of a table definition, whatever its row type.
type tableInfo interface {
	TableName() string
	ident() (Layer, string)
	icebergSchema() *iceberg.Schema
	partitionSpec(*iceberg.Schema) (iceberg.PartitionSpec, error)
	dataFiles(context.Context, *Lakehouse) (map[string][]string, error)
}

func (t *tableDef[R]) ident() (Layer, string)         { return t.layer, t.name }
func (t *tableDef[R]) icebergSchema() *iceberg.Schema { return t.codec.schema() }
func (t *tableDef[R]) partitionSpec(sc *iceberg.Schema) (iceberg.PartitionSpec, error) {
	name := t.partCol
	if t.bucketed {
		name += "_bucket"
	}
	return iceberg.NewPartitionSpecOpts(iceberg.AddPartitionFieldByName(t.partCol, name, t.transform(), sc, nil))
}

// allTables lists every table the pipeline writes, silver first.
var allTables = []tableInfo{eventsTable, mediaTable, dailyStatsTable, visitorsTable, quarantineTable,
	dimMediaTable, dimVisitorTable, engagementTable, mediaDailyTable}

// TableNames lists the tables by their "<layer>.<name>" names.
func TableNames() []string {
	names := make([]string, len(allTables))
	for i, t := range allTables {
		names[i] = t.TableName()
	}
	return names
}

func (l *Lakehouse) identifier(t tableInfo) table.Identifier {
	layer, name := t.ident()
	return append(append(table.Identifier{}, l.ns[layer]...), name)
}

// EnsureTables creates the namespaces and tables that do not exist yet and adds columns the
// code declares but an existing table lacks (a schema update, never a rebuild). It is safe to
// run concurrently and repeatedly.
func (l *Lakehouse) EnsureTables(ctx context.Context) error {
	for _, layer := range []Layer{Silver, Gold} {
		err := l.cat.CreateNamespace(ctx, l.ns[layer], nil)
		if err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
			return fmt.Errorf("create namespace %v: %w", l.ns[layer], err)
		}
	}
	for _, t := range allTables {
		if err := l.ensureTable(ctx, t); err != nil {
			return fmt.Errorf("table %s: %w", t.TableName(), err)
		}
	}
	return nil
}

// tableProperties are set on every table: at creation, and on tables created before them.
var tableProperties = iceberg.Properties{
	table.PropertyFormatVersion: "2",
	// Merges detect stale bases themselves and redo the work (see merge).
	table.CommitNumRetriesKey: "0",
	// zstd's fastest level: at 4M events its files came out the size of the default level's
	// (silver.events 73.6 against 73.0 MB, the engagement fact 47.9 against 50.8 MB) for 30%
	// less compression time, which writing the silver and gold files spent most of its CPU on.
	"write.parquet.compression-level": "1",
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

func (l *Lakehouse) ensureTable(ctx context.Context, t tableInfo) error {
	ident := l.identifier(t)
	want := t.icebergSchema()
	tbl, err := l.cat.LoadTable(ctx, ident)
	if errors.Is(err, catalog.ErrNoSuchTable) {
		spec, err := t.partitionSpec(want)
		if err != nil {
			return err
		}
		_, err = l.cat.CreateTable(ctx, ident, want, catalog.WithPartitionSpec(&spec), catalog.WithProperties(tableProperties))
		if errors.Is(err, catalog.ErrTableAlreadyExists) {
			return nil // created by a concurrent caller
		}
		return err
	}
	if err != nil {
		return err
	}
	var missing []string
	for _, f := range want.Fields() {
		if _, ok := tbl.Schema().FindFieldByName(f.Name); !ok {
			missing = append(missing, f.Name)
		}
	}
	props := iceberg.Properties{}
	for k, v := range tableProperties {
		if tbl.Properties()[k] != v && k != table.PropertyFormatVersion {
			props[k] = v
		}
	}
	if len(missing) == 0 && len(props) == 0 {
		return nil
	}
	tx := tbl.NewTransaction()
	if len(missing) > 0 {
		if err := tx.UpdateSchema(true, false).UnionByNameWith(want).Commit(); err != nil {
			return fmt.Errorf("add columns %v: %w", missing, err)
		}
	}
	if len(props) > 0 {
		if err := tx.SetProperties(props); err != nil {
			return fmt.Errorf("set properties of %s: %w", t.TableName(), err)
		}
	}
	_, err = tx.Commit(ctx)
	if err != nil && isStaleBase(err) {
		return nil // a concurrent caller brought it up to date
	}
	return err
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
	rules := DefaultChannelRules()
	if c.ChannelRules != "" {
		var err error
		if rules, err = ParseChannelRules(c.ChannelRules); err != nil {
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
		cat, err = OpenSQLCatalog(c.CatalogPath(), warehouse, props)
	case "glue":
		props["type"] = "glue"
		props["glue.region"] = c.AWSRegion
		cat, err = catalog.Load(ctx, catalogName, props)
	case "rest":
		props["type"] = "rest"
		props["uri"] = c.CatalogURI
		cat, err = catalog.Load(ctx, catalogName, props)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s catalog: %w", c.Catalog, err)
	}
	return NewLakehouse(cat, LakehouseOptions{SilverNamespace: c.SilverNamespace, GoldNamespace: c.GoldNamespace,
		Channels: rules, SnapshotRetention: time.Duration(c.SnapshotRetention) * 24 * time.Hour,
		PII: PII{InSilver: c.PIIInSilver, Salt: []byte(c.PIISalt.Reveal())}, Zone: c.Zone()}), nil
}
