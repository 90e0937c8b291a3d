// Package lake is the lakehouse: the silver and gold Iceberg tables, the transform that merges
// bronze into silver and recomputes gold, the checks of both against bronze, and the lake's
// configuration. Bronze itself is package lake/bronze.
package lake

import (
	"cmp"
	"strings"
	"time"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// The silver and gold tables (each gold column is defined in docs/metrics.md). Fact and event tables are partitioned by day; entity
// tables (media, visitors and their dimensions) have no day of their own, so they are
// partitioned by a bucket of their key, which never moves a row between partitions when a
// Type-1 update arrives.

// sameExceptLineage compares two rows ignoring their lineage.
func sameExceptLineage[R comparable](lin func(*R) *lineage) func(a, b *R) bool {
	return func(a, b *R) bool {
		x, y := *a, *b
		*lin(&x), *lin(&y) = lineage{}, lineage{}
		return x == y
	}
}

// lineage is the bronze provenance every silver row carries.
type lineage struct {
	IngestedAt time.Time // _ingested_at of the bronze line
	RunID      string
	Source     string // bronze object key and line, "key#line"
}

func lineageCols[R any](f func(*R) *lineage) []engine.Column[R] {
	return []engine.Column[R]{
		engine.TimeCol("_ingested_at", true, "when the bronze line landed", func(r *R) *time.Time { return &f(r).IngestedAt }),
		engine.StrCol("_run_id", true, "the run that landed the bronze line", func(r *R) *string { return &f(r).RunID }),
		engine.StrCol("_source", true, "bronze object key and line number", func(r *R) *string { return &f(r).Source }),
	}
}

// newerLine orders two bronze versions of a row: later landing wins, then the later source.
func newerLine(a, b *lineage) int {
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
	lineage
}

var eventsTable = engine.NewTable(engine.Silver, "events", append([]engine.Column[Event]{
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
}, lineageCols(func(r *Event) *lineage { return &r.lineage })...), "date", false,
	func(a, b *Event) int { return strings.Compare(a.EventKey, b.EventKey) },
	func(a, b *Event) int { return newerLine(&a.lineage, &b.lineage) },
	nil, func(r *Event) dates.Date { return r.Date })

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
	lineage
}

var mediaTable = engine.NewTable(engine.Silver, "media", append([]engine.Column[Media]{
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
}, lineageCols(func(r *Media) *lineage { return &r.lineage })...), "hashed_id", true,
	func(a, b *Media) int { return strings.Compare(a.HashedID, b.HashedID) },
	func(a, b *Media) int { return newerLine(&a.lineage, &b.lineage) },
	func(r *Media) string { return r.HashedID }, nil)

// DailyStat is one row of silver.media_daily_stats.
type DailyStat struct {
	MediaID      string
	Date         dates.Date
	LoadCount    int64
	PlayCount    int64
	HoursWatched float64
	lineage
}

var dailyStatsTable = engine.NewTable(engine.Silver, "media_daily_stats", append([]engine.Column[DailyStat]{
	engine.StrCol("media_id", true, "hashed id of the media", func(r *DailyStat) *string { return &r.MediaID }),
	engine.DateCol("date", true, "", func(r *DailyStat) *dates.Date { return &r.Date }),
	engine.Int64Col("load_count", false, "", func(r *DailyStat) *int64 { return &r.LoadCount }),
	engine.Int64Col("play_count", false, "", func(r *DailyStat) *int64 { return &r.PlayCount }),
	engine.Float64Col("hours_watched", false, "hours", func(r *DailyStat) *float64 { return &r.HoursWatched }),
}, lineageCols(func(r *DailyStat) *lineage { return &r.lineage })...), "date", false,
	func(a, b *DailyStat) int {
		return cmp.Or(strings.Compare(a.MediaID, b.MediaID), cmp.Compare(a.Date, b.Date))
	},
	func(a, b *DailyStat) int { return newerLine(&a.lineage, &b.lineage) },
	nil, func(r *DailyStat) dates.Date { return r.Date })

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
	lineage
}

