package lake

import (
	"context"
	"fmt"
	"time"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
)

// WatermarkKey names one watermark: <account>#<stream>#<media>.
type WatermarkKey struct {
	Account, Stream, Media string
}

func (k WatermarkKey) String() string { return k.Account + "#" + k.Stream + "#" + k.Media }

// Watermark is the last closed day ingested completely, and who set it when.
type Watermark struct {
	Day       time.Time
	RunID     string
	UpdatedAt time.Time
}

// Watermarks stores watermarks that never move backwards, and the pending-merge ledger and
// leases, which need the same shared, atomic store.
type Watermarks interface {
	// Get returns the watermark of key; ok is false when it has none.
	Get(ctx context.Context, key WatermarkKey) (w Watermark, ok bool, err error)
	// Advance sets the watermark to w only if w.Day is later than the stored day, atomically.
	// It reports whether it moved.
	Advance(ctx context.Context, key WatermarkKey, w Watermark) (bool, error)
	Ledger
	Close() error
}

// retention is how far back the API keeps events.
const retentionYears = 2

// CatchUpPolicy turns a watermark into the days a catch-up run ingests.
type CatchUpPolicy struct {
	LookbackDays int        // days re-read before the watermark, for late data
	FirstDay     time.Time  // where a media without a watermark starts; zero: DefaultHistoryDays before the target
	Zone         dates.Zone // the account's stats zone, whose days the API serves
}

// DefaultHistoryDays is how far back a media without a watermark starts when no first day is set.
const DefaultHistoryDays = 30

// Range returns the inclusive days a catch-up run ingests for target: from the watermark minus the lookback
// (or the first day, without a watermark) to target, never before the API's retention at now.
// ok is false when there is nothing to ingest.
func (p CatchUpPolicy) Range(w Watermark, hasMark bool, target, now time.Time) (start, end time.Time, ok bool) {
	end = dates.Day(target)
	switch {
	case hasMark:
		start = dates.AddDays(dates.Day(w.Day), -p.LookbackDays)
	case !p.FirstDay.IsZero():
		start = dates.Day(p.FirstDay)
	default:
		start = dates.AddDays(end, -DefaultHistoryDays)
	}
	if oldest, _ := ServedDays(p.Zone, now); start.Before(oldest) {
		start = oldest
	}
	if start.After(end) {
		return start, end, false
	}
	return start, end, true
}

// Validate checks the policy.
func (p CatchUpPolicy) Validate() error {
	if p.LookbackDays < 0 {
		return fmt.Errorf("lookback of %d days: want 0 or more", p.LookbackDays)
	}
	return nil
}
