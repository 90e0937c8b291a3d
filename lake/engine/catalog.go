// Package engine is the Iceberg engine under the lakehouse: a table declared once as a Table[R]
// (its columns, partitioning, key and versions), the tables of any iceberg-go catalog (lake
// opens Glue, REST or the sql catalog on sqlite that OpenSQLCatalog opens) and their
// namespaces, copy-on-write merges committed by the project's own snapshot commit, parallel
// Parquet writers, scans and reads, and maintenance (snapshot expiry, orphan files, manifest
// compaction). It knows no table of the pipeline: package lake declares them.
package engine

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"
	_ "modernc.org/sqlite" // the SQL catalog's driver: pure Go, no cgo
)

// CatalogName is the catalog_name the SQL catalog stores its rows under.
const CatalogName = "wistia"

// Warehouse is the tables of one Iceberg catalog, in a silver and a gold namespace.
type Warehouse struct {
	cat       catalog.Catalog
	ns        map[Layer]table.Identifier
	retention time.Duration // how long ExpireSnapshots keeps snapshots
	tables    []Info        // every table, silver first
	props     iceberg.Properties
}

// Options configures New beyond its catalog and tables.
type Options struct {
	SilverNamespace, GoldNamespace string
	SnapshotRetention              time.Duration
	// Properties are set on every table besides the engine's own (tableProperties), e.g. the
	// Parquet settings of columns the tables share.
	Properties iceberg.Properties
}

// New wraps an open catalog holding the given tables (their list is the one the catalog's
// creation, maintenance and reads go through).
func New(cat catalog.Catalog, tables []Info, opts Options) *Warehouse {
	props := maps.Clone(tableProperties)
	maps.Copy(props, opts.Properties)
	l := &Warehouse{cat: cat, retention: opts.SnapshotRetention, tables: tables, props: props,
		ns: map[Layer]table.Identifier{Silver: {cmp.Or(opts.SilverNamespace, "wistia_silver")}, Gold: {cmp.Or(opts.GoldNamespace, "wistia_gold")}}}
	if l.retention <= 0 {
		l.retention = 7 * 24 * time.Hour
	}
	return l
}

// Tables lists the warehouse's tables, silver first.
func (l *Warehouse) Tables() []Info { return l.tables }

// TableNames lists the tables by their "<layer>.<name>" names.
func (l *Warehouse) TableNames() []string {
	names := make([]string, len(l.tables))
	for i, t := range l.tables {
		names[i] = t.TableName()
	}
	return names
}

// Close releases the catalog.
func (l *Warehouse) Close() error {
	if c, ok := l.cat.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// ReadNamespaces reads the silver and gold namespaces' properties (Glue: the databases), the
// first call every table operation makes.
func (l *Warehouse) ReadNamespaces(ctx context.Context) error {
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
	cat, err := sqlcat.NewCatalog(CatalogName, db, sqlcat.SQLite, p)
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

// Info is what the catalog, maintenance and reads need of a table definition, whatever its row type.
type Info interface {
	TableName() string
	Ident() (Layer, string)
	Schema() *iceberg.Schema
	partitionSpec(*iceberg.Schema) (iceberg.PartitionSpec, error)
	dataFiles(context.Context, *Warehouse) (map[string][]string, error)
}

func (t *Table[R]) Ident() (Layer, string)  { return t.layer, t.name }
func (t *Table[R]) Schema() *iceberg.Schema { return t.codec.schema() }
func (t *Table[R]) partitionSpec(sc *iceberg.Schema) (iceberg.PartitionSpec, error) {
	name := t.partCol
	if t.bucketed {
		name += "_bucket"
	}
	return iceberg.NewPartitionSpecOpts(iceberg.AddPartitionFieldByName(t.partCol, name, t.transform(), sc, nil))
}

// Identifier is the catalog's name of one of the warehouse's tables.
func (l *Warehouse) Identifier(t Info) table.Identifier {
	layer, name := t.Ident()
	return append(append(table.Identifier{}, l.ns[layer]...), name)
}

// EnsureTables creates the namespaces and tables that do not exist yet and adds columns the
// code declares but an existing table lacks (a schema update, never a rebuild). It is safe to
// run concurrently and repeatedly.
func (l *Warehouse) EnsureTables(ctx context.Context) error {
	for _, layer := range []Layer{Silver, Gold} {
		err := l.cat.CreateNamespace(ctx, l.ns[layer], nil)
		if err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
			return fmt.Errorf("create namespace %v: %w", l.ns[layer], err)
		}
	}
	for _, t := range l.tables {
		if err := l.ensureTable(ctx, t); err != nil {
			return fmt.Errorf("table %s: %w", t.TableName(), err)
		}
	}
	return nil
}

// tableProperties are set on every table: at creation, and on tables created before them;
// Options.Properties adds to them.
var tableProperties = iceberg.Properties{
	table.PropertyFormatVersion: "2",
	// Merges detect stale bases themselves and redo the work (see Merge).
	table.CommitNumRetriesKey: "0",
	// zstd's fastest level: at 4M events its files came out the size of the default level's
	// (silver.events 73.6 against 73.0 MB, the engagement fact 47.9 against 50.8 MB) for 30%
	// less compression time, which writing the silver and gold files spent most of its CPU on.
	"write.parquet.compression-level": "1",
}

func (l *Warehouse) ensureTable(ctx context.Context, t Info) error {
	ident := l.Identifier(t)
	want := t.Schema()
	tbl, err := l.cat.LoadTable(ctx, ident)
	if errors.Is(err, catalog.ErrNoSuchTable) {
		spec, err := t.partitionSpec(want)
		if err != nil {
			return err
		}
		_, err = l.cat.CreateTable(ctx, ident, want, catalog.WithPartitionSpec(&spec), catalog.WithProperties(l.props))
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
	for k, v := range l.props {
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

// LoadTable loads one of the warehouse's tables as the catalog holds it now.
func (l *Warehouse) LoadTable(ctx context.Context, t Info) (*table.Table, error) {
	return l.cat.LoadTable(ctx, l.Identifier(t))
}

// Catalog is the catalog the warehouse's tables are in.
func (l *Warehouse) Catalog() catalog.Catalog { return l.cat }
