package lake

import (
	"context"
	"maps"
	"slices"

	"github.com/apache/iceberg-go"
	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
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
	// OffZone is the windows whose events fall outside their day in the configured stats zone
	// beyond a stray record: the setting and the account disagree.
	OffZone []OffZoneWindow `json:",omitempty"`
	Merges  []engine.MergeResult
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
func (l *Lakehouse) Transform(ctx context.Context, store bronze.Store, days []dates.Date, runID string) (TransformReport, error) {
	rep := TransformReport{Quarantined: map[string]int{}}
	touched, err := l.mergeSilver(ctx, store, days, runID, &rep)
	if err != nil {
		return rep, err
	}
	err = l.RecomputeGold(ctx, touched, runID, &rep)
	return rep, err
}

// MergeSilver merges the bronze of the given days into silver. The report's Dates are the
// dates whose facts the merge touched.
func (l *Lakehouse) MergeSilver(ctx context.Context, store bronze.Store, days []dates.Date, runID string) (TransformReport, error) {
	rep := TransformReport{Quarantined: map[string]int{}}
	_, err := l.mergeSilver(ctx, store, days, runID, &rep)
	return rep, err
}

func (r *TransformReport) add(res engine.MergeResult, err error) error {
	r.Merges = append(r.Merges, res)
	return err
}

// mergeSilver merges the bronze of days into the silver tables, records the days and the
// dates whose facts changed in rep, and returns those dates.
func (l *Lakehouse) mergeSilver(ctx context.Context, store bronze.Store, days []dates.Date, runID string, rep *TransformReport) ([]dates.Date, error) {
	days = slices.Clone(days)
	slices.Sort(days)
	days = slices.Compact(days)
	for _, d := range days {
		rep.Days = append(rep.Days, d.String())
	}
	touched, err := l.mergeSilverTables(ctx, store, days, engine.SnapshotProps(runID, days), rep)
	for _, d := range touched {
		rep.Dates = append(rep.Dates, d.String())
	}
	return touched, err
}

// mergeSilverTables merges bronze into each silver table and returns the dates whose facts
// changed.
func (l *Lakehouse) mergeSilverTables(ctx context.Context, store bronze.Store, days []dates.Date, props iceberg.Properties, rep *TransformReport) ([]dates.Date, error) {
	// Events go to the day of their received_at in the stats zone, whichever window listed
	// them, so the merge covers the days next to the windows too (events fall there only when
	// the zone is set wrong); a partition no event falls on is left as it is.
	var windows *eventWindows
	parts := spillPartitions(days)
	res, err := mergeEvents(ctx, l, parts, props, func(context.Context) (eventIncoming, error) {
		windows = newEventWindows(store, l.zone, days) // an attempt redone after a lost race reads again
		return engine.ReadAhead(parts, windows.partition, windows.ahead), nil
	})
	var (
		quarantined []Quarantined
		filled      []dates.Date
	)
	if windows != nil {
		quarantined, filled = windows.report(rep)
	}
	if err := rep.add(res, err); err != nil {
		return nil, err
	}

	stats, q, err := readStream(ctx, store, bronze.StreamDailyStats, days, typeDailyStat)
	if err != nil {
		return nil, err
	}
	quarantined = append(quarantined, q...)
	statGroups := engine.ByPartition(dailyStatsTable, stats)
	if err := rep.add(engine.MergeGrouped(ctx, l.Warehouse, dailyStatsTable, engine.Upsert, props, statGroups)); err != nil {
		return nil, err
	}

	medias, q, err := readStream(ctx, store, bronze.StreamMedias, days, typeMedia)
	if err != nil {
		return nil, err
	}
	quarantined = append(quarantined, q...)
	if err := rep.add(engine.MergeGrouped(ctx, l.Warehouse, mediaTable, engine.Upsert, props, engine.ByPartition(mediaTable, medias))); err != nil {
		return nil, err
	}

	visitors, q, err := readStream(ctx, store, bronze.StreamVisitors, days, typeVisitor)
	if err != nil {
		return nil, err
	}
	quarantined = append(quarantined, q...)
	if err := rep.add(engine.MergeGrouped(ctx, l.Warehouse, visitorsTable, engine.Upsert, props, engine.ByPartition(visitorsTable, visitors))); err != nil {
		return nil, err
	}

	for i := range quarantined { // as the record came, but for its emails (see PII)
		quarantined[i].Raw = l.pii.scrub(quarantined[i].Raw)
	}

	// Only rows new to silver.quarantine are counted, in the attempt that commits: lines read
	// again (a lookback day, a record landed again) were counted when they were added.
	var added map[string]int
	groups := engine.ByPartition(quarantineTable, quarantined)
	res, err = engine.Merge(ctx, l.Warehouse, quarantineTable, slices.Collect(maps.Keys(groups)), engine.Upsert, props, func(context.Context) (engine.Attempt[Quarantined], error) {
		added = map[string]int{}
		return engine.Attempt[Quarantined]{Incoming: engine.Grouped(groups), Added: func(q *Quarantined) { added[q.Stream]++ }}, nil
	})
	if err := rep.add(res, err); err != nil {
		return nil, err
	}
	for stream, n := range added {
		rep.Quarantined[stream] += n
	}

	touched := append(slices.Clone(days), filled...)
	for p := range statGroups {
		touched = append(touched, dates.Date(p))
	}
	slices.Sort(touched)
	return slices.Compact(touched), nil
}
