package lake

import (
	"context"
	"fmt"
	"math"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
)

// CheckReport is the outcome of the data checks over some days: counts and the problems found.
type CheckReport struct {
	Days          []string `json:"days"`
	BronzeEvents  int      `json:"bronze_events"` // distinct typeable events in bronze
	SilverEvents  int      `json:"silver_events"`
	FactRows      int      `json:"fact_rows"`
	Problems      []string `json:"problems"`
	ProblemsTotal int      `json:"problems_total"` // Problems lists at most maxProblems
}

const maxProblems = 20

func (r *CheckReport) problem(format string, args ...any) {
	r.ProblemsTotal++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Check reconciles silver with bronze for the days and checks gold's keys and metric ranges:
// every distinct typeable bronze event is in silver once, each fact grain appears once, and
// rates and percentages lie in [0, 1], counts and durations are not negative.
func (l *Lakehouse) Check(ctx context.Context, store bronze.Store, days []dates.Date) (CheckReport, error) {
	return l.CheckRead(ctx, store, days, nil)
}

// BronzeRead is the events manifests a transform read, by day. Checking against it rather than
// against whatever bronze exists by then keeps a run that lands bronze during another run's
// transform from failing that run's checks: its days are pending and merged next.
type BronzeRead map[dates.Date][]bronze.Manifest

// CheckRead is Check against the bronze a transform read; days missing from read (or a nil
// read) are checked against all their bronze.
func (l *Lakehouse) CheckRead(ctx context.Context, store bronze.Store, days []dates.Date, read BronzeRead) (CheckReport, error) {
	rep, err := l.CheckSilver(ctx, store, days, read)
	if err != nil {
		return rep, err
	}
	return rep, l.checkGold(ctx, days, &rep)
}

// CheckSilver is the silver half of CheckRead: every distinct typeable bronze event of the
// days is in silver once. A merge split over activities checks each day's silver where it
// was merged, against what that merge read, and gold once after gold is recomputed.
func (l *Lakehouse) CheckSilver(ctx context.Context, store bronze.Store, days []dates.Date, read BronzeRead) (CheckReport, error) {
	var rep CheckReport
	silver := silverKeys{l: l, rep: &rep, byDay: map[dates.Date]map[string]bool{}}
	for _, d := range days {
		rep.Days = append(rep.Days, d.String())
		manifests, ok := read[d]
		if !ok {
			var err error
			if manifests, err = bronze.Manifests(ctx, store, bronze.StreamEvents, d.Time()); err != nil {
				return rep, err
			}
		}
		byDate, _, err := readEvents(ctx, store, l.zone, d, manifests)
		if err != nil {
			return rep, err
		}
		bronze := byDate[d]
		for day, c := range byDate {
			if day != d {
				if err := bronze.appendCols(c); err != nil {
					return rep, err
				}
			}
		}
		bronze.dedupe()
		own, err := silver.keys(ctx, d)
		if err != nil {
			return rep, err
		}
		rep.BronzeEvents += len(bronze.rows)
		rep.SilverEvents += len(own)
		for i := range bronze.rows {
			e := &bronze.rows[i]
			// An event lives on the day of its received_at, which may be next to its window's.
			keys, err := silver.keys(ctx, e.date)
			if err != nil {
				return rep, err
			}
			if key := bronze.text(e, sEventKey); !keys[key] {
				rep.problem("silver.events: bronze event %s listed on %s is missing from %s", key, d, e.date)
			}
		}

		silver.forget(d - maxWindowSpill) // days are checked in order: earlier partitions are done
	}
	return rep, nil
}

// CheckGold is the gold half of CheckRead: each fact grain of the days appears once, and rates
// and percentages lie in [0, 1], counts and durations are not negative.
func (l *Lakehouse) CheckGold(ctx context.Context, days []dates.Date) (CheckReport, error) {
	var rep CheckReport
	for _, d := range days {
		rep.Days = append(rep.Days, d.String())
	}
	return rep, l.checkGold(ctx, days, &rep)
}

func (l *Lakehouse) checkGold(ctx context.Context, days []dates.Date, rep *CheckReport) error {
	for _, d := range days {
		day := d.Time()
		daily, err := ReadRows[FactMediaDaily](ctx, l, day, day)
		if err != nil {
			return err
		}
		rep.FactRows += len(daily)
		for i, f := range daily {
			if i > 0 && mediaDailyTable.Key(&daily[i-1], &f) == 0 {
				rep.problem("gold.fact_media_daily: media %s appears twice on %s", f.MediaID, d)
			}
			if f.LoadCount < 0 || f.PlayCount < 0 || f.HoursWatched < 0 || !unit(f.PlayRate) {
				rep.problem("gold.fact_media_daily: media %s on %s is out of range: loads %d plays %d rate %g hours %g",
					f.MediaID, d, f.LoadCount, f.PlayCount, f.PlayRate, f.HoursWatched)
			}
		}
		engagement, err := ReadRows[FactEngagement](ctx, l, day, day)
		if err != nil {
			return err
		}
		rep.FactRows += len(engagement)
		for i, f := range engagement {
			if i > 0 && engagementTable.Key(&engagement[i-1], &f) == 0 {
				rep.problem("gold.fact_media_engagement: media %s visitor %s appears twice on %s", f.MediaID, f.VisitorID, d)
			}
			if f.PlayCount <= 0 || f.TotalWatchTime < 0 || !unit(f.WatchedPercent) || f.PlayRate < 0 || math.IsNaN(f.PlayRate) {
				rep.problem("gold.fact_media_engagement: media %s visitor %s on %s is out of range", f.MediaID, f.VisitorID, d)
			}
		}
	}
	return nil
}

// unit reports a ratio within [0, 1], allowing for rounding.
func unit(x float64) bool { return x >= 0 && x <= 1+1e-9 }

// silverKeys reads silver.events' keys a partition at a time, once each, reporting keys that
// appear twice in a partition.
type silverKeys struct {
	l     *Lakehouse
	rep   *CheckReport
	byDay map[dates.Date]map[string]bool
}

func (s *silverKeys) keys(ctx context.Context, d dates.Date) (map[string]bool, error) {
	if keys, ok := s.byDay[d]; ok {
		return keys, nil
	}
	rows, err := ReadRows[Event](ctx, s.l, d.Time(), d.Time())
	if err != nil {
		return nil, err
	}
	keys := make(map[string]bool, len(rows))
	for _, e := range rows {
		if keys[e.EventKey] {
			s.rep.problem("silver.events: event_key %s appears more than once on %s", e.EventKey, d)
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
