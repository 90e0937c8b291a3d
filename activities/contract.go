package activities

import (
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/ingest"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
	"github.com/marketing-data/wistia-pipeline/lake/state"
)

// The results workflows receive from activities. Their JSON is what workflow histories
// record, so a field is never renamed or retyped (new fields may be added; the names without
// tags are the Go names, as first recorded). The stages and the lake return types of their own;
// they become these here, at the edge, so the stages can change without moving a payload and
// workflows import no package below this one.

// Landed is what one landing activity put in bronze.
type Landed struct {
	Manifest string `json:"manifest"`
	Records  int    `json:"records"`
	Rejects  int    `json:"rejects"` // records the client could not type (kept in bronze)
	Complete bool   `json:"complete"`
	Requests int    `json:"requests"` // API pages read (retries of one page count once)
	Bytes    int64  `json:"bytes"`    // bronze bytes of the window
	// Unwatched is, of by_date stats, the days whose row shows no loads and no plays: the API
	// lists no events for them, so their events are not asked for.
	Unwatched []dates.Date `json:"unwatched,omitempty"`
}

// TransformReport is what one merge or transform did: counts only.
type TransformReport struct {
	Days           []dates.Date   // bronze days merged
	Dates          []dates.Date   // dates whose gold facts were recomputed
	Quarantined    map[string]int // rows added to silver.quarantine, by stream
	Events         int64          // typed event lines read from bronze
	PercentOverOne int            // distinct events read whose percent_viewed is above 1
	UnknownMedia   int            // media no channel rule matched
	// OffZone is the windows whose events fall outside their day in the stats zone.
	OffZone []OffZoneWindow `json:",omitempty"`
	Merges  []TableMerge
}

// TableMerge is one table's merge.
type TableMerge struct {
	Table        string
	Partitions   int   // partitions rewritten
	RowsIn       int64 // incoming rows, before dedupe
	RowsWritten  int64 // rows in the rewritten partitions
	FilesRemoved int
	FilesAdded   int
	Attempts     int // commit attempts; more than 1 when a concurrent merge won a race
	Duration     time.Duration
}

// OffZoneWindow is a window day whose events were received outside that day in the configured
// stats zone, beyond a stray record: the account counts its days in another zone.
type OffZoneWindow struct {
	Day      dates.Date `json:"day"`
	Events   int        `json:"events"`   // the window's typed events
	OffZone  int        `json:"off_zone"` // of them, received outside the day in Zone
	Zone     string     `json:"zone"`     // the configured zone (WISTIA_STATS_TIMEZONE)
	PointsTo string     `json:"points_to"`
}

func (w OffZoneWindow) String() string { return silver.OffZoneWindow(w).String() }

// PendingDay is a bronze day that landed and is not yet merged and checked; Seq tells a clear
// whether more bronze landed for it since it was read.
type PendingDay struct {
	Day dates.Date `json:"day"`
	Seq int64      `json:"seq"`
}

func landedOf(l ingest.Landed) Landed { return Landed(l) }

func reportOf(r lake.TransformReport) TransformReport {
	out := TransformReport{Days: r.Days, Dates: r.Dates, Quarantined: r.Quarantined, Events: r.Events,
		PercentOverOne: r.PercentOverOne, UnknownMedia: r.UnknownMedia}
	for _, w := range r.OffZone {
		out.OffZone = append(out.OffZone, OffZoneWindow(w))
	}
	for _, m := range r.Merges {
		out.Merges = append(out.Merges, TableMerge(m))
	}
	return out
}

func pendingOf(days []state.PendingDay) []PendingDay {
	if days == nil {
		return nil
	}
	out := make([]PendingDay, len(days))
	for i, d := range days {
		out[i] = PendingDay(d)
	}
	return out
}

func statePending(days []PendingDay) []state.PendingDay {
	if days == nil {
		return nil
	}
	out := make([]state.PendingDay, len(days))
	for i, d := range days {
		out[i] = state.PendingDay(d)
	}
	return out
}
