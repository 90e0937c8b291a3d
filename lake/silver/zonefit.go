package silver

import (
	"fmt"
	"math"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// OffZoneWindow is a window day (the API's stats day that listed the events) whose events were
// received outside that day in the configured stats zone, beyond a stray record: the account
// counts its days in another zone, and the days of its events are cut at the wrong midnight.
type OffZoneWindow struct {
	Day      dates.Date `json:"day"`
	Events   int        `json:"events"`   // the window's typed events
	OffZone  int        `json:"off_zone"` // of them, received outside the day in Zone
	Zone     string     `json:"zone"`     // the configured zone (WISTIA_STATS_TIMEZONE)
	PointsTo string     `json:"points_to"`
}

func (w OffZoneWindow) String() string {
	return fmt.Sprintf("%s: %d of %d events were received outside the day in %s; the events fit %s", w.Day, w.OffZone, w.Events, w.Zone, w.PointsTo)
}

// zoneFit tracks where one window's events fall: how many lie outside the window's day in the
// configured zone, and the first and last received_at, which bound the zone the API cut the
// window in.
type zoneFit struct {
	off         int
	first, last int64 // received_at, µs since the epoch; first > last while empty
	seen        bool
}

func (z *zoneFit) see(receivedMicros int64) {
	if !z.seen || receivedMicros < z.first {
		z.first = receivedMicros
	}
	if !z.seen || receivedMicros > z.last {
		z.last = receivedMicros
	}
	z.seen = true
}

// Stray events (a clock error at the source, an event the API listed late under another day)
// are tolerated: the window is reported when more than 1% of its events, and at least
// minOffZone, lie outside its day.
const minOffZone = 3

func (z *zoneFit) beyondStrays(events int) bool {
	return z.off >= minOffZone && z.off*100 > events
}

// pointsTo names the offset from UTC the window's events fit: the window's local day starts
// at its UTC midnight minus the offset, so every event received in it bounds the offset,
// first from below and last from above. Of the offsets in those bounds, real zones' are
// whole hours more often than half, and half more often than quarters. On a day the zone's
// clocks change, the bounds hold both of its offsets, and one of them is named.
func (z *zoneFit) pointsTo(day dates.Date) string {
	if !z.seen {
		return "no events"
	}
	midnight := day.Time()
	lo := midnight.Sub(time.UnixMicro(z.first))                    // offset ≥ lo
	hi := midnight.Add(24 * time.Hour).Sub(time.UnixMicro(z.last)) // offset < hi
	if lo >= hi {
		hi += time.Hour // a 25-hour day: the zone's clocks went back that night
	}
	if lo >= hi {
		return "no single zone: the events span more than a day"
	}
	best, bestRank := time.Duration(0), math.MaxInt
	mid := (lo + hi) / 2
	for off := -12 * time.Hour; off <= 14*time.Hour; off += 15 * time.Minute {
		if off < lo || off >= hi {
			continue
		}
		rank := 2
		switch {
		case off%time.Hour == 0:
			rank = 0
		case off%(30*time.Minute) == 0:
			rank = 1
		}
		if rank < bestRank || (rank == bestRank && (off-mid).Abs() < (best-mid).Abs()) {
			best, bestRank = off, rank
		}
	}
	if bestRank == math.MaxInt {
		return fmt.Sprintf("no zone: between %s and %s", dates.FormatOffset(lo), dates.FormatOffset(hi))
	}
	return dates.FormatOffset(best)
}
