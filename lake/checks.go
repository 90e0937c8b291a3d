package lake

import (
	"context"
	"fmt"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
)

// CheckReport is the outcome of the data checks over some days: counts and the problems found.
type CheckReport struct {
	Days          []dates.Date `json:"days"`
	BronzeEvents  int          `json:"bronze_events"` // distinct typeable events in bronze
	SilverEvents  int          `json:"silver_events"`
	FactRows      int          `json:"fact_rows"`
	Problems      []string     `json:"problems"`
	ProblemsTotal int          `json:"problems_total"` // Problems lists at most maxProblems
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

// CheckRead is Check against the bronze a transform read; days missing from read (or a nil
// read) are checked against all their bronze.
func (l *Lakehouse) CheckRead(ctx context.Context, store bronze.Store, days []dates.Date, read silver.BronzeRead) (CheckReport, error) {
	rep, err := l.CheckSilver(ctx, store, days, read)
	if err != nil {
		return rep, err
	}
	return rep, l.checkGold(ctx, days, &rep)
}

// CheckSilver is the silver half of CheckRead: every distinct typeable bronze event of the
// days is in silver once. A merge split over activities checks each day's silver where it
// was merged, against what that merge read, and gold once after gold is recomputed.
func (l *Lakehouse) CheckSilver(ctx context.Context, store bronze.Store, days []dates.Date, read silver.BronzeRead) (CheckReport, error) {
	rep := checkReport(days)
	counts, err := silver.Check(ctx, l.Warehouse, store, l.zone, days, read, rep.problem)
	rep.BronzeEvents, rep.SilverEvents = counts.BronzeEvents, counts.SilverEvents
	return rep, err
}

// CheckGold is the gold half of CheckRead: each fact grain of the days appears once, and rates
// and percentages lie in [0, 1], counts and durations are not negative.
func (l *Lakehouse) CheckGold(ctx context.Context, days []dates.Date) (CheckReport, error) {
	rep := checkReport(days)
	return rep, l.checkGold(ctx, days, &rep)
}

func (l *Lakehouse) checkGold(ctx context.Context, days []dates.Date, rep *CheckReport) error {
	n, err := gold.Check(ctx, l.Warehouse, days, rep.problem)
	rep.FactRows += n
	return err
}

func checkReport(days []dates.Date) CheckReport {
	return CheckReport{Days: days}
}
