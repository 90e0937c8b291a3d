// Package lake is the lakehouse: the silver and gold Iceberg tables, the transform that merges
// bronze into silver and recomputes gold, the checks of both against bronze, and the lake's
// configuration. Bronze itself is package lake/bronze.
package lake

import (
	"cmp"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/marketing-data/wistia-pipeline/internal/dates"
)

// The silver and gold tables (each gold column is defined in docs/metrics.md). Fact and event tables are partitioned by day; entity
// tables (media, visitors and their dimensions) have no day of their own, so they are
// partitioned by a bucket of their key, which never moves a row between partitions when a
// Type-1 update arrives.

// entityBuckets is the bucket count of entity tables: each merge rewrites only the buckets
// its keys fall in.
const entityBuckets = 16

// Layer names a table's namespace role.
type Layer string

const (
	Silver Layer = "silver"
	Gold   Layer = "gold"
)

// tableDef describes one table: its columns, its partitioning and how rows are merged.
type tableDef[R any] struct {
	layer Layer
	name  string
	codec codec[R]
	// partCol is the column the table is partitioned by; bucketed tables use the
	// bucket[entityBuckets] transform of it, the others the identity of a date column.
	partCol  string
	bucketed bool
	// key orders rows by their merge key; rows with equal keys are one row.
	key func(a, b *R) int
	// version orders the versions of one key; the greatest wins. Ties keep the row read last.
	version func(a, b *R) int
	// same reports two versions with equal content apart from their bronze lineage: the older
	// one is kept, so re-landing unchanged data leaves the rows exactly as they were. Nil for
	// tables without lineage.
	same   func(a, b *R) bool
	bucket func(any) iceberg.Optional[int32]
	partOf func(r *R) int32
}

func newTable[R any](layer Layer, name string, cols []column[R], partCol string, bucketed bool,
	key, version func(a, b *R) int, partOf func(*R) string, day func(*R) dates.Date) *tableDef[R] {
	t := &tableDef[R]{layer: layer, name: name, codec: codec[R]{columns: cols}, partCol: partCol, bucketed: bucketed, key: key, version: version}
	if bucketed {
		t.bucket = iceberg.BucketTransform{NumBuckets: entityBuckets}.Transformer(iceberg.PrimitiveTypes.String)
		t.partOf = func(r *R) int32 { return t.bucket(partOf(r)).Val }
	} else {
		t.partOf = func(r *R) int32 { return int32(day(r)) }
	}
	return t
}

// TableName is "<layer>.<name>" as callers and operators name tables.
func (t *tableDef[R]) TableName() string { return string(t.layer) + "." + t.name }

func (t *tableDef[R]) transform() iceberg.Transform {
	if t.bucketed {
		return iceberg.BucketTransform{NumBuckets: entityBuckets}
	}
	return iceberg.IdentityTransform{}
}

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

