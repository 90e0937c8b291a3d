// Package silver owns the silver tables and how bronze becomes them: the row types and their
// table declarations, the typing of bronze lines (quarantining what cannot be typed), the
// events' columnar path (parse, dedupe, merge), the stats zone's day windows, the merge of a
// run's bronze days into every silver table, and the check of silver against the bronze it read.
package silver

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// sameExceptLineage compares two rows ignoring their lineage.
func sameExceptLineage[R comparable](lin func(*R) *Lineage) func(a, b *R) bool {
	return func(a, b *R) bool {
		x, y := *a, *b
		*lin(&x), *lin(&y) = Lineage{}, Lineage{}
		return x == y
	}
}

// Lineage is the bronze provenance every silver row carries.
type Lineage struct {
	IngestedAt time.Time // _ingested_at of the bronze line
	RunID      string
	Source     string // bronze object key and line, "key#line"
}

func lineageCols[R any](f func(*R) *Lineage) []engine.Column[R] {
	return []engine.Column[R]{
		engine.TimeCol("_ingested_at", true, "when the bronze line landed", func(r *R) *time.Time { return &f(r).IngestedAt }),
		engine.StrCol("_run_id", true, "the run that landed the bronze line", func(r *R) *string { return &f(r).RunID }),
		engine.StrCol("_source", true, "bronze object key and line number", func(r *R) *string { return &f(r).Source }),
	}
}

// newerLine orders two bronze versions of a row: later landing wins, then the later source.
func newerLine(a, b *Lineage) int {
	return cmp.Or(a.IngestedAt.Compare(b.IngestedAt), cmp.Compare(a.Source, b.Source))
}

// Event is one row of silver.events.
type Event struct {
	EventKey       string
	Date           dates.Date
	ReceivedAt     time.Time
	MediaID        string
	VisitorKey     string
	PercentViewed  float64
	EmbedURL       string
	IP             string
	Country        string
	Region         string
	City           string
	Org            string
	ConversionType string
	Lineage
}

var EventsTable = declare(engine.NewTable(engine.Silver, "events", append([]engine.Column[Event]{
	engine.StrCol("event_key", true, "Wistia's event key", func(r *Event) *string { return &r.EventKey }),
	engine.DateCol("date", true, "day of received_at in the account's stats zone", func(r *Event) *dates.Date { return &r.Date }),
	engine.TimeCol("received_at", true, "when Wistia received the event", func(r *Event) *time.Time { return &r.ReceivedAt }),
	engine.StrCol("media_id", false, "hashed id of the media", func(r *Event) *string { return &r.MediaID }),
	engine.StrCol("visitor_key", false, "Wistia's visitor key", func(r *Event) *string { return &r.VisitorKey }),
	engine.Float64Col("percent_viewed", false, "share of the media watched, 0 to 1", func(r *Event) *float64 { return &r.PercentViewed }),
	engine.StrCol("embed_url", false, "page the media was embedded on", func(r *Event) *string { return &r.EmbedURL }),
	engine.StrCol("ip", false, "visitor IP address", func(r *Event) *string { return &r.IP }),
	engine.StrCol("country", false, "", func(r *Event) *string { return &r.Country }),
	engine.StrCol("region", false, "", func(r *Event) *string { return &r.Region }),
	engine.StrCol("city", false, "", func(r *Event) *string { return &r.City }),
	engine.StrCol("org", false, "visitor organisation", func(r *Event) *string { return &r.Org }),
	engine.StrCol("conversion_type", false, "", func(r *Event) *string { return &r.ConversionType }),
}, lineageCols(func(r *Event) *Lineage { return &r.Lineage })...), "date", false,
	func(a, b *Event) int { return strings.Compare(a.EventKey, b.EventKey) },
	func(a, b *Event) int { return newerLine(&a.Lineage, &b.Lineage) },
	nil, func(r *Event) dates.Date { return r.Date }).WithSame(sameExceptLineage(func(r *Event) *Lineage { return &r.Lineage })))

// Media is one row of silver.media.
type Media struct {
	HashedID     string
	ID           int64
	Name         string
	Type         string
	Archived     bool
	Created      time.Time
	Updated      time.Time
	Duration     float64
	Status       string
	Section      string
	ProjectID    string
	ProjectName  string
	FolderName   string
	Tags         string // comma-separated, in API order
	ThumbnailURL string
	Lineage
}