var visitorsTable = engine.NewTable(engine.Silver, "visitors", append([]engine.Column[Visitor]{
	engine.StrCol("visitor_key", true, "Wistia's visitor key", func(r *Visitor) *string { return &r.VisitorKey }),
	engine.TimeCol("created_at", false, "", func(r *Visitor) *time.Time { return &r.CreatedAt }),
	engine.TimeCol("last_active_at", false, "", func(r *Visitor) *time.Time { return &r.LastActiveAt }),
	engine.Int64Col("load_count", false, "lifetime loads Wistia reports", func(r *Visitor) *int64 { return &r.LoadCount }),
	engine.Int64Col("play_count", false, "lifetime plays Wistia reports", func(r *Visitor) *int64 { return &r.PlayCount }),
	engine.StrCol("browser", false, "", func(r *Visitor) *string { return &r.Browser }),
	engine.StrCol("platform", false, "", func(r *Visitor) *string { return &r.Platform }),
	engine.BoolCol("mobile", false, "", func(r *Visitor) *bool { return &r.Mobile }),
}, lineageCols(func(r *Visitor) *lineage { return &r.lineage })...), "visitor_key", true,
	func(a, b *Visitor) int { return strings.Compare(a.VisitorKey, b.VisitorKey) },
	func(a, b *Visitor) int { return newerLine(&a.lineage, &b.lineage) },
	func(r *Visitor) string { return r.VisitorKey }, nil)

// Quarantined is one bronze line that could not be typed (silver.quarantine).
type Quarantined struct {
	RecordKey string // sha256 of the stream, day and the API record without bronze metadata
	Stream    string
	Date      dates.Date // the bronze dt= day
	Reason    string
	Raw       string
	lineage
}

var quarantineTable = engine.NewTable(engine.Silver, "quarantine", append([]engine.Column[Quarantined]{
	engine.StrCol("record_key", true, "sha256 of stream, day and the API record: the same record landed again is one row", func(r *Quarantined) *string { return &r.RecordKey }),
	engine.StrCol("stream", true, "bronze stream", func(r *Quarantined) *string { return &r.Stream }),
	engine.DateCol("date", true, "bronze dt= day", func(r *Quarantined) *dates.Date { return &r.Date }),
	engine.StrCol("reason", true, "why the line could not be typed", func(r *Quarantined) *string { return &r.Reason }),
	engine.StrCol("raw", true, "the API record as it came, without bronze metadata", func(r *Quarantined) *string { return &r.Raw }),
}, lineageCols(func(r *Quarantined) *lineage { return &r.lineage })...), "date", false,
	func(a, b *Quarantined) int { return strings.Compare(a.RecordKey, b.RecordKey) },
	func(a, b *Quarantined) int { return newerLine(&a.lineage, &b.lineage) },
	nil, func(r *Quarantined) dates.Date { return r.Date })

// DimMedia is one row of gold.dim_media (Type 1).
type DimMedia struct {
	MediaID   string
	Title     string
	URL       string
	Channel   string
	CreatedAt time.Time
	Project   string
	Duration  float64
	version   time.Time // the silver row's _ingested_at; not stored
}

var dimMediaTable = engine.NewTable(engine.Gold, "dim_media", []engine.Column[DimMedia]{
	engine.StrCol("media_id", true, "hashed media id", func(r *DimMedia) *string { return &r.MediaID }),
	engine.StrCol("title", false, "", func(r *DimMedia) *string { return &r.Title }),
	engine.StrCol("url", false, "", func(r *DimMedia) *string { return &r.URL }),
	engine.StrCol("channel", true, "from the channel rules; unknown when none matched", func(r *DimMedia) *string { return &r.Channel }),
	engine.TimeCol("created_at", false, "", func(r *DimMedia) *time.Time { return &r.CreatedAt }),
	engine.StrCol("project", false, "", func(r *DimMedia) *string { return &r.Project }),
	engine.Float64Col("duration_seconds", false, "", func(r *DimMedia) *float64 { return &r.Duration }),
}, "media_id", true,
	func(a, b *DimMedia) int { return strings.Compare(a.MediaID, b.MediaID) },
	func(a, b *DimMedia) int { return a.version.Compare(b.version) },
	func(r *DimMedia) string { return r.MediaID }, nil)

// DimVisitor is one row of gold.dim_visitor (Type 1: the latest event's values).
type DimVisitor struct {
	VisitorID  string
	IPAddress  string
	Country    string
	LastSeenAt time.Time
}

var dimVisitorTable = engine.NewTable(engine.Gold, "dim_visitor", []engine.Column[DimVisitor]{
	engine.StrCol("visitor_id", true, "Wistia's visitor key", func(r *DimVisitor) *string { return &r.VisitorID }),
	engine.StrCol("ip_address", false, "", func(r *DimVisitor) *string { return &r.IPAddress }),
	engine.StrCol("country", false, "", func(r *DimVisitor) *string { return &r.Country }),
	engine.TimeCol("last_seen_at", true, "received_at of the event the values come from", func(r *DimVisitor) *time.Time { return &r.LastSeenAt }),
}, "visitor_id", true,
	func(a, b *DimVisitor) int { return strings.Compare(a.VisitorID, b.VisitorID) },
	func(a, b *DimVisitor) int {
		if c := a.LastSeenAt.Compare(b.LastSeenAt); c != 0 {
			return c // the usual answer: the strings are joined only on a tie
		}
		return strings.Compare(a.IPAddress+a.Country, b.IPAddress+b.Country)
	},
	func(r *DimVisitor) string { return r.VisitorID }, nil)

