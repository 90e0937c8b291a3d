package lake

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/lake/state"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// Config holds the storage settings, read by config.Load. Empty URLs mean the embedded
// defaults under DATA_DIR: a local bronze folder and a sqlite watermark file.
type Config struct {
	DataDir             string `envconfig:"DATA_DIR" default:".data"`
	Account             string `envconfig:"WISTIA_ACCOUNT" default:"default"`
	BronzeURL           string `envconfig:"BRONZE_URL"`
	AWSRegion           string `envconfig:"AWS_REGION" default:"us-east-1"`
	S3Endpoint          string `envconfig:"S3_ENDPOINT"`
	S3PathStyle         bool   `envconfig:"S3_FORCE_PATH_STYLE" default:"false"`
	WatermarksURL       string `envconfig:"WATERMARKS_URL"`
	DynamoDBEndpoint    string `envconfig:"DYNAMODB_ENDPOINT"`
	DynamoDBCreateTable bool   `envconfig:"DYNAMODB_CREATE_TABLE" default:"false"`
	LookbackDays        int    `envconfig:"LOOKBACK_DAYS" default:"2"`
	FirstDay            string `envconfig:"INGEST_FIRST_DAY"`
	// StatsTimezone is the zone the Wistia account counts its stats days in (Account
	// Settings), an IANA name: every date of the tables, keys, watermarks and commands is a
	// day there.
	StatsTimezone string `envconfig:"WISTIA_STATS_TIMEZONE" default:"UTC"`
	LakehouseConfig
}

// Validate reports every bad value.
func (c Config) Validate() []error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, config.Invalid("DATA_DIR", c.DataDir, "a folder for local state"))
	}
	if c.Account == "" || strings.Contains(c.Account, "#") {
		errs = append(errs, config.Invalid("WISTIA_ACCOUNT", c.Account, "a non-empty name without '#'"))
	}
	if u, err := url.Parse(c.BronzeURL); c.BronzeURL != "" && (err != nil || (u.Scheme != "s3" && u.Scheme != "file") || (u.Scheme == "s3" && u.Host == "")) {
		errs = append(errs, config.Invalid("BRONZE_URL", config.URL(c.BronzeURL), "s3://bucket/prefix, file:///folder, or empty for DATA_DIR/lake"))
	}
	if u, err := url.Parse(c.WatermarksURL); c.WatermarksURL != "" && (err != nil || (u.Scheme != "dynamodb" && u.Scheme != "sqlite") || u.Host+u.Path == "") {
		errs = append(errs, config.Invalid("WATERMARKS_URL", config.URL(c.WatermarksURL), "dynamodb://table, sqlite:///file.db, or empty for DATA_DIR/watermarks.db"))
	}
	for name, endpoint := range map[string]string{"S3_ENDPOINT": c.S3Endpoint, "DYNAMODB_ENDPOINT": c.DynamoDBEndpoint} {
		if u, err := url.Parse(endpoint); endpoint != "" && (err != nil || u.Host == "") {
			errs = append(errs, config.Invalid(name, config.URL(endpoint), "an http(s) URL, or empty for AWS"))
		}
	}
	if _, err := dates.LoadZone(c.StatsTimezone); err != nil {
		errs = append(errs, config.Invalid("WISTIA_STATS_TIMEZONE", c.StatsTimezone, "the account's stats time zone, an IANA name such as UTC or America/New_York"))
	}
	if c.LookbackDays < 0 {
		errs = append(errs, config.Invalid("LOOKBACK_DAYS", c.LookbackDays, "0 or more days"))
	}
	if c.FirstDay != "" {
		if _, err := dates.Parse(c.FirstDay); err != nil {
			errs = append(errs, config.Invalid("INGEST_FIRST_DAY", c.FirstDay, "a date YYYY-MM-DD, or empty for 30 days before the target"))
		}
	}
	switch c.Catalog {
	case "sql", "glue":
	case "rest":
		if u, err := url.Parse(c.CatalogURI); err != nil || u.Host == "" {
			errs = append(errs, config.Invalid("ICEBERG_CATALOG_URI", config.URL(c.CatalogURI), "the REST catalog's http(s) URL"))
		}
	default:
		errs = append(errs, config.Invalid("ICEBERG_CATALOG", c.Catalog, "sql, glue or rest"))
	}
	if u, err := url.Parse(c.Warehouse); c.Warehouse != "" && (err != nil || (u.Scheme != "s3" && u.Scheme != "file") || u.Host+u.Path == "") {
		errs = append(errs, config.Invalid("ICEBERG_WAREHOUSE", config.URL(c.Warehouse), "s3://bucket/prefix, file:///folder, or empty for DATA_DIR/warehouse"))
	}
	if c.Catalog == "glue" && !strings.HasPrefix(c.Warehouse, "s3://") {
		errs = append(errs, config.Invalid("ICEBERG_WAREHOUSE", config.URL(c.Warehouse), "an s3:// warehouse, which Athena can read, when ICEBERG_CATALOG=glue"))
	}
	for name, ns := range map[string]string{"ICEBERG_SILVER_NAMESPACE": c.SilverNamespace, "ICEBERG_GOLD_NAMESPACE": c.GoldNamespace} {
		if !validNamespace(ns) {
			errs = append(errs, config.Invalid(name, ns, "lower-case letters, digits and underscores (a Glue database name)"))
		}
	}
	if c.SilverNamespace == c.GoldNamespace {
		errs = append(errs, config.Invalid("ICEBERG_GOLD_NAMESPACE", c.GoldNamespace, "a namespace other than ICEBERG_SILVER_NAMESPACE"))
	}
	if c.SnapshotRetention < 1 {
		errs = append(errs, config.Invalid("SNAPSHOT_RETENTION_DAYS", c.SnapshotRetention, "1 or more days"))
	}
	if c.ChannelRules != "" {
		if _, err := gold.ParseChannelRules(c.ChannelRules); err != nil {
			errs = append(errs, fmt.Errorf("CHANNEL_RULES: %w", err))
		}
	}
	return errs
}