var MediaTable = declareFromBronze(bronze.StreamMedias, typeMedia, engine.NewTable(engine.Silver, "media", append([]engine.Column[Media]{
	engine.StrCol("hashed_id", true, "Wistia's hashed media id", func(r *Media) *string { return &r.HashedID }),
	engine.Int64Col("id", false, "numeric media id", func(r *Media) *int64 { return &r.ID }),
	engine.StrCol("name", false, "", func(r *Media) *string { return &r.Name }),
	engine.StrCol("type", false, "Video, Audio, …", func(r *Media) *string { return &r.Type }),
	engine.BoolCol("archived", false, "", func(r *Media) *bool { return &r.Archived }),
	engine.TimeCol("created", false, "", func(r *Media) *time.Time { return &r.Created }),
	engine.TimeCol("updated", false, "", func(r *Media) *time.Time { return &r.Updated }),
	engine.Float64Col("duration", false, "seconds", func(r *Media) *float64 { return &r.Duration }),
	engine.StrCol("status", false, "", func(r *Media) *string { return &r.Status }),
	engine.StrCol("section", false, "", func(r *Media) *string { return &r.Section }),
	engine.StrCol("project_id", false, "hashed project id", func(r *Media) *string { return &r.ProjectID }),
	engine.StrCol("project_name", false, "", func(r *Media) *string { return &r.ProjectName }),
	engine.StrCol("folder_name", false, "subfolder name", func(r *Media) *string { return &r.FolderName }),
	engine.StrCol("tags", false, "comma-separated tags", func(r *Media) *string { return &r.Tags }),
	engine.StrCol("thumbnail_url", false, "", func(r *Media) *string { return &r.ThumbnailURL }),
}, lineageCols(func(r *Media) *Lineage { return &r.Lineage })...), "hashed_id", true,
	func(a, b *Media) int { return strings.Compare(a.HashedID, b.HashedID) },
	func(a, b *Media) int { return newerLine(&a.Lineage, &b.Lineage) },
	func(r *Media) string { return r.HashedID }, nil).WithSame(sameExceptLineage(func(r *Media) *Lineage { return &r.Lineage })))

// DailyStat is one row of silver.media_daily_stats.
type DailyStat struct {
	MediaID      string
	Date         dates.Date
	LoadCount    int64
	PlayCount    int64
	HoursWatched float64
	Lineage
}

var DailyStatsTable = declareFromBronze(bronze.StreamDailyStats, typeDailyStat, engine.NewTable(engine.Silver, "media_daily_stats", append([]engine.Column[DailyStat]{
	engine.StrCol("media_id", true, "hashed id of the media", func(r *DailyStat) *string { return &r.MediaID }),
	engine.DateCol("date", true, "", func(r *DailyStat) *dates.Date { return &r.Date }),
	engine.Int64Col("load_count", false, "", func(r *DailyStat) *int64 { return &r.LoadCount }),
	engine.Int64Col("play_count", false, "", func(r *DailyStat) *int64 { return &r.PlayCount }),
	engine.Float64Col("hours_watched", false, "hours", func(r *DailyStat) *float64 { return &r.HoursWatched }),
}, lineageCols(func(r *DailyStat) *Lineage { return &r.Lineage })...), "date", false,
	func(a, b *DailyStat) int {
		return cmp.Or(strings.Compare(a.MediaID, b.MediaID), cmp.Compare(a.Date, b.Date))
	},
	func(a, b *DailyStat) int { return newerLine(&a.Lineage, &b.Lineage) },
	nil, func(r *DailyStat) dates.Date { return r.Date }).WithSame(sameExceptLineage(func(r *DailyStat) *Lineage { return &r.Lineage })))

// Visitor is one row of silver.visitors.
type Visitor struct {
	VisitorKey   string
	CreatedAt    time.Time
	LastActiveAt time.Time
	LoadCount    int64
	PlayCount    int64
	Browser      string
	Platform     string
	Mobile       bool
	Lineage
}

var VisitorsTable = declareFromBronze(bronze.StreamVisitors, typeVisitor, engine.NewTable(engine.Silver, "visitors", append([]engine.Column[Visitor]{
	engine.StrCol("visitor_key", true, "Wistia's visitor key", func(r *Visitor) *string { return &r.VisitorKey }),
	engine.TimeCol("created_at", false, "", func(r *Visitor) *time.Time { return &r.CreatedAt }),
	engine.TimeCol("last_active_at", false, "", func(r *Visitor) *time.Time { return &r.LastActiveAt }),
	engine.Int64Col("load_count", false, "lifetime loads Wistia reports", func(r *Visitor) *int64 { return &r.LoadCount }),
	engine.Int64Col("play_count", false, "lifetime plays Wistia reports", func(r *Visitor) *int64 { return &r.PlayCount }),
	engine.StrCol("browser", false, "", func(r *Visitor) *string { return &r.Browser }),
	engine.StrCol("platform", false, "", func(r *Visitor) *string { return &r.Platform }),
	engine.BoolCol("mobile", false, "", func(r *Visitor) *bool { return &r.Mobile }),
}, lineageCols(func(r *Visitor) *Lineage { return &r.Lineage })...), "visitor_key", true,
	func(a, b *Visitor) int { return strings.Compare(a.VisitorKey, b.VisitorKey) },
	func(a, b *Visitor) int { return newerLine(&a.Lineage, &b.Lineage) },
	func(r *Visitor) string { return r.VisitorKey }, nil).WithSame(sameExceptLineage(func(r *Visitor) *Lineage { return &r.Lineage })))

