package lake

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
)

// TransformReport is what one transform did. It holds counts only, so it fits in a Temporal
// payload.
type TransformReport struct {
	Days        []string       // bronze days merged
	Dates       []string       // dates whose gold facts were recomputed
	Quarantined map[string]int // rows this transform added to silver.quarantine, by stream; records it already held are not counted
	Events      int64          // typed event lines read from bronze
	// PercentOverOne is the distinct events read whose percent_viewed is above 1: kept, but capped
	// at 1 where gold computes watch time.
	PercentOverOne int
	UnknownMedia   int // media no channel rule matched
	Merges         []MergeResult
	// Read is the events bronze the merge read, for checking silver against exactly that;
	// it stays in the process (a payload carries counts only).
	Read BronzeRead `json:"-"`
}

// Transform merges the bronze of the given days into silver, then recomputes gold for every
// date the merge touched. Running it again on the same bronze leaves every table with the
// same rows.
//
// Silver merges may run concurrently (a merge that loses a commit race is redone on the
// winner's result). A gold merge that loses a race is redone from silver as it then is, but a
// gold recompute commits its tables one at a time, each from its own read of silver, so
// transforms whose dates overlap must not interleave: the orchestration runs them one at a time.
func (l *Lakehouse) Transform(ctx context.Context, store Store, days []time.Time, runID string) (TransformReport, error) {
	rep, err := l.MergeSilver(ctx, store, days, runID)
	if err != nil {
		return rep, err
	}
	err = l.RecomputeGold(ctx, rep.Dates, runID, &rep)
	return rep, err
}