func validNamespace(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// wistia.CatchUpPolicy is the ingest window policy the settings describe.
func (c Config) CatchUpPolicy() wistia.CatchUpPolicy {
	p := wistia.CatchUpPolicy{LookbackDays: c.LookbackDays, Zone: c.Zone()}
	if c.FirstDay != "" {
		p.FirstDay, _ = dates.Parse(c.FirstDay)
	}
	return p
}

// AWS loads the AWS settings from the default chain (environment, shared files, instance role).
func (c Config) AWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(c.AWSRegion))
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// OpenStore opens the bronze store.
func (c Config) OpenStore(ctx context.Context) (bronze.Store, error) {
	u, _ := url.Parse(c.BronzeURL)
	switch {
	case c.BronzeURL == "":
		return bronze.NewLocalStore(filepath.Join(c.DataDir, "lake"))
	case u.Scheme == "file":
		return bronze.NewLocalStore(u.Path)
	}
	awsCfg, err := c.AWS(ctx)
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(c.S3Endpoint)
		}
		o.UsePathStyle = c.S3PathStyle
	})
	return bronze.NewS3Store(client, u.Host, strings.TrimPrefix(u.Path, "/")), nil
}

// OpenWatermarks opens the watermark store, creating the DynamoDB table when asked to.
func (c Config) OpenState(ctx context.Context) (state.Store, error) {
	u, _ := url.Parse(c.WatermarksURL)
	switch {
	case c.WatermarksURL == "":
		return state.OpenSQLite(ctx, filepath.Join(c.DataDir, "watermarks.db"))
	case u.Scheme == "sqlite":
		return state.OpenSQLite(ctx, u.Host+u.Path)
	}
	awsCfg, err := c.AWS(ctx)
	if err != nil {
		return nil, err
	}
	client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if c.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(c.DynamoDBEndpoint)
		}
	})
	if c.DynamoDBCreateTable {
		if err := state.EnsureDynamoTable(ctx, client, u.Host); err != nil {
			return nil, err
		}
	}
	return state.NewDynamo(client, u.Host), nil
}

// Zone is the account's stats zone (WISTIA_STATS_TIMEZONE); Validate has checked it.
func (c Config) Zone() dates.Zone {
	z, _ := dates.LoadZone(c.StatsTimezone)
	return z
}
