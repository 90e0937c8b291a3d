package gold

import (
	"context"
	"math"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// Check checks gold for the days: each fact grain appears once, and rates and percentages lie
// in [0, 1], counts and durations are not negative. Each problem found is told to problem;
// factRows counts the facts read.
func Check(ctx context.Context, w *engine.Warehouse, days []dates.Date, problem func(format string, args ...any)) (factRows int, err error) {
	for _, d := range days {
		daily, err := engine.ReadRows[FactMediaDaily](ctx, w, d, d)
		if err != nil {
			return factRows, err
		}
		factRows += len(daily)
		for i, f := range daily {
			if i > 0 && mediaDailyTable.Key(&daily[i-1], &f) == 0 {
				problem("gold.fact_media_daily: media %s appears twice on %s", f.MediaID, d)
			}
			if f.LoadCount < 0 || f.PlayCount < 0 || f.HoursWatched < 0 || !unit(f.PlayRate) {
				problem("gold.fact_media_daily: media %s on %s is out of range: loads %d plays %d rate %g hours %g",
					f.MediaID, d, f.LoadCount, f.PlayCount, f.PlayRate, f.HoursWatched)
			}
		}
		engagement, err := engine.ReadRows[FactEngagement](ctx, w, d, d)
		if err != nil {
			return factRows, err
		}
		factRows += len(engagement)
		for i, f := range engagement {
			if i > 0 && engagementTable.Key(&engagement[i-1], &f) == 0 {
				problem("gold.fact_media_engagement: media %s visitor %s appears twice on %s", f.MediaID, f.VisitorID, d)
			}
			if f.PlayCount <= 0 || f.TotalWatchTime < 0 || !unit(f.WatchedPercent) || f.PlayRate < 0 || math.IsNaN(f.PlayRate) {
				problem("gold.fact_media_engagement: media %s visitor %s on %s is out of range", f.MediaID, f.VisitorID, d)
			}
		}
	}
	return factRows, nil
}

// unit reports a ratio within [0, 1], allowing for rounding.
func unit(x float64) bool { return x >= 0 && x <= 1+1e-9 }
