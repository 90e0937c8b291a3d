// Package state owns the coordination state every worker of an account shares, in one strongly
// consistent store: DynamoDB in AWS (dynamo.go), a sqlite file locally (sqlite.go). Four kinds
// of state live there, each behind its own interface: watermarks (the last day ingested
// completely, which never move backwards), the ledger of bronze days waiting to be merged, the
// leases that keep two merges of an account apart, and the counters of the request budget the
// workers share. It knows nothing of bronze objects or of Iceberg.
package state

import (
	"context"
	"slices"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// WatermarkKey names one watermark: <account>#<stream>#<media>.
type WatermarkKey struct {
	Account, Stream, Media string
}

func (k WatermarkKey) String() string { return k.Account + "#" + k.Stream + "#" + k.Media }

// Watermark is the last closed day ingested completely, and who set it when.
type Watermark struct {
	Day       dates.Date
	RunID     string
	UpdatedAt time.Time
}

// Watermarks stores watermarks that never move backwards.
type Watermarks interface {
	// Get returns the watermark of key; ok is false when it has none.
	Get(ctx context.Context, key WatermarkKey) (w Watermark, ok bool, err error)
	// Advance sets the watermark to w only if w.Day is later than the stored day, atomically.
	// It reports whether it moved.
	Advance(ctx context.Context, key WatermarkKey, w Watermark) (bool, error)
}

// PendingDay is a bronze day that landed and is not yet merged and checked. Seq grows each time
// more bronze lands for that day, so a clear can tell whether bronze arrived after the pending
// list was read.
type PendingDay struct {
	Day dates.Date `json:"day"`
	Seq int64      `json:"seq"`
}

// Ledger records, per account, the bronze days waiting to be merged.
type Ledger interface {
	// MarkPending records that bronze landed for the days (adds 1 to each day's Seq, creating it
	// at 1). Atomic per day. A day given twice in one call counts once.
	MarkPending(ctx context.Context, account string, days []dates.Date) error
	// Pending returns the account's pending days, sorted by day. Strongly consistent read.
	Pending(ctx context.Context, account string) ([]PendingDay, error)
	// ClearPending removes each given day whose stored Seq still equals the given Seq (a day
	// whose bronze landed again since stays pending). It returns how many it removed.
	ClearPending(ctx context.Context, account string, days []PendingDay) (int, error)
}

// Leases are locks with an expiry (see HoldLease).
type Leases interface {
	// AcquireLease takes the named lease for owner until now+ttl if it is free, expired, or
	// already owner's (then it renews it). It reports whether owner holds it now.
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// ReleaseLease frees the lease if owner holds it; releasing a lease one does not hold is
	// not an error.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// Counters count requests per budget slot (see SharedBudget).
type Counters interface {
	// IncrementBelow adds one to the slot's count if it is below limit, reporting whether it did.
	IncrementBelow(ctx context.Context, key string, limit int, expires time.Time) (bool, error)
}

// Store is one backend holding every kind of state.
type Store interface {
	Watermarks
	Ledger
	Leases
	Counters
	Close() error
}

var (
	_ Store = (*SQLite)(nil)
	_ Store = (*Dynamo)(nil)
)

// pendingDays formats days as YYYY-MM-DD, sorted and without repeats: one day counts once per
// call, and DynamoDB refuses an update naming one attribute twice.
func pendingDays(days []dates.Date) []string {
	out := make([]string, 0, len(days))
	for _, d := range days {
		out = append(out, d.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}
