package lake

import (
	"fmt"
	"time"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
)

// ServedDays is the range of days a run may read at now: from the first day the API still
// serves in full (it keeps two years of events) to yesterday, the last day that has ended (UTC).
func ServedDays(now time.Time) (first, last time.Time) {
	today := dates.Day(now)
	return dates.AddDays(dates.Day(now.AddDate(-retentionYears, 0, 0)), 1), dates.AddDays(today, -1)
}

// CheckRunDay refuses a day a run cannot read at now, naming the day and the allowed range.
// Every way of starting a run (CLI, workflow input, schedule) uses these words.
func CheckRunDay(day, now time.Time) error {
	first, last := ServedDays(now)
	switch d := dates.Day(day); {
	case d.After(last):
		return fmt.Errorf("date %s has not ended yet: pick a day from %s to %s (UTC)", dates.Format(d), dates.Format(first), dates.Format(last))
	case d.Before(first):
		return fmt.Errorf("date %s is past the API's %d-year retention: pick a day from %s to %s (UTC)", dates.Format(d), retentionYears, dates.Format(first), dates.Format(last))
	}
	return nil
}

// CheckEndedDay refuses a day that has not ended at now. Transforms read bronze, which is kept
// for good, so only the future is refused for them.
func CheckEndedDay(day, now time.Time) error {
	_, last := ServedDays(now)
	if d := dates.Day(day); d.After(last) {
		return fmt.Errorf("date %s has not ended yet: pick a day up to %s (UTC)", dates.Format(d), dates.Format(last))
	}
	return nil
}