func lineageCols[R any](f func(*R) *lineage) []column[R] {
	return []column[R]{
		timeCol("_ingested_at", true, "when the bronze line landed", func(r *R) *time.Time { return &f(r).IngestedAt }),
		strCol("_run_id", true, "the run that landed the bronze line", func(r *R) *string { return &f(r).RunID }),
		strCol("_source", true, "bronze object key and line number", func(r *R) *string { return &f(r).Source }),
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

var eventsTable = newTable(Silver, "events", append([]column[Event]{
	strCol("event_key", true, "Wistia's event key", func(r *Event) *string { return &r.EventKey }),
	dateCol("date", true, "day of received_at in the account's stats zone", func(r *Event) *dates.Date { return &r.Date }),
	timeCol("received_at", true, "when Wistia received the event", func(r *Event) *time.Time { return &r.ReceivedAt }),
	strCol("media_id", false, "hashed id of the media", func(r *Event) *string { return &r.MediaID }),
	strCol("visitor_key", false, "Wistia's visitor key", func(r *Event) *string { return &r.VisitorKey }),
	float64Col("percent_viewed", false, "share of the media watched, 0 to 1", func(r *Event) *float64 { return &r.PercentViewed }),
	strCol("embed_url", false, "page the media was embedded on", func(r *Event) *string { return &r.EmbedURL }),
	strCol("ip", false, "visitor IP address", func(r *Event) *string { return &r.IP }),
	strCol("country", false, "", func(r *Event) *string { return &r.Country }),
	strCol("region", false, "", func(r *Event) *string { return &r.Region }),
	strCol("city", false, "", func(r *Event) *string { return &r.City }),
	strCol("org", false, "visitor organisation", func(r *Event) *string { return &r.Org }),
	strCol("conversion_type", false, "", func(r *Event) *string { return &r.ConversionType }),
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

var mediaTable = newTable(Silver, "media", append([]column[Media]{
	strCol("hashed_id", true, "Wistia's hashed media id", func(r *Media) *string { return &r.HashedID }),
	int64Col("id", false, "numeric media id", func(r *Media) *int64 { return &r.ID }),
	strCol("name", false, "", func(r *Media) *string { return &r.Name }),
	strCol("type", false, "Video, Audio, …", func(r *Media) *string { return &r.Type }),
	boolCol("archived", false, "", func(r *Media) *bool { return &r.Archived }),
	timeCol("created", false, "", func(r *Media) *time.Time { return &r.Created }),
	timeCol("updated", false, "", func(r *Media) *time.Time { return &r.Updated }),
	float64Col("duration", false, "seconds", func(r *Media) *float64 { return &r.Duration }),
	strCol("status", false, "", func(r *Media) *string { return &r.Status }),
	strCol("section", false, "", func(r *Media) *string { return &r.Section }),
	strCol("project_id", false, "hashed project id", func(r *Media) *string { return &r.ProjectID }),
	strCol("project_name", false, "", func(r *Media) *string { return &r.ProjectName }),
	strCol("folder_name", false, "subfolder name", func(r *Media) *string { return &r.FolderName }),
	strCol("tags", false, "comma-separated tags", func(r *Media) *string { return &r.Tags }),
	strCol("thumbnail_url", false, "", func(r *Media) *string { return &r.ThumbnailURL }),
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

var dailyStatsTable = newTable(Silver, "media_daily_stats", append([]column[DailyStat]{
	strCol("media_id", true, "hashed id of the media", func(r *DailyStat) *string { return &r.MediaID }),
	dateCol("date", true, "", func(r *DailyStat) *dates.Date { return &r.Date }),
	int64Col("load_count", false, "", func(r *DailyStat) *int64 { return &r.LoadCount }),
	int64Col("play_count", false, "", func(r *DailyStat) *int64 { return &r.PlayCount }),
	float64Col("hours_watched", false, "hours", func(r *DailyStat) *float64 { return &r.HoursWatched }),
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

var visitorsTable = newTable(Silver, "visitors", append([]column[Visitor]{
	strCol("visitor_key", true, "Wistia's visitor key", func(r *Visitor) *string { return &r.VisitorKey }),
	timeCol("created_at", false, "", func(r *Visitor) *time.Time { return &r.CreatedAt }),
	timeCol("last_active_at", false, "", func(r *Visitor) *time.Time { return &r.LastActiveAt }),
	int64Col("load_count", false, "lifetime loads Wistia reports", func(r *Visitor) *int64 { return &r.LoadCount }),
	int64Col("play_count", false, "lifetime plays Wistia reports", func(r *Visitor) *int64 { return &r.PlayCount }),
	strCol("browser", false, "", func(r *Visitor) *string { return &r.Browser }),
	strCol("platform", false, "", func(r *Visitor) *string { return &r.Platform }),
	boolCol("mobile", false, "", func(r *Visitor) *bool { return &r.Mobile }),
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

var quarantineTable = newTable(Silver, "quarantine", append([]column[Quarantined]{
	strCol("record_key", true, "sha256 of stream, day and the API record: the same record landed again is one row", func(r *Quarantined) *string { return &r.RecordKey }),
	strCol("stream", true, "bronze stream", func(r *Quarantined) *string { return &r.Stream }),
	dateCol("date", true, "bronze dt= day", func(r *Quarantined) *dates.Date { return &r.Date }),
	strCol("reason", true, "why the line could not be typed", func(r *Quarantined) *string { return &r.Reason }),
	strCol("raw", true, "the API record as it came, without bronze metadata", func(r *Quarantined) *string { return &r.Raw }),
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

var dimMediaTable = newTable(Gold, "dim_media", []column[DimMedia]{
	strCol("media_id", true, "hashed media id", func(r *DimMedia) *string { return &r.MediaID }),
	strCol("title", false, "", func(r *DimMedia) *string { return &r.Title }),
	strCol("url", false, "", func(r *DimMedia) *string { return &r.URL }),
	strCol("channel", true, "from the channel rules; unknown when none matched", func(r *DimMedia) *string { return &r.Channel }),
	timeCol("created_at", false, "", func(r *DimMedia) *time.Time { return &r.CreatedAt }),
	strCol("project", false, "", func(r *DimMedia) *string { return &r.Project }),
	float64Col("duration_seconds", false, "", func(r *DimMedia) *float64 { return &r.Duration }),
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

var dimVisitorTable = newTable(Gold, "dim_visitor", []column[DimVisitor]{
	strCol("visitor_id", true, "Wistia's visitor key", func(r *DimVisitor) *string { return &r.VisitorID }),
	strCol("ip_address", false, "", func(r *DimVisitor) *string { return &r.IPAddress }),
	strCol("country", false, "", func(r *DimVisitor) *string { return &r.Country }),
	timeCol("last_seen_at", true, "received_at of the event the values come from", func(r *DimVisitor) *time.Time { return &r.LastSeenAt }),
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

var engagementTable = newTable(Gold, "fact_media_engagement", []column[FactEngagement]{
	strCol("media_id", true, "", func(r *FactEngagement) *string { return &r.MediaID }),
	strCol("visitor_id", true, "", func(r *FactEngagement) *string { return &r.VisitorID }),
	dateCol("date", true, "", func(r *FactEngagement) *dates.Date { return &r.Date }),
	int64Col("play_count", true, "events of the visitor on the media that day", func(r *FactEngagement) *int64 { return &r.PlayCount }),
	float64Col("play_rate", true, "play_count / the media's load_count that day", func(r *FactEngagement) *float64 { return &r.PlayRate }),
	float64Col("total_watch_time", true, "seconds", func(r *FactEngagement) *float64 { return &r.TotalWatchTime }),
	float64Col("watched_percent", true, "total_watch_time / (play_count × duration), 0 to 1", func(r *FactEngagement) *float64 { return &r.WatchedPercent }),
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

var mediaDailyTable = newTable(Gold, "fact_media_daily", []column[FactMediaDaily]{
	strCol("media_id", true, "", func(r *FactMediaDaily) *string { return &r.MediaID }),
	dateCol("date", true, "", func(r *FactMediaDaily) *dates.Date { return &r.Date }),
	int64Col("load_count", true, "", func(r *FactMediaDaily) *int64 { return &r.LoadCount }),
	int64Col("play_count", true, "", func(r *FactMediaDaily) *int64 { return &r.PlayCount }),
	float64Col("play_rate", true, "play_count / load_count, 0 without loads", func(r *FactMediaDaily) *float64 { return &r.PlayRate }),
	float64Col("hours_watched", true, "", func(r *FactMediaDaily) *float64 { return &r.HoursWatched }),
}, "date", false,
	func(a, b *FactMediaDaily) int {
		return cmp.Or(strings.Compare(a.MediaID, b.MediaID), cmp.Compare(a.Date, b.Date))
	},
	func(a, b *FactMediaDaily) int { return 0 },
	nil, func(r *FactMediaDaily) dates.Date { return r.Date })

func init() {
	eventsTable.same = sameExceptLineage(func(r *Event) *lineage { return &r.lineage })
	mediaTable.same = sameExceptLineage(func(r *Media) *lineage { return &r.lineage })
	dailyStatsTable.same = sameExceptLineage(func(r *DailyStat) *lineage { return &r.lineage })
	visitorsTable.same = sameExceptLineage(func(r *Visitor) *lineage { return &r.lineage })
	quarantineTable.same = sameExceptLineage(func(r *Quarantined) *lineage { return &r.lineage })
}