// MergeSilver merges the bronze of the given days into silver. The report's Dates are the
// dates whose facts the merge touched.
func (l *Lakehouse) MergeSilver(ctx context.Context, store Store, days []time.Time, runID string) (TransformReport, error) {
	rep := TransformReport{Quarantined: map[string]int{}}
	var parts []Day
	for _, d := range days {
		parts = append(parts, DayOf(d))
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	for _, p := range parts {
		rep.Days = append(rep.Days, p.String())
	}
	touched, err := l.mergeSilver(ctx, store, parts, l.props(runID, rep.Days), &rep)
	for _, d := range touched {
		rep.Dates = append(rep.Dates, d.String())
	}
	return rep, err
}

// RecomputeGold rebuilds gold for the given dates (YYYY-MM-DD) from silver, adding what it
// did to rep.
func (l *Lakehouse) RecomputeGold(ctx context.Context, dateList []string, runID string, rep *TransformReport) error {
	var days []Day
	for _, s := range dateList {
		d, err := dates.Parse(s)
		if err != nil {
			return err
		}
		days = append(days, DayOf(d))
	}
	return l.recomputeGold(ctx, days, l.props(runID, dateList), rep)
}

// Snapshot summary properties a merge sets, for operators reading history (see Commits).
const (
	runIDProperty = "wistia.run-id"
	daysProperty  = "wistia.days"
)

// props are the summary properties of a merge's snapshot.
func (l *Lakehouse) props(runID string, days []string) iceberg.Properties {
	return iceberg.Properties{runIDProperty: runID, daysProperty: strings.Join(days, ",")}
}

func (r *TransformReport) add(res MergeResult, err error) error {
	r.Merges = append(r.Merges, res)
	return err
}

// mergeSilver merges bronze into the silver tables and returns the dates whose facts changed.
func (l *Lakehouse) mergeSilver(ctx context.Context, store Store, days []Day, props iceberg.Properties, rep *TransformReport) ([]Day, error) {
	// Events go to the UTC day of their received_at, whichever window listed them, so the
	// merge covers the days next to the windows too; a partition no event falls on is left as
	// it is.
	var windows *eventWindows
	parts := spillPartitions(days)
	res, err := merge(ctx, l, eventsTable, parts, upsert, props, func(context.Context) (attempt[Event], error) {
		windows = newEventWindows(store, days) // an attempt redone after a lost race reads again
		return attempt[Event]{incoming: readAhead(parts, windows.partition)}, nil
	})
	var (
		quarantined []Quarantined
		filled      []Day
	)
	if windows != nil {
		quarantined, filled = windows.report(rep)
	}
	if err := rep.add(res, err); err != nil {
		return nil, err
	}

	stats, q, err := readStream(ctx, store, StreamDailyStats, days, typeDailyStat)
	if err != nil {
		return nil, err
	}
	quarantined = append(quarantined, q...)
	statGroups := byPartition(dailyStatsTable, stats)
	if err := rep.add(mergeGrouped(ctx, l, dailyStatsTable, upsert, props, statGroups)); err != nil {
		return nil, err
	}

	medias, q, err := readStream(ctx, store, StreamMedias, days, typeMedia)
	if err != nil {
		return nil, err
	}
	quarantined = append(quarantined, q...)
	if err := rep.add(mergeGrouped(ctx, l, mediaTable, upsert, props, byPartition(mediaTable, medias))); err != nil {
		return nil, err
	}

	visitors, q, err := readStream(ctx, store, StreamVisitors, days, typeVisitor)
	if err != nil {
		return nil, err
	}
	quarantined = append(quarantined, q...)
	if err := rep.add(mergeGrouped(ctx, l, visitorsTable, upsert, props, byPartition(visitorsTable, visitors))); err != nil {
		return nil, err
	}

	for i := range quarantined { // as the record came, but for its emails (see PII)
		quarantined[i].Raw = l.pii.scrub(quarantined[i].Raw)
	}

	// Only rows new to silver.quarantine are counted, in the attempt that commits: lines read
	// again (a lookback day, a record landed again) were counted when they were added.
	var added map[string]int
	groups := byPartition(quarantineTable, quarantined)
	res, err = merge(ctx, l, quarantineTable, slices.Collect(maps.Keys(groups)), upsert, props, func(context.Context) (attempt[Quarantined], error) {
		added = map[string]int{}
		return attempt[Quarantined]{incoming: grouped(groups), added: func(q *Quarantined) { added[q.Stream]++ }}, nil
	})
	if err := rep.add(res, err); err != nil {
		return nil, err
	}
	for stream, n := range added {
		rep.Quarantined[stream] += n
	}

	touched := append(slices.Clone(days), filled...)
	for p := range statGroups {
		touched = append(touched, Day(p))
	}
	slices.Sort(touched)
	return slices.Compact(touched), nil
}

func dayParts(days []Day) []int32 {
	parts := make([]int32, len(days))
	for i, d := range days {
		parts[i] = int32(d)
	}
	return parts
}

// recomputeGold rebuilds gold for the given dates from silver. Each gold merge reads the silver
// it derives from in every attempt (see prepareFunc), so a merge redone after losing a commit
// race writes what silver holds then, not what the lost attempt read.
func (l *Lakehouse) recomputeGold(ctx context.Context, days []Day, props iceberg.Properties, rep *TransformReport) error {
	// Silver holds the latest version of every media, so the dimension is rebuilt whole.
	allBuckets := make([]int32, entityBuckets)
	for i := range allBuckets {
		allBuckets[i] = int32(i)
	}
	unknown := 0
	res, err := merge(ctx, l, dimMediaTable, allBuckets, replace, props, func(ctx context.Context) (attempt[DimMedia], error) {
		dims, n, err := l.dimMedia(ctx)
		unknown = n
		return attempt[DimMedia]{incoming: grouped(byPartition(dimMediaTable, dims))}, err
	})
	if err := rep.add(res, err); err != nil {
		return err
	}
	rep.UnknownMedia += unknown

	parts := dayParts(days)
	res, err = merge(ctx, l, mediaDailyTable, parts, replace, props, func(ctx context.Context) (attempt[FactMediaDaily], error) {
		daily, err := mediaDaily(ctx, l, days)
		return attempt[FactMediaDaily]{incoming: grouped(byPartition(mediaDailyTable, daily))}, err
	})
	if err := rep.add(res, err); err != nil {
		return err
	}

	// Engagement is built a day at a time from that day's silver events, with the durations and
	// loads of the attempt; the visitors seen along the way feed dim_visitor.
	var visitors map[string]DimVisitor
	res, err = merge(ctx, l, engagementTable, parts, replace, props, func(ctx context.Context) (attempt[FactEngagement], error) {
		duration, err := mediaDurations(ctx, l)
		if err != nil {
			return attempt[FactEngagement]{}, err
		}
		loads, err := dailyLoads(ctx, l, days)
		if err != nil {
			return attempt[FactEngagement]{}, err
		}
		var mu sync.Mutex
		seen := map[string]DimVisitor{}
		visitors = seen
		return attempt[FactEngagement]{incoming: readAhead(parts, func(ctx context.Context, p int32) ([]FactEngagement, error) {
			events, err := collectRows(ctx, l, eventsTable, dateIn("date", []Day{Day(p)}))
			if err != nil {
				return nil, err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range events {
				v := DimVisitor{VisitorID: e.VisitorKey, IPAddress: e.IP, Country: e.Country, LastSeenAt: e.ReceivedAt}
				if old, ok := seen[e.VisitorKey]; !ok || dimVisitorTable.version(&v, &old) > 0 {
					seen[e.VisitorKey] = v
				}
			}
			return engagement(events, duration, loads), nil
		})}, nil
	})
	if err := rep.add(res, err); err != nil {
		return err
	}
	// dim_visitor is an upsert in which a visitor's latest sighting wins, so a retry may merge
	// the visitors the committed engagement attempt saw.
	dimVisitors := slices.Collect(maps.Values(visitors))
	return rep.add(mergeGrouped(ctx, l, dimVisitorTable, upsert, props, byPartition(dimVisitorTable, dimVisitors)))
}

// dimMedia derives gold.dim_media from silver.media, counting the media no channel rule matched.
func (l *Lakehouse) dimMedia(ctx context.Context) ([]DimMedia, int, error) {
	medias, err := collectRows(ctx, l, mediaTable, iceberg.AlwaysTrue{})
	if err != nil {
		return nil, 0, err
	}
	unknown := 0
	dims := make([]DimMedia, 0, len(medias))
	for _, m := range medias {
		d := DimMedia{MediaID: m.HashedID, Title: m.Name, URL: "https://home.wistia.com/medias/" + m.HashedID,
			Channel: l.channels.Channel(m.ProjectName, m.FolderName, strings.Split(m.Tags, ",")), CreatedAt: m.Created,
			Project: m.ProjectName, Duration: m.Duration, version: m.IngestedAt}
		if d.Channel == UnknownChannel {
			unknown++
		}
		dims = append(dims, d)
	}
	return dims, unknown, nil
}

// mediaDaily derives gold.fact_media_daily for the given days from silver.media_daily_stats.
func mediaDaily(ctx context.Context, l *Lakehouse, days []Day) ([]FactMediaDaily, error) {
	var daily []FactMediaDaily
	for rows, err := range scanRows(ctx, l, dailyStatsTable, dateIn("date", days)) {
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
func mediaDurations(ctx context.Context, l *Lakehouse) (map[string]float64, error) {
	duration := map[string]float64{}
	for rows, err := range scanRows(ctx, l, mediaTable, iceberg.AlwaysTrue{}) {
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
func dailyLoads(ctx context.Context, l *Lakehouse, days []Day) (map[mediaDay]int64, error) {
	loads := map[mediaDay]int64{}
	for rows, err := range scanRows(ctx, l, dailyStatsTable, dateIn("date", days)) {
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
	day   Day
}

// engagement rolls one day's events up to (media, visitor): plays, seconds watched (percent
// viewed, capped at 1, × the media's duration), watched percent and play rate as ratios of sums.
func engagement(events []Event, duration map[string]float64, loads map[mediaDay]int64) []FactEngagement {
	slices.SortFunc(events, func(a, b Event) int {
		return cmp.Or(strings.Compare(a.MediaID, b.MediaID), strings.Compare(a.VisitorKey, b.VisitorKey))
	})
	var out []FactEngagement
	for i := 0; i < len(events); {
		e := events[i]
		f := FactEngagement{MediaID: e.MediaID, VisitorID: e.VisitorKey, Date: e.Date}
		var percent float64
		for ; i < len(events) && events[i].MediaID == e.MediaID && events[i].VisitorKey == e.VisitorKey; i++ {
			f.PlayCount++
			percent += min(events[i].PercentViewed, 1) // a session watches a media once at most
		}
		d := duration[e.MediaID]
		f.TotalWatchTime = percent * d
		if d > 0 {
			f.WatchedPercent = f.TotalWatchTime / (float64(f.PlayCount) * d)
		}
		if n := loads[mediaDay{e.MediaID, e.Date}]; n > 0 {
			f.PlayRate = float64(f.PlayCount) / float64(n)
		}
		out = append(out, f)
	}
	return out
}

// dateIn selects the rows of the given days of a date column.
func dateIn(col string, days []Day) iceberg.BooleanExpression {
	if len(days) == 0 {
		return iceberg.AlwaysFalse{}
	}
	lits := make([]iceberg.Date, len(days))
	for i, d := range days {
		lits[i] = iceberg.Date(d)
	}
	return iceberg.IsIn(iceberg.Reference(col), lits...)
}

// collectRows reads all rows of a table matching filter.
func collectRows[R any](ctx context.Context, l *Lakehouse, t *tableDef[R], filter iceberg.BooleanExpression) ([]R, error) {
	var out []R
	for rows, err := range scanRows(ctx, l, t, filter) {
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// ExpireSnapshots drops snapshots older than the retention from every table (keeping each
// table's current one), deletes the files only they referenced, and compacts the manifests of a
// table that has gathered more than maxManifests.
func (l *Lakehouse) ExpireSnapshots(ctx context.Context) error {
	for _, t := range allTables {
		tbl, err := l.cat.LoadTable(ctx, l.identifier(t))
		if err != nil {
			return fmt.Errorf("expire snapshots of %s: %w", t.TableName(), err)
		}
		tx := tbl.NewTransaction()
		if err := tx.ExpireSnapshots(table.WithOlderThan(l.retention), table.WithRetainLast(1)); err != nil {
			return fmt.Errorf("expire snapshots of %s: %w", t.TableName(), err)
		}
		if tbl, err = tx.Commit(ctx); err != nil {
			return fmt.Errorf("expire snapshots of %s: %w", t.TableName(), err)
		}
		if err := compactManifests(ctx, tbl); err != nil {
			return fmt.Errorf("compact the manifests of %s: %w", t.TableName(), err)
		}
	}
	return nil
}

// maxManifests bounds a table's data manifests. Every merge commit adds one, and planning a
// merge and committing it read them all, so without compaction a year of daily runs makes each
// run several times slower than the first (BenchmarkDailyTransformOnHistory).
const maxManifests = 16

// compactManifests rewrites the manifests of a table that has more than maxManifests. Those of
// a date-partitioned table are grouped by month, so a day's merge plans and rewrites the
// manifest of its month and skips the others by their partition summaries.
func compactManifests(ctx context.Context, tbl *table.Table) error {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return err
	}
	manifests, err := snap.Manifests(fs)
	if err != nil || len(manifests) <= maxManifests {
		return err
	}
	var opts []table.RewriteManifestsOpt
	if spec := tbl.Spec(); spec.NumFields() == 1 {
		if _, identity := spec.Field(0).Transform.(iceberg.IdentityTransform); identity {
			field := spec.Field(0).FieldID
			opts = append(opts, table.WithRewriteManifestClusterBy(func(df iceberg.DataFile) any {
				day, err := partitionValue(df.Partition()[field])
				if err != nil {
					return "" // not a date: one group for whatever it is
				}
				return Day(day).Time().Format("2006-01")
			}))
		}
	}
	tx := tbl.NewTransaction()
	res, err := tx.RewriteManifests(ctx, opts...)
	if err != nil || res.IsNoOp() {
		return err
	}
	_, err = tx.Commit(ctx)
	return err
}