// Quarantined is one bronze line that could not be typed (silver.quarantine).
type Quarantined struct {
	RecordKey string // sha256 of the stream, day and the API record without bronze metadata
	Stream    string
	Date      dates.Date // the bronze dt= day
	Reason    string
	Raw       string
	Lineage
}

var QuarantineTable = declare(engine.NewTable(engine.Silver, "quarantine", append([]engine.Column[Quarantined]{
	engine.StrCol("record_key", true, "sha256 of stream, day and the API record: the same record landed again is one row", func(r *Quarantined) *string { return &r.RecordKey }),
	engine.StrCol("stream", true, "bronze stream", func(r *Quarantined) *string { return &r.Stream }),
	engine.DateCol("date", true, "bronze dt= day", func(r *Quarantined) *dates.Date { return &r.Date }),
	engine.StrCol("reason", true, "why the line could not be typed", func(r *Quarantined) *string { return &r.Reason }),
	engine.StrCol("raw", true, "the API record as it came, without bronze metadata", func(r *Quarantined) *string { return &r.Raw }),
}, lineageCols(func(r *Quarantined) *Lineage { return &r.Lineage })...), "date", false,
	func(a, b *Quarantined) int { return strings.Compare(a.RecordKey, b.RecordKey) },
	func(a, b *Quarantined) int { return newerLine(&a.Lineage, &b.Lineage) },
	nil, func(r *Quarantined) dates.Date { return r.Date }).WithSame(sameExceptLineage(func(r *Quarantined) *Lineage { return &r.Lineage })))

// tables are the silver tables in the order they are declared (see declare).
var tables []engine.Info

// declare adds a table to Tables: a silver table is declared once, and the catalog, the
// readers and the merge find it there.
func declare[R any](t *engine.Table[R]) *engine.Table[R] {
	tables = append(tables, t)
	return t
}

// declareFromBronze is declare for a table Merge fills from a bronze stream (see fromBronze).
func declareFromBronze[R any](stream string, decode func(raw []byte, media string, lin Lineage) (R, string), t *engine.Table[R]) *engine.Table[R] {
	tables = append(tables, fromBronze(stream, decode, t))
	return t
}

// Tables lists the silver tables, in the order Merge merges them.
func Tables() []engine.Info { return slices.Clone(tables) }

// bronzeTable is a silver table filled row by row from one bronze stream: its declaration
// names the stream and the decoder of the stream's lines, and Merge merges every such table
// of the warehouse the same way (an upsert of the latest version of each key; lines that do
// not decode are quarantined).
type bronzeTable[R any] struct {
	*engine.Table[R]
	stream string
	decode func(raw []byte, media string, lin Lineage) (R, string)
}

func fromBronze[R any](stream string, decode func(raw []byte, media string, lin Lineage) (R, string), t *engine.Table[R]) bronzeTable[R] {
	return bronzeTable[R]{Table: t, stream: stream, decode: decode}
}

// fromStream is a bronzeTable whatever its row type.
type fromStream interface {
	engine.Info
	mergeBronze(ctx context.Context, w *engine.Warehouse, store bronze.Store, days []dates.Date, props iceberg.Properties) (engine.MergeResult, []Quarantined, []dates.Date, error)
}

// mergeBronze types the stream's lines of the days and upserts them. It returns what it
// quarantined and, for a table partitioned by date, the dates it merged into.
func (t bronzeTable[R]) mergeBronze(ctx context.Context, w *engine.Warehouse, store bronze.Store, days []dates.Date, props iceberg.Properties) (engine.MergeResult, []Quarantined, []dates.Date, error) {
	rows, bad, err := readStream(ctx, store, t.stream, days, t.decode)
	if err != nil {
		return engine.MergeResult{}, nil, nil, err
	}
	groups := engine.ByPartition(t.Table, rows)
	res, err := engine.MergeGrouped(ctx, w, t.Table, engine.Upsert, props, groups)
	var touched []dates.Date
	if col, bucketed := t.Partitioning(); col != "" && !bucketed {
		for p := range groups {
			touched = append(touched, dates.Date(p))
		}
	}
	return res, bad, touched, err
}
