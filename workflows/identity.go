package workflows

import "fmt"

// The pipeline's names in Temporal, in one place: the worker registers the workflows under
// these types, the CLI, the demo and the replay tests find runs by these IDs, and recorded
// histories and schedules carry them, so none may change.

// Workflow types.
const (
	DailyRunType    = "DailyRunWorkflow"
	MediaIngestType = "MediaIngestWorkflow"
	BackfillType    = "BackfillWorkflow"
	TransformType   = "TransformWorkflow"
)

// Types are the workflow types, in the order operators read about them.
var Types = []string{DailyRunType, MediaIngestType, BackfillType, TransformType}

// ScheduleID is the daily schedule's ID.
const ScheduleID = "wistia-daily"

// DefaultCron fires at 03:00 in the account's stats zone (the schedule's time zone), ingesting
// the day that ended there three hours before: a grace for the API's stats to settle, and an
// hour that comes exactly once on every day, daylight-saving changes included, in every zone
// that changes its clocks at or before 02:00 local (the US, Europe). Events that arrive later
// still are read by the next run's lookback.
const DefaultCron = "0 3 * * *"

// MergeTaskQueue is the task queue of the spread merge's activities next to a workflow task
// queue. Each worker serves it with few slots (WORKER_MERGE_CONCURRENCY), so merges, which
// take a core and a day's rows of memory, go to idle workers instead of piling onto one.
func MergeTaskQueue(taskQueue string) string { return taskQueue + "-merge" }

// DailyRunID is the workflow ID of a date's run. Every run of a date (scheduled, manual, a
// backfill's day) executes under it, so two of them never fan out at once: a second start
// attaches to the one in flight.
func DailyRunID(account, date string) string { return "daily-run/" + account + "/" + date }

// ScheduledRunID is the workflow ID prefix of the schedule's actions; Temporal appends the
// scheduled time, and the action runs its date under DailyRunID.
func ScheduledRunID(account string) string { return "daily-run/" + account + "/scheduled" }

// MediaIngestID is the deterministic workflow ID of a media's ingest for a date.
func MediaIngestID(account, date, media string) string {
	return fmt.Sprintf("media-ingest/%s/%s/%s", account, date, media)
}

// BackfillID is the workflow ID of a backfill.
func BackfillID(account, from, to string) string {
	return "backfill/" + account + "/" + from + "/" + to
}

// TransformID is the workflow ID of a rebuild from bronze.
func TransformID(account, from, to string) string {
	return "transform/" + account + "/" + from + "/" + to
}
