package silver

import (
	"cmp"
	"context"

	"slices"
	"sync"
	"unsafe"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
)

// eventWindows serves the events merge: it reads each window day's bronze at most once per
// attempt and hands each silver partition (a day of the stats zone) the events whose received_at falls on
// it, from the windows that can hold them (the partition's day and the days either side).
// A window's events are dropped from memory once every partition has taken its share.
type eventWindows struct {
	store bronze.Store
	zone  dates.Zone
	days  map[dates.Date]bool // the window days being merged

	mu      sync.Mutex
	windows map[dates.Date]*windowEvents
	filled  map[dates.Date]bool // partitions handed at least one event
}

// windowEvents is one window day's typed events by UTC day, and what reading it found.
type windowEvents struct {
	listed    sync.Once // manifests, listErr
	manifests []bronze.Manifest
	listErr   error

	once    sync.Once // the rest
	byDate  map[dates.Date]*eventCols
	bad     []Quarantined
	events  int
	overOne []string // keys of events whose percent_viewed is above 1
	zone    zoneFit  // where the window's events fall against the configured zone
	err     error
}

func newEventWindows(store bronze.Store, zone dates.Zone, days []dates.Date) *eventWindows {
	w := &eventWindows{store: store, zone: zone, days: map[dates.Date]bool{}, windows: map[dates.Date]*windowEvents{}, filled: map[dates.Date]bool{}}
	for _, d := range days {
		w.days[d] = true
		w.windows[d] = &windowEvents{}
	}
	return w
}

// spillPartitions are the UTC days the events listed by the window days can fall on, sorted.
func spillPartitions(days []dates.Date) []int32 {
	var parts []int32
	for _, d := range days {
		for s := dates.Date(-maxWindowSpill); s <= maxWindowSpill; s++ {
			parts = append(parts, int32(d+s))
		}
	}
	slices.Sort(parts)
	return slices.Compact(parts)
}

// list reads the manifests of one window day, once.
func (w *eventWindows) list(ctx context.Context, d dates.Date) ([]bronze.Manifest, error) {
	we := w.windows[d]
	we.listed.Do(func() { we.manifests, we.listErr = bronze.Manifests(ctx, w.store, bronze.StreamEvents, d) })
	return we.manifests, we.listErr
}

// load reads one window day, once.
func (w *eventWindows) load(ctx context.Context, d dates.Date) *windowEvents {
	we := w.windows[d]
	we.once.Do(func() {
		manifests, err := w.list(ctx, d)
		if err != nil {
			we.err = err
			return
		}
		we.byDate, we.bad, we.err = readEvents(ctx, w.store, w.zone, d, manifests)
		for date, c := range we.byDate {
			we.events += len(c.rows)
			if date != d {
				we.zone.off += len(c.rows)
			}
			for i := range c.rows {
				if c.rows[i].percent > 1 {
					we.overOne = append(we.overOne, string(c.str(&c.rows[i], sEventKey)))
				}
				we.zone.see(c.rows[i].received)
			}
		}
	})
	return we
}

// readAheadBytes bounds the events a merge reads ahead: a partition is read while the one
// before it is written only if the window it adds to memory (the day after it) is estimated
// below this. A day of a few hundred thousand events is then merged holding two days' events,
// not three: the read-ahead buys some of a second core's time, and a large day costs too much
// memory for it.
const readAheadBytes = 64 << 20

// ahead reports whether partition p may be read ahead, by readAheadBytes.
func (w *eventWindows) ahead(ctx context.Context, p int32) bool {
	d := dates.Date(p) + maxWindowSpill
	if !w.days[d] {
		return true
	}
	manifests, err := w.list(ctx, d)
	if err != nil {
		return false // load reports it
	}
	lines := 0
	for _, m := range manifests {
		for _, obj := range m.Objects {
			lines += obj.Records
		}
	}
	return lines*(int(unsafe.Sizeof(eventRow{}))+bytesPerEvent) <= readAheadBytes
}

// partition returns the events of UTC day p from every window that can hold them. The window
// of day p holds most of them, in rows with room for its neighbours' spills (see readEvents):
// they are appended to it, so the partition's events are not copied again.
func (w *eventWindows) partition(ctx context.Context, p int32) (*eventCols, error) {
	var (
		own    *eventCols
		spills []*eventCols
	)
	for d := dates.Date(p) - maxWindowSpill; d <= dates.Date(p)+maxWindowSpill; d++ {
		if !w.days[d] {
			continue
		}
		we := w.load(ctx, d)
		if we.err != nil {
			return nil, we.err
		}
		w.mu.Lock()
		c := we.byDate[dates.Date(p)]
		delete(we.byDate, dates.Date(p))
		w.mu.Unlock()
		switch {
		case d == dates.Date(p):
			own = c
		case c != nil:
			spills = append(spills, c)
		}
	}
	if own == nil {
		own = &eventCols{}
	}
	for _, c := range spills {
		if err := own.appendCols(c); err != nil {
			return nil, err
		}
	}
	if len(own.rows) > 0 {
		w.mu.Lock()
		w.filled[dates.Date(p)] = true
		w.mu.Unlock()
	}
	return own, nil
}

// report adds what the windows read to rep, once the merge is done.
func (w *eventWindows) report(rep *Report) (bad []Quarantined, filled []dates.Date) {
	rep.Read = BronzeRead{}
	overOne := map[string]bool{} // an event listed twice counts once
	for d, we := range w.windows {
		rep.Events += int64(we.events)
		for _, key := range we.overOne {
			overOne[key] = true
		}
		rep.Read[d] = we.manifests
		bad = append(bad, we.bad...)
	}
	rep.PercentOverOne = len(overOne)
	for d, we := range w.windows {
		if we.zone.beyondStrays(we.events) {
			rep.OffZone = append(rep.OffZone, OffZoneWindow{Day: d, Events: we.events, OffZone: we.zone.off,
				Zone: w.zone.String(), PointsTo: we.zone.pointsTo(d)})
		}
	}
	slices.SortFunc(rep.OffZone, func(a, b OffZoneWindow) int { return cmp.Compare(a.Day, b.Day) })
	for d := range w.filled {
		filled = append(filled, d)
	}
	return bad, filled
}
