package gold

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
)

// Gold is recomputed from silver for the dates a merge touched: gold.dim_media whole, the two
// facts by date, and gold.dim_visitor from the visitors the engagement fact saw. Every column's
// definition is in docs/metrics.md.

// Report is what one recompute of gold did.
type Report struct {
	UnknownMedia int // media no channel rule matched
	Merges       []engine.MergeResult
}

func (r *Report) add(res engine.MergeResult, err error) error {
	r.Merges = append(r.Merges, res)
	return err
}

// Recompute rebuilds gold for the given dates (sorted, without repeats) from silver, with the
// media channels the rules give. Each gold merge reads the silver
// it derives from in every attempt (see prepareFunc), so a merge redone after losing a commit
// race writes what silver holds then, not what the lost attempt read.
func Recompute(ctx context.Context, w *engine.Warehouse, days []dates.Date, channels ChannelRules, props iceberg.Properties) (Report, error) {
	var rep Report
	// Silver holds the latest version of every media, so the dimension is rebuilt whole.
	allBuckets := make([]int32, engine.EntityBuckets)
	for i := range allBuckets {
		allBuckets[i] = int32(i)
	}
	unknown := 0
	res, err := engine.Merge(ctx, w, dimMediaTable, allBuckets, engine.Replace, props, func(ctx context.Context) (engine.Attempt[DimMedia], error) {
		dims, n, err := dimMedia(ctx, w, channels)
		unknown = n
		return engine.Attempt[DimMedia]{Incoming: engine.Grouped(engine.ByPartition(dimMediaTable, dims))}, err
	})
	if err := rep.add(res, err); err != nil {
		return rep, err
	}
	rep.UnknownMedia += unknown

	parts := engine.DayParts(days)
	res, err = engine.Merge(ctx, w, mediaDailyTable, parts, engine.Replace, props, func(ctx context.Context) (engine.Attempt[FactMediaDaily], error) {
		daily, err := mediaDaily(ctx, w, days)
		return engine.Attempt[FactMediaDaily]{Incoming: engine.Grouped(engine.ByPartition(mediaDailyTable, daily))}, err
	})
	if err := rep.add(res, err); err != nil {
		return rep, err
	}

	// Engagement is built a day at a time from that day's silver events, with the durations and
	// loads of the attempt; the visitors seen along the way feed dim_visitor.
	visitors := newVisitorSightings() // each attempt starts its own
	res, err = mergeEngagement(ctx, w, parts, props, func(ctx context.Context) (engagementAttempt, error) {
		duration, err := mediaDurations(ctx, w)
		if err != nil {
			return engagementAttempt{}, err
		}
		loads, err := dailyLoads(ctx, w, days)
		if err != nil {
			return engagementAttempt{}, err
		}
		visitors = newVisitorSightings()
		return engagementAttempt{duration: duration, loads: loads, day: engine.ReadAhead(parts, func(ctx context.Context, p int32) (*dayEvents, error) {
			return dayPlays(ctx, w, dates.Date(p), visitors.see)
		}, nil)}, nil
	})
	if err := rep.add(res, err); err != nil {
		return rep, err
	}
	// dim_visitor is an upsert in which a visitor's latest sighting wins, so a retry may merge
	// the visitors the committed engagement attempt saw.
	dimVisitors := visitors.latest
	return rep, rep.add(engine.MergeGrouped(ctx, w, dimVisitorTable, engine.Upsert, props, engine.ByPartition(dimVisitorTable, dimVisitors)))
}

// engagementColumns are the columns of silver.events that gold reads: the engagement fact's
// (media, visitor, percent viewed, date) and dim_visitor's (IP, country, when).
var engagementColumns = []string{"media_id", "visitor_key", "percent_viewed", "date", "ip", "country", "received_at"}

// dayEvents is what the engagement fact takes from one day's events.
type dayEvents struct {
	day    dates.Date
	medias []string // the day's media ids, by play.media
	plays  []play
	arena  stringArena // the plays' visitor keys
}

// play is one event as the engagement fact sees it.
type play struct {
	visitor string
	percent float64
	media   int32
}

// dayPlays reads the plays of one day from silver.events, and calls sighting with each
// event's visitor as dim_visitor sees it (its strings valid only during the call). Only
// engagementColumns are read, straight from the scanned batches, and nothing the plays keep
// points into a batch: a day of events as Event structs, or batches kept alive by the strings
// taken from them, was most of gold's time and memory.
func dayPlays(ctx context.Context, w *engine.Warehouse, day dates.Date, sighting func(DimVisitor)) (*dayEvents, error) {
	out := &dayEvents{day: day}
	codes := map[string]int32{}
	err := engine.ReadBatches(ctx, w, silver.EventsTable, engine.DateIn("date", []dates.Date{day}), engagementColumns,
		func(n int64) { out.plays = make([]play, 0, n) },
		func(rec arrow.RecordBatch) error {
			col := func(name string) arrow.Array { return engine.ColumnOf(rec, name) }
			media, visitor, ip, country := engine.StringsOf(col("media_id")), engine.StringsOf(col("visitor_key")), engine.StringsOf(col("ip")), engine.StringsOf(col("country"))
			received := engine.TimesOf(col("received_at"))
			percent, _ := col("percent_viewed").(*array.Float64)
			for i := range int(rec.NumRows()) {
				m := media(i)
				code, ok := codes[m]
				if !ok {
					code = int32(len(out.medias))
					m = strings.Clone(m)
					codes[m] = code
					out.medias = append(out.medias, m)
				}
				p := play{media: code, visitor: out.arena.string(visitor(i))}
				if percent != nil && percent.IsValid(i) {
					p.percent = percent.Value(i)
				}
				out.plays = append(out.plays, p)
				sighting(DimVisitor{VisitorID: p.visitor, IPAddress: ip(i), Country: country(i), LastSeenAt: engine.TimeOfMicros(received(i))})
			}
			return nil
		})
	return out, err
}

