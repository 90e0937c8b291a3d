package wistia

// What the API serves and when: the days a run may read (the API keeps two years of events and
// serves a day once it has ended in the account's stats zone), and how far back a catch-up run
// reaches from its watermark. Every place that needs "yesterday" or the served window asks here.

import (
	"fmt"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// ServedDays is the range of days of zone (the account's stats zone) a run may read at now:
// from the first day the API still serves in full (it keeps two years of events) to yesterday
// there, the last day that has ended.
func ServedDays(zone dates.Zone, now time.Time) (first, last dates.Date) {
	return zone.Day(now.AddDate(-retentionYears, 0, 0)).AddDays(1), zone.LastEnded(now)
}

// CheckRunDay refuses a day a run cannot read at now, naming the day and the allowed range.
// Every way of starting a run (CLI, workflow input, schedule) uses these words.
func CheckRunDay(zone dates.Zone, day dates.Date, now time.Time) error {
	first, last := ServedDays(zone, now)
	switch {
	case day > last:
		return fmt.Errorf("date %s has not ended yet: pick a day from %s to %s (%s)", day, first, last, zone)
	case day < first:
		return fmt.Errorf("date %s is past the API's %d-year retention: pick a day from %s to %s (%s)", day, retentionYears, first, last, zone)
	}
	return nil
}

// CheckEndedDay refuses a day that has not ended at now. Transforms read bronze, which is kept
// for good, so only the future is refused for them.
func CheckEndedDay(zone dates.Zone, day dates.Date, now time.Time) error {
	if _, last := ServedDays(zone, now); day > last {
		return fmt.Errorf("date %s has not ended yet: pick a day up to %s (%s)", day, last, zone)
	}
	return nil
}

// retentionYears is how far back the API keeps events.
const retentionYears = 2

// CatchUpPolicy turns a watermark into the days a catch-up run ingests.
type CatchUpPolicy struct {
	LookbackDays int        // days re-read before the watermark, for late data
	FirstDay     dates.Date // where a media without a watermark starts; zero: DefaultHistoryDays before the target
	Zone         dates.Zone // the account's stats zone, whose days the API serves
}

// DefaultHistoryDays is how far back a media without a watermark starts when no first day is set.
const DefaultHistoryDays = 30

// Range returns the inclusive days a catch-up run ingests for target: from the watermark (mark,
// when hasMark) minus the lookback
// (or the first day, without a watermark) to target, never before the API's retention at now.
// ok is false when there is nothing to ingest.
func (p CatchUpPolicy) Range(mark dates.Date, hasMark bool, target dates.Date, now time.Time) (start, end dates.Date, ok bool) {
	end = target
	switch {
	case hasMark:
		start = mark.AddDays(-p.LookbackDays)
	case !p.FirstDay.IsZero():
		start = p.FirstDay
	default:
		start = end.AddDays(-DefaultHistoryDays)
	}
	if oldest, _ := ServedDays(p.Zone, now); start < oldest {
		start = oldest
	}
	return start, end, start <= end
}

// Validate checks the policy.
func (p CatchUpPolicy) Validate() error {
	if p.LookbackDays < 0 {
		return fmt.Errorf("lookback of %d days: want 0 or more", p.LookbackDays)
	}
	return nil
}
