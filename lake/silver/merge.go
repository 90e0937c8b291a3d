package silver

import (
	"context"
	"maps"
	"slices"

	"github.com/apache/iceberg-go"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// Options are the account's settings a merge into silver applies.
type Options struct {
	Zone dates.Zone // the stats zone: an event goes to the day of its received_at there
	PII  PII        // what the quarantine may keep of emails
}

// Report is what one merge into silver did.
type Report struct {
	// Touched is the dates whose facts the merge changed: the days merged, the days next to
	// them that events fell on, and the dates of the daily stats merged.
	Touched     []dates.Date
	Quarantined map[string]int // rows the merge added to silver.quarantine, by stream
	Events      int64          // typed event lines read from bronze
	// PercentOverOne is the distinct events read whose percent_viewed is above 1: kept, but
	// capped at 1 where gold computes watch time.
	PercentOverOne int
	// OffZone is the windows whose events fall outside their day in the configured stats zone
	// beyond a stray record: the setting and the account disagree.
	OffZone []OffZoneWindow
	Merges  []engine.MergeResult
	// Read is the events bronze the merge read, for checking silver against exactly that.
	Read BronzeRead
}

func (r *Report) add(res engine.MergeResult, err error) error {
	r.Merges = append(r.Merges, res)
	return err
}

// Merge merges the bronze of days (sorted, without repeats) into the warehouse's silver
// tables: silver.events by its columnar path, every table declared fromBronze by the same
// loop, then the lines none of them could type into silver.quarantine.
func Merge(ctx context.Context, w *engine.Warehouse, store bronze.Store, days []dates.Date, opts Options, props iceberg.Properties) (Report, error) {
	rep := Report{Quarantined: map[string]int{}}
	// Events go to the day of their received_at in the stats zone, whichever window listed
	// them, so the merge covers the days next to the windows too (events fall there only when
	// the zone is set wrong); a partition no event falls on is left as it is.
	var windows *eventWindows
	parts := spillPartitions(days)
	res, err := mergeEvents(ctx, w, parts, props, func(context.Context) (eventIncoming, error) {
		windows = newEventWindows(store, opts.Zone, days) // an attempt redone after a lost race reads again
		return engine.ReadAhead(parts, windows.partition, windows.ahead), nil
	})
	var (
		quarantined []Quarantined
		filled      []dates.Date
	)
	if windows != nil {
		quarantined, filled = windows.report(&rep)
	}
	if err := rep.add(res, err); err != nil {
		return rep, err
	}
	touched := append(slices.Clone(days), filled...)

	for _, t := range w.Tables() {
		t, ok := t.(fromStream)
		if !ok {
			continue
		}
		res, bad, merged, err := t.mergeBronze(ctx, w, store, days, props)
		if err := rep.add(res, err); err != nil {
			return rep, err
		}
		quarantined = append(quarantined, bad...)
		touched = append(touched, merged...)
	}

	for i := range quarantined { // as the record came, but for its emails (see PII)
		quarantined[i].Raw = opts.PII.scrub(quarantined[i].Raw)
	}
	// Only rows new to silver.quarantine are counted, in the attempt that commits: lines read
	// again (a lookback day, a record landed again) were counted when they were added.
	var added map[string]int
	groups := engine.ByPartition(QuarantineTable, quarantined)
	res, err = engine.Merge(ctx, w, QuarantineTable, slices.Collect(maps.Keys(groups)), engine.Upsert, props, func(context.Context) (engine.Attempt[Quarantined], error) {
		added = map[string]int{}
		return engine.Attempt[Quarantined]{Incoming: engine.Grouped(groups), Added: func(q *Quarantined) { added[q.Stream]++ }}, nil
	})
	if err := rep.add(res, err); err != nil {
		return rep, err
	}
	for stream, n := range added {
		rep.Quarantined[stream] += n
	}

	slices.Sort(touched)
	rep.Touched = slices.Compact(touched)
	return rep, nil
}
