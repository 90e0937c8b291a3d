// Package gold owns the gold tables (each column is defined in docs/metrics.md) and their
// recompute from silver: the media dimension with its channel rules, the visitor dimension,
// and the daily and engagement facts, with the checks of their keys and ranges.
package gold

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

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

var dimMediaTable = declare(engine.NewTable(engine.Gold, "dim_media", []engine.Column[DimMedia]{
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
	func(r *DimMedia) string { return r.MediaID }, nil))

// DimVisitor is one row of gold.dim_visitor (Type 1: the latest event's values).
type DimVisitor struct {
	VisitorID  string
	IPAddress  string
	Country    string
	LastSeenAt time.Time
}

var dimVisitorTable = declare(engine.NewTable(engine.Gold, "dim_visitor", []engine.Column[DimVisitor]{
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
	func(r *DimVisitor) string { return r.VisitorID }, nil))

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

var engagementTable = declare(engine.NewTable(engine.Gold, "fact_media_engagement", []engine.Column[FactEngagement]{
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
	nil, func(r *FactEngagement) dates.Date { return r.Date }))

// FactMediaDaily is one row of gold.fact_media_daily (grain: media, date).
type FactMediaDaily struct {
	MediaID      string
	Date         dates.Date
	LoadCount    int64
	PlayCount    int64
	PlayRate     float64
	HoursWatched float64
}

var mediaDailyTable = declare(engine.NewTable(engine.Gold, "fact_media_daily", []engine.Column[FactMediaDaily]{
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
	nil, func(r *FactMediaDaily) dates.Date { return r.Date }))

// tables are the gold tables in the order they are declared.
var tables []engine.Info

// declare adds a table to Tables: a gold table is declared once, and the catalog and the
// readers find it there.
func declare[R any](t *engine.Table[R]) *engine.Table[R] {
	tables = append(tables, t)
	return t
}

// Tables lists the gold tables.
func Tables() []engine.Info { return slices.Clone(tables) }
