package lake

import (
	"context"
	"slices"

	"github.com/apache/iceberg-go"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
)

// TransformReport is what one transform did. It holds counts only, so it fits in a Temporal
// payload.
type TransformReport struct {
	Days        []dates.Date   // bronze days merged
	Dates       []dates.Date   // dates whose gold facts were recomputed
	Quarantined map[string]int // rows this transform added to silver.quarantine, by stream; records it already held are not counted
	Events      int64          // typed event lines read from bronze
	// PercentOverOne is the distinct events read whose percent_viewed is above 1: kept, but capped
	// at 1 where gold computes watch time.
	PercentOverOne int
	UnknownMedia   int // media no channel rule matched
	// OffZone is the windows whose events fall outside their day in the configured stats zone
	// beyond a stray record: the setting and the account disagree.
	OffZone []silver.OffZoneWindow `json:",omitempty"`
	Merges  []engine.MergeResult
	// Read is the events bronze the merge read, for checking silver against exactly that;
	// it stays in the process (a payload carries counts only).
	Read silver.BronzeRead `json:"-"`
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

// mergeSilver merges the bronze of days into the silver tables, records the days and the
// dates whose facts changed in rep, and returns those dates.
func (l *Lakehouse) mergeSilver(ctx context.Context, store bronze.Store, days []dates.Date, runID string, rep *TransformReport) ([]dates.Date, error) {
	days = slices.Clone(days)
	slices.Sort(days)
	days = slices.Compact(days)
	rep.Days = append(rep.Days, days...)
	res, err := silver.Merge(ctx, l.Warehouse, store, days, silver.Options{Zone: l.zone, PII: l.pii}, engine.SnapshotProps(runID, days))
	for stream, n := range res.Quarantined {
		rep.Quarantined[stream] += n
	}
	rep.Events += res.Events
	rep.PercentOverOne += res.PercentOverOne
	rep.OffZone = append(rep.OffZone, res.OffZone...)
	rep.Merges = append(rep.Merges, res.Merges...)
	rep.Read = res.Read
	rep.Dates = append(rep.Dates, res.Touched...)
	return res.Touched, err
}

// RecomputeGold rebuilds gold for the given dates from silver, adding what it did to rep.
func (l *Lakehouse) RecomputeGold(ctx context.Context, days []dates.Date, runID string, rep *TransformReport) error {
	days = slices.Clone(days)
	slices.Sort(days)
	days = slices.Compact(days)
	return l.recomputeGold(ctx, days, engine.SnapshotProps(runID, days), rep)
}

func (l *Lakehouse) recomputeGold(ctx context.Context, days []dates.Date, props iceberg.Properties, rep *TransformReport) error {
	res, err := gold.Recompute(ctx, l.Warehouse, days, l.channels, props)
	rep.UnknownMedia += res.UnknownMedia
	rep.Merges = append(rep.Merges, res.Merges...)
	return err
}
