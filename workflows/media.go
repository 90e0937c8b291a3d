package workflows

import (
	"cmp"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/dates"
)

// MediaIngestInput names one media's ingest for a date.
type MediaIngestInput struct {
	Media            string          `json:"media"`
	Date             string          `json:"date"`
	RunID            string          `json:"run_id"`
	Mode             activities.Mode `json:"mode,omitempty"` // empty: catch-up (runs before modes)
	HeartbeatTimeout time.Duration   `json:"heartbeat_timeout,omitempty"`
}

// MediaIngestResult is what one media's ingest landed.
type MediaIngestResult struct {
	Media    string       `json:"media"`
	Days     []dates.Date `json:"days"` // event days landed
	Records  int          `json:"records"`
	Rejects  int          `json:"rejects"`
	Requests int          `json:"requests"`
	Complete int          `json:"complete"` // windows read completely
	Mark     dates.Date   `json:"mark,omitempty"`
	Skipped  bool         `json:"skipped"` // the media was deleted before it could be read
	// Unwatched is the days whose events were not asked for: by_date showed no loads or plays.
	Unwatched int `json:"unwatched,omitempty"`
}

func (r *MediaIngestResult) add(l activities.Landed) {
	r.Records += l.Records
	r.Rejects += l.Rejects
	r.Requests += l.Requests
}

// MediaIngestWorkflow lands one media's by_date stats and its events one day window at a time,
// over the days its mode reads (the run fetches their visitors); then it records the days landed as
// pending merge and, in a catch-up run, advances the watermark to the last day before which
// every window was read completely.
func MediaIngestWorkflow(ctx workflow.Context, in MediaIngestInput) (MediaIngestResult, error) {
	if workflow.GetVersion(ctx, versionRunModes, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return mediaIngestV0(ctx, in)
	}
	res := MediaIngestResult{Media: in.Media}
	date, err := parseInputDate(in.Date)
	if err != nil {
		return res, err
	}
	mode := cmp.Or(in.Mode, activities.ModeCatchUp)
	var w activities.ReadPlan
	if err := workflow.ExecuteLocalActivity(storageLocal(ctx), a.PlanIngest, activities.PlanInput{Media: in.Media, Date: date, Mode: mode}).Get(ctx, &w); err != nil {
		return res, err
	}
	if len(w.Days) == 0 {
		return res, nil
	}
	landed := []dates.Date{date} // by_date stats land under the run's date
	record := func(mark dates.Date) error {
		err := workflow.ExecuteLocalActivity(storageLocal(ctx), a.RecordLanded, activities.LandedInput{
			Media: in.Media, Days: mergeDays(landed, res.Days), Mark: mark, RunID: in.RunID, Advance: mode == activities.ModeCatchUp}).Get(ctx, nil)
		if err == nil && mode == activities.ModeCatchUp {
			res.Mark = mark
		}
		return err
	}
	api := wistiaCalls(ctx, heartbeatOr(in.HeartbeatTimeout))
	structs := inputStructs(ctx)
	var statsLanded workflow.Future
	if structs {
		statsLanded = workflow.ExecuteActivity(api, a.IngestStats, activities.StatsInput{Media: in.Media, Plan: w, Date: date, RunID: in.RunID})
	} else {
		statsLanded = workflow.ExecuteActivity(api, a.IngestDailyStats, in.Media, w, in.Date, in.RunID)
	}
	var stats activities.Landed
	if err := statsLanded.Get(ctx, &stats); err != nil {
		if isNotFound(err) {
			res.Skipped = true
			workflow.GetLogger(ctx).Warn("media deleted since it was listed; skipped", "media", in.Media)
			return res, nil
		}
		return res, err
	}
	res.add(stats)

	unwatched := map[dates.Date]bool{}
	if workflow.GetVersion(ctx, versionSkipUnwatched, workflow.DefaultVersion, 1) >= 1 {
		for _, d := range stats.Unwatched {
			unwatched[d] = true
		}
	}
	var lastComplete dates.Date
	broken := false
	for _, day := range w.Days {
		if unwatched[day] {
			// Nothing to read: as final as a window read to its end.
			res.Unwatched++
			if !broken {
				lastComplete = day
			}
			continue
		}
		var eventsLanded workflow.Future
		if structs {
			eventsLanded = workflow.ExecuteActivity(api, a.IngestDayEvents, activities.EventsInput{Media: in.Media, Day: day, RunID: in.RunID})
		} else {
			eventsLanded = workflow.ExecuteActivity(api, a.IngestEvents, in.Media, day.String(), in.RunID)
		}
		var ev activities.Landed
		if err := eventsLanded.Get(ctx, &ev); err != nil {
			if isNotFound(err) {
				res.Skipped = true
				return res, record(0) // what landed before the media went is merged
			}
			return res, err
		}
		res.add(ev)
		res.Days = append(res.Days, day)
		if ev.Complete {
			res.Complete++
			if !broken {
				lastComplete = day
			}
		} else {
			broken = true
		}
	}

	return res, record(lastComplete) // the run fetches the visitors of all its medias' events at once
}