// FactEngagement is one row of gold.fact_media_engagement (grain: media, visitor, date).
type FactEngagement struct {
	MediaID        string
	VisitorID      string
	Date           dates.Date
	PlayCount      int64
	PlayRate       float64
	TotalWatchTime float64
	WatchedPercent float64
}

var engagementTable = engine.NewTable(engine.Gold, "fact_media_engagement", []engine.Column[FactEngagement]{
	engine.StrCol("media_id", true, "", func(r *FactEngagement) *string { return &r.MediaID }),
	engine.StrCol("visitor_id", true, "", func(r *FactEngagement) *string { return &r.VisitorID }),
	engine.DateCol("date", true, "", func(r *FactEngagement) *dates.Date { return &r.Date }),
	engine.Int64Col("play_count", true, "events of the visitor on the media that day", func(r *FactEngagement) *int64 { return &r.PlayCount }),
	engine.Float64Col("play_rate", true, "play_count / the media's load_count that day", func(r *FactEngagement) *float64 { return &r.PlayRate }),
	engine.Float64Col("total_watch_time", true, "seconds", func(r *FactEngagement) *float64 { return &r.TotalWatchTime }),
	engine.Float64Col("watched_percent", true, "total_watch_time / (play_count × duration), 0 to 1", func(r *FactEngagement) *float64 { return &r.WatchedPercent }),
}, "date", false,
	func(a, b *FactEngagement) int {
		if c := strings.Compare(a.MediaID, b.MediaID); c != 0 {
			return c // compared first, and alone, as a sort of a day's rows calls this millions of times
		}
		return cmp.Or(strings.Compare(a.VisitorID, b.VisitorID), cmp.Compare(a.Date, b.Date))
	},
	func(a, b *FactEngagement) int { return 0 },
	nil, func(r *FactEngagement) dates.Date { return r.Date })

// FactMediaDaily is one row of gold.fact_media_daily (grain: media, date).
type FactMediaDaily struct {
	MediaID      string
	Date         dates.Date
	LoadCount    int64
	PlayCount    int64
	PlayRate     float64
	HoursWatched float64
}

var mediaDailyTable = engine.NewTable(engine.Gold, "fact_media_daily", []engine.Column[FactMediaDaily]{
	engine.StrCol("media_id", true, "", func(r *FactMediaDaily) *string { return &r.MediaID }),
	engine.DateCol("date", true, "", func(r *FactMediaDaily) *dates.Date { return &r.Date }),
	engine.Int64Col("load_count", true, "", func(r *FactMediaDaily) *int64 { return &r.LoadCount }),
	engine.Int64Col("play_count", true, "", func(r *FactMediaDaily) *int64 { return &r.PlayCount }),
	engine.Float64Col("play_rate", true, "play_count / load_count, 0 without loads", func(r *FactMediaDaily) *float64 { return &r.PlayRate }),
	engine.Float64Col("hours_watched", true, "", func(r *FactMediaDaily) *float64 { return &r.HoursWatched }),
}, "date", false,
	func(a, b *FactMediaDaily) int {
		return cmp.Or(strings.Compare(a.MediaID, b.MediaID), cmp.Compare(a.Date, b.Date))
	},
	func(a, b *FactMediaDaily) int { return 0 },
	nil, func(r *FactMediaDaily) dates.Date { return r.Date })

func init() {
	eventsTable.WithSame(sameExceptLineage(func(r *Event) *lineage { return &r.lineage }))
	mediaTable.WithSame(sameExceptLineage(func(r *Media) *lineage { return &r.lineage }))
	dailyStatsTable.WithSame(sameExceptLineage(func(r *DailyStat) *lineage { return &r.lineage }))
	visitorsTable.WithSame(sameExceptLineage(func(r *Visitor) *lineage { return &r.lineage }))
	quarantineTable.WithSame(sameExceptLineage(func(r *Quarantined) *lineage { return &r.lineage }))
}

// Tables lists every table the pipeline writes, silver first.
func Tables() []engine.Info {
	return []engine.Info{eventsTable, mediaTable, dailyStatsTable, visitorsTable, quarantineTable,
		dimMediaTable, dimVisitorTable, engagementTable, mediaDailyTable}
}