// visitorSightings keeps each visitor's latest sighting, as dim_visitor's version orders
// them. It is called with every event of the days gold recomputes, two days at a time: the
// map holds only positions, so a lookup touches little memory, and a sighting that changes
// nothing but the time copies no string.
type visitorSightings struct {
	mu     sync.Mutex
	at     map[string]int32 // visitor key → its sighting in latest
	latest []DimVisitor
}

func newVisitorSightings() *visitorSightings {
	return &visitorSightings{at: map[string]int32{}}
}

// see records v if it is the visitor's latest sighting yet. v's strings may point into a
// scanned batch or a day's plays: what is kept is copied.
func (s *visitorSightings) see(v DimVisitor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.at[v.VisitorID]
	if !ok {
		v.VisitorID, v.IPAddress, v.Country = strings.Clone(v.VisitorID), strings.Clone(v.IPAddress), strings.Clone(v.Country)
		s.at[v.VisitorID] = int32(len(s.latest))
		s.latest = append(s.latest, v)
		return
	}
	old := &s.latest[i]
	if dimVisitorTable.Version(&v, old) <= 0 {
		return
	}
	old.LastSeenAt = v.LastSeenAt
	if old.IPAddress != v.IPAddress {
		old.IPAddress = strings.Clone(v.IPAddress)
	}
	if old.Country != v.Country {
		old.Country = strings.Clone(v.Country)
	}
}

// stringArena carves strings out of large buffers: a string per event costs an allocation,
// and allocating and collecting millions of small strings was a fifth of a merge's time. A
// buffer is never written where strings already point; a full one is left to the strings
// that use it, and the garbage collector frees it with the last of them.
type stringArena struct{ buf []byte }

// arenaChunk is the size of one buffer: a few thousand visitor keys.
const arenaChunk = 64 << 10

// string copies s into the arena.
func (a *stringArena) string(s string) string {
	if len(s) == 0 {
		return ""
	}
	if cap(a.buf)-len(a.buf) < len(s) {
		a.buf = make([]byte, 0, max(arenaChunk, len(s)))
	}
	start := len(a.buf)
	a.buf = append(a.buf, s...)
	return unsafe.String(&a.buf[start], len(s))
}

// dimMedia derives gold.dim_media from silver.media, counting the media no channel rule matched.
func dimMedia(ctx context.Context, w *engine.Warehouse, channels ChannelRules) ([]DimMedia, int, error) {
	medias, err := engine.CollectRows(ctx, w, silver.MediaTable, iceberg.AlwaysTrue{})
	if err != nil {
		return nil, 0, err
	}
	unknown := 0
	dims := make([]DimMedia, 0, len(medias))
	for _, m := range medias {
		d := DimMedia{MediaID: m.HashedID, Title: m.Name, URL: "https://home.wistia.com/medias/" + m.HashedID,
			Channel: channels.Channel(m.ProjectName, m.FolderName, strings.Split(m.Tags, ",")), CreatedAt: m.Created,
			Project: m.ProjectName, Duration: m.Duration, version: m.IngestedAt}
		if d.Channel == UnknownChannel {
			unknown++
		}
		dims = append(dims, d)
	}
	return dims, unknown, nil
}

// mediaDaily derives gold.fact_media_daily for the given days from silver.media_daily_stats.
func mediaDaily(ctx context.Context, w *engine.Warehouse, days []dates.Date) ([]FactMediaDaily, error) {
	var daily []FactMediaDaily
	for rows, err := range engine.ScanRows(ctx, w, silver.DailyStatsTable, engine.DateIn("date", days)) {
		if err != nil {
			return nil, err
		}
		for _, s := range rows {
			f := FactMediaDaily{MediaID: s.MediaID, Date: s.Date, LoadCount: s.LoadCount, PlayCount: s.PlayCount, HoursWatched: s.HoursWatched}
			if s.LoadCount > 0 {
				f.PlayRate = float64(s.PlayCount) / float64(s.LoadCount)
			}
			daily = append(daily, f)
		}
	}
	return daily, nil
}

