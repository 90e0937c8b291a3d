package lake

import (
	"fmt"
	"time"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
)

// ServedDays is the range of days of zone (the account's stats zone) a run may read at now:
// from the first day the API still serves in full (it keeps two years of events) to yesterday
// there, the last day that has ended.
func ServedDays(zone dates.Zone, now time.Time) (first, last time.Time) {
	return dates.AddDays(zone.Day(now.AddDate(-retentionYears, 0, 0)), 1), zone.LastEnded(now)
}

// CheckRunDay refuses a day a run cannot read at now, naming the day and the allowed range.
// Every way of starting a run (CLI, workflow input, schedule) uses these words.
func CheckRunDay(zone dates.Zone, day, now time.Time) error {
	first, last := ServedDays(zone, now)
	switch d := dates.Day(day); {
	case d.After(last):
		return fmt.Errorf("date %s has not ended yet: pick a day from %s to %s (%s)", dates.Format(d), dates.Format(first), dates.Format(last), zone)
	case d.Before(first):
		return fmt.Errorf("date %s is past the API's %d-year retention: pick a day from %s to %s (%s)", dates.Format(d), retentionYears, dates.Format(first), dates.Format(last), zone)
	}
	return nil
}

// CheckEndedDay refuses a day that has not ended at now. Transforms read bronze, which is kept
// for good, so only the future is refused for them.
func CheckEndedDay(zone dates.Zone, day, now time.Time) error {
	_, last := ServedDays(zone, now)
	if d := dates.Day(day); d.After(last) {
		return fmt.Errorf("date %s has not ended yet: pick a day up to %s (%s)", dates.Format(d), dates.Format(last), zone)
	}
	return nil
}
