package silver

import (
	"context"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// BronzeRead is the events manifests a transform read, by day. Checking against it rather than
// against whatever bronze exists by then keeps a run that lands bronze during another run's
// transform from failing that run's checks: its days are pending and merged next.
type BronzeRead map[dates.Date][]bronze.Manifest

// Counts are what a check of silver saw.
type Counts struct {
	BronzeEvents int // distinct typeable events in bronze
	SilverEvents int
}

// Check checks silver against bronze for the days: every distinct typeable bronze event of
// the days is in silver.events once. It checks against the manifests in read where it has a
// day's (what a merge read), else against all the day's bronze. Each problem found is told to
// problem.
func Check(ctx context.Context, w *engine.Warehouse, store bronze.Store, zone dates.Zone, days []dates.Date, read BronzeRead, problem func(format string, args ...any)) (Counts, error) {
	var counts Counts
	silver := silverKeys{w: w, problem: problem, byDay: map[dates.Date]map[string]bool{}}
	for _, d := range days {
		manifests, ok := read[d]
		if !ok {
			var err error
			if manifests, err = bronze.Manifests(ctx, store, bronze.StreamEvents, d); err != nil {
				return counts, err
			}
		}
		byDate, _, err := readEvents(ctx, store, zone, d, manifests)
		if err != nil {
			return counts, err
		}
		bronze := byDate[d]
		for day, c := range byDate {
			if day != d {
				if err := bronze.appendCols(c); err != nil {
					return counts, err
				}
			}
		}
		bronze.dedupe()
		own, err := silver.keys(ctx, d)
		if err != nil {
			return counts, err
		}
		counts.BronzeEvents += len(bronze.rows)
		counts.SilverEvents += len(own)
		for i := range bronze.rows {
			e := &bronze.rows[i]
			// An event lives on the day of its received_at, which may be next to its window's.
			keys, err := silver.keys(ctx, e.date)
			if err != nil {
				return counts, err
			}
			if key := bronze.text(e, sEventKey); !keys[key] {
				problem("silver.events: bronze event %s listed on %s is missing from %s", key, d, e.date)
			}
		}

		silver.forget(d - maxWindowSpill) // days are checked in order: earlier partitions are done
	}
	return counts, nil
}

// silverKeys reads silver.events' keys a partition at a time, once each, reporting keys that
// appear twice in a partition.
type silverKeys struct {
	w       *engine.Warehouse
	problem func(format string, args ...any)
	byDay   map[dates.Date]map[string]bool
}

func (s *silverKeys) keys(ctx context.Context, d dates.Date) (map[string]bool, error) {
	if keys, ok := s.byDay[d]; ok {
		return keys, nil
	}
	rows, err := engine.ReadRows[Event](ctx, s.w, d, d)
	if err != nil {
		return nil, err
	}
	keys := make(map[string]bool, len(rows))
	for _, e := range rows {
		if keys[e.EventKey] {
			s.problem("silver.events: event_key %s appears more than once on %s", e.EventKey, d)
		}
		keys[e.EventKey] = true
	}
	s.byDay[d] = keys
	return keys, nil
}

// forget drops the keys of partitions before d.
func (s *silverKeys) forget(d dates.Date) {
	for day := range s.byDay {
		if day < d {
			delete(s.byDay, day)
		}
	}
}