// mediaDurations reads each media's duration in seconds from silver.media.
func mediaDurations(ctx context.Context, w *engine.Warehouse) (map[string]float64, error) {
	duration := map[string]float64{}
	for rows, err := range engine.ScanRows(ctx, w, silver.MediaTable, iceberg.AlwaysTrue{}) {
		if err != nil {
			return nil, err
		}
		for _, m := range rows {
			duration[m.HashedID] = m.Duration
		}
	}
	return duration, nil
}

// dailyLoads reads the loads per media and day of the given days, for the facts' play rates.
func dailyLoads(ctx context.Context, w *engine.Warehouse, days []dates.Date) (map[mediaDay]int64, error) {
	loads := map[mediaDay]int64{}
	for rows, err := range engine.ScanRows(ctx, w, silver.DailyStatsTable, engine.DateIn("date", days)) {
		if err != nil {
			return nil, err
		}
		for _, s := range rows {
			loads[mediaDay{s.MediaID, s.Date}] = s.LoadCount
		}
	}
	return loads, nil
}

type mediaDay struct {
	media string
	day   dates.Date
}

// engagementAttempt is what one attempt of the engagement merge reads: the plays of each day,
// and the media durations and daily loads the fact's ratios take.
type engagementAttempt struct {
	day      func(ctx context.Context, p int32) (*dayEvents, error)
	duration map[string]float64
	loads    map[mediaDay]int64
}

// mergeEngagement makes the engagement fact's rows of each day of parts what its plays roll up
// to. A day's rows are built a batch at a time as the writers take them, not all at once: a day
// of 570,000 rows held 40 MB, twice over with the next day read ahead, and was the largest
// thing gold kept.
func mergeEngagement(ctx context.Context, w *engine.Warehouse, parts []int32, props iceberg.Properties, prepare func(context.Context) (engagementAttempt, error)) (engine.MergeResult, error) {
	return engine.MergeParts(ctx, w, engagementTable, parts, props, func(ctx context.Context, _ *table.Table, schema *arrow.Schema) (engine.RewriteFunc, func(), error) {
		a, err := prepare(ctx)
		if err != nil {
			return nil, nil, err
		}
		enc, err := engagementTable.Encoder(schema, memory.DefaultAllocator)
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context, p int32, _ []table.FileScanTask, write engine.WriteFunc) (engine.Rewritten, error) {
			de, err := a.day(ctx, p)
			if err != nil {
				return engine.Rewritten{}, err
			}
			groups := de.rollUp()
			n := len(groups) - 1
			write(n, func(lo, hi int) arrow.RecordBatch {
				for g := lo; g < hi; g++ {
					f := de.fact(groups[g], groups[g+1], a.duration, a.loads)
					enc.Append(&f)
				}
				return enc.Flush()
			})
			return engine.Rewritten{RowsIn: int64(n), RowsOut: int64(n)}, nil
		}, enc.Release, nil
	})
}

// rollUp sorts the day's plays by media and visitor, and returns where each (media, visitor)
// group of them starts, with len(plays) last. Medias are renumbered in id order first, so the
// groups come in the table's key order, one row each.
func (de *dayEvents) rollUp() []int32 {
	byID := make([]int32, len(de.medias))
	for i := range byID {
		byID[i] = int32(i)
	}
	slices.SortFunc(byID, func(a, b int32) int { return strings.Compare(de.medias[a], de.medias[b]) })
	rank := make([]int32, len(byID))
	medias := make([]string, len(byID))
	for r, code := range byID {
		rank[code], medias[r] = int32(r), de.medias[code]
	}
	de.medias = medias
	plays := de.plays
	for i := range plays {
		plays[i].media = rank[plays[i].media]
	}
	slices.SortFunc(plays, func(a, b play) int {
		if a.media != b.media {
			return cmp.Compare(a.media, b.media)
		}
		return strings.Compare(a.visitor, b.visitor)
	})
	var groups []int32
	for i := range plays {
		if i == 0 || plays[i].media != plays[i-1].media || plays[i].visitor != plays[i-1].visitor {
			groups = append(groups, int32(i))
		}
	}
	return append(groups, int32(len(plays)))
}

// fact rolls the plays [from, to) of one (media, visitor) up to its engagement row: plays,
// seconds watched (percent viewed, capped at 1, × the media's duration), watched percent and
// play rate as ratios of sums.
func (de *dayEvents) fact(from, to int32, duration map[string]float64, loads map[mediaDay]int64) FactEngagement {
	first := de.plays[from]
	media := de.medias[first.media]
	f := FactEngagement{MediaID: media, VisitorID: first.visitor, Date: de.day, PlayCount: int64(to - from)}
	var percent float64
	for _, p := range de.plays[from:to] {
		percent += min(p.percent, 1) // a session watches a media once at most
	}
	d := duration[media]
	f.TotalWatchTime = percent * d
	if d > 0 {
		f.WatchedPercent = f.TotalWatchTime / (float64(f.PlayCount) * d)
	}
	if n := loads[mediaDay{media, de.day}]; n > 0 {
		f.PlayRate = float64(f.PlayCount) / float64(n)
	}
	return f
}
