// Package activities holds the pipeline's Temporal activities. Each is a thin adapter: it
// decodes a small input, calls the ingest or lake packages, and returns keys and counts.
package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/marketing-data/wistia-pipeline/ingest"
	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/state"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// Error types that workflows and retry policies tell apart.
const (
	// ErrTypeRejected is a request Wistia refused for good (401, 403, 422): retrying cannot help.
	ErrTypeRejected = "WistiaRejected"
	// ErrTypeNotFound is a media or visitor Wistia no longer has (404).
	ErrTypeNotFound = "WistiaNotFound"
	// ErrTypeStorage is a storage failure that retrying cannot fix (missing bucket, denied).
	ErrTypeStorage = "StorageMisconfigured"
	// ErrTypeCheckFailed is a data check that found problems in the tables.
	ErrTypeCheckFailed = "DataCheckFailed"
	// ErrTypeBadInput is a workflow or activity input that cannot be run (a malformed date or
	// range, an unknown mode or zone): running it again gives the same answer.
	ErrTypeBadInput = "BadInput"
	// ErrTypeBadDate is a run of a day that has not ended or is past the API's retention.
	ErrTypeBadDate = "BadDate"
	// ErrTypeAttachedRunFailed is a run this one attached to that failed: its own alert says why.
	ErrTypeAttachedRunFailed = "AttachedRunFailed"
	// ErrTypeMisconfigured is a worker that lacks what the activity needs.
	ErrTypeMisconfigured = "Misconfigured"
)

// NonRetryable lists the error types no retry policy retries.
var NonRetryable = []string{ErrTypeRejected, ErrTypeNotFound, ErrTypeStorage}

// Activities are the pipeline's activities, bound to one account's clients and stores.
type Activities struct {
	Account  string
	Ingester *ingest.Ingester
	Store    bronze.Store
	Lake     *lake.Lakehouse
	Marks    state.Store
	Policy   wistia.CatchUpPolicy
	Alerts   *Alerter
	Now      func() time.Time
	// Temporal lets a run follow another run it attached to; nil in tests that need not.
	Temporal client.Client
	// Metrics hooks; any may be nil.
	OnRecords   func(stream string, landed ingest.Landed)
	OnTransform func(lake.TransformReport)
	OnVerified  func(days int)                   // days merged, checked and cleared from the ledger
	OnLag       func(date time.Time, behind int) // a catch-up plan of date found a media's watermark behind by so many days
	// OnMaintenanceFailed is table maintenance failing on its last attempt: the run goes on
	// (its data is in and checked) and logs it, and the worker counts it.
	OnMaintenanceFailed func()
}

// classify maps errors onto Temporal's retry semantics.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var api *wistia.APIError
	switch {
	case errors.Is(err, wistia.ErrNotFound):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNotFound, nil)
	case errors.Is(err, wistia.ErrUnauthorized), errors.Is(err, wistia.ErrForbidden), errors.Is(err, wistia.ErrInvalidRequest):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeRejected, nil)
	case errors.As(err, &api):
		return err
	}
	var se *bronze.StoreError
	if errors.As(err, &se) && !se.Retryable {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeStorage, nil)
	}
	return err
}

func (a *Activities) counted(stream string, l ingest.Landed) {
	if a.OnRecords != nil {
		a.OnRecords(stream, l)
	}
}

// keepAlive heartbeats until stop is called, so that a worker dying in the middle of a long
// activity is noticed within the heartbeat timeout rather than the start-to-close timeout, and
// an attempt that is only waiting (Retry-After, backoff, the shared budget, a slow answer) is
// never timed out and run twice at once.
func keepAlive(ctx context.Context) (stop func()) { return keepAliveWith(ctx, nil) }

// keepAliveWith is keepAlive for activities that resume from their heartbeat details: each
// heartbeat carries details(), the latest progress, so a beat never erases the cursor.
func keepAliveWith(ctx context.Context, details func() any) (stop func()) {
	interval := activity.GetInfo(ctx).HeartbeatTimeout / 3
	if interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if details == nil {
					activity.RecordHeartbeat(ctx)
				} else {
					activity.RecordHeartbeat(ctx, details())
				}
			}
		}
	}()
	return func() { close(done) }
}

// resumable serves an activity that resumes from its heartbeat details: resume is the progress
// an earlier attempt recorded (zero when none, or unreadable: start over), beat records new
// progress, and until stop the latest progress is also sent on keepAlive's ticker, so that
// waiting never times the attempt out nor erases its cursor.
func resumable[P any](ctx context.Context) (resume P, beat func(P), stop func()) {
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &resume); err != nil {
			var zero P
			resume = zero
		}
	}
	var (
		mu   sync.Mutex
		last = resume
	)
	stop = keepAliveWith(ctx, func() any { mu.Lock(); defer mu.Unlock(); return last })
	beat = func(p P) {
		mu.Lock()
		last = p
		mu.Unlock()
		activity.RecordHeartbeat(ctx, p)
	}
	return resume, beat, stop
}

// MediaList is the media snapshot of a run.
type MediaList struct {
	Manifest string   `json:"manifest"`
	Medias   []string `json:"medias"` // hashed ids, in API order
	Rejects  int      `json:"rejects"`
	Requests int      `json:"requests"`
}

// ListMedias lands the account's media list in bronze and returns the hashed ids.
func (a *Activities) ListMedias(ctx context.Context, date, runID string) (MediaList, error) {
	defer keepAlive(ctx)()
	day, err := parseDay(date)
	if err != nil {
		return MediaList{}, err
	}
	l, ids, err := a.Ingester.Medias(ctx, day, runID)
	if err != nil {
		return MediaList{}, classify(err)
	}
	a.counted(bronze.StreamMedias, l)
	return MediaList{Manifest: l.Manifest, Medias: ids, Rejects: l.Rejects, Requests: l.Requests}, nil
}

// ReadPlan is the days a media's run reads: from its watermark minus the lookback to the date.
type ReadPlan struct {
	Start string   `json:"start"`
	End   string   `json:"end"`
	Days  []string `json:"days"`
}

// PlanWindow reads the media's watermark and returns the days to ingest.
func (a *Activities) PlanWindow(ctx context.Context, media, date string) (ReadPlan, error) {
	target, err := parseDay(date)
	if err != nil {
		return ReadPlan{}, err
	}
	mark, ok, err := a.Marks.Get(ctx, a.key(media))
	if err != nil {
		return ReadPlan{}, classify(err)
	}
	start, end, valid := a.Policy.Range(mark.Day, ok, target, a.Now())
	if !valid {
		return ReadPlan{}, nil
	}
	w := ReadPlan{Start: dates.Format(start), End: dates.Format(end)}
	for _, d := range dates.Range(start, end) {
		w.Days = append(w.Days, dates.Format(d))
	}
	return w, nil
}

func (a *Activities) key(media string) state.WatermarkKey {
	return state.WatermarkKey{Account: a.Account, Stream: bronze.StreamEvents, Media: media}
}

// IngestDailyStats lands one media's by_date rows for the window in the run date's bronze.
func (a *Activities) IngestDailyStats(ctx context.Context, media string, w ReadPlan, date, runID string) (Landed, error) {
	defer keepAlive(ctx)()
	days, err := parseDays([]string{w.Start, w.End, date})
	if err != nil {
		return Landed{}, err
	}
	start, end, day := days[0], days[1], days[2]
	l, err := a.Ingester.DailyStats(ctx, media, start, end, day, runID)
	if err != nil {
		return landedOf(l), classify(err)
	}
	a.counted(bronze.StreamDailyStats, l)
	return landedOf(l), nil
}

// IngestEvents lands one media's events of one day. It heartbeats after every page with the
// crawl state and the objects landed, and while it waits, with the same; a retried attempt
// resumes from there.
func (a *Activities) IngestEvents(ctx context.Context, media, day, runID string) (Landed, error) {
	d, err := parseDay(day)
	if err != nil {
		return Landed{}, err
	}
	resume, beat, stop := resumable[ingest.EventsProgress](ctx)
	defer stop()
	l, err := a.Ingester.Events(ctx, media, d, runID, resume, beat)
	if err != nil {
		return landedOf(l), classify(err)
	}
	a.counted(bronze.StreamEvents, l)
	return landedOf(l), nil
}

// IngestVisitors lands the visitors seen in the media's events of the window: the per-media
// activity of runs started before IngestRunVisitors, kept for them.
func (a *Activities) IngestVisitors(ctx context.Context, media string, w ReadPlan, date, runID string) (Landed, error) {
	day, err := parseDay(date)
	if err != nil {
		return Landed{}, err
	}
	days, err := parseDays(w.Days)
	if err != nil {
		return Landed{}, err
	}
	return a.ingestVisitors(ctx, media, days, day, runID)
}

// VisitorsInput names a run's visitor fetch: the visitors of the events it landed on Days.
type VisitorsInput struct {
	Date  string   `json:"date"`
	RunID string   `json:"run_id"`
	Days  []string `json:"days"`
}

// IngestRunVisitors lands, once per run, the record of every visitor seen in the run's events,
// across its medias; it heartbeats a cursor, and a retried attempt resumes from it.
func (a *Activities) IngestRunVisitors(ctx context.Context, in VisitorsInput) (Landed, error) {
	day, err := parseDay(in.Date)
	if err != nil {
		return Landed{}, err
	}
	days, err := parseDays(in.Days)
	if err != nil {
		return Landed{}, err
	}
	return a.ingestVisitors(ctx, bronze.AllMedia, days, day, in.RunID)
}

func (a *Activities) ingestVisitors(ctx context.Context, media string, days []time.Time, day time.Time, runID string) (Landed, error) {
	resume, beat, stop := resumable[ingest.VisitorsProgress](ctx)
	defer stop()
	l, err := a.Ingester.Visitors(ctx, media, days, day, runID, resume, beat)
	if err != nil {
		return landedOf(l), classify(err)
	}
	a.counted(bronze.StreamVisitors, l)
	return landedOf(l), nil
}

// AdvanceWatermark moves the media's watermark to day, if that is later than where it is.
func (a *Activities) AdvanceWatermark(ctx context.Context, media, day, runID string) (bool, error) {
	d, err := parseDay(day)
	if err != nil {
		return false, err
	}
	moved, err := a.Marks.Advance(ctx, a.key(media), state.Watermark{Day: d, RunID: runID, UpdatedAt: a.Now().UTC()})
	return moved, classify(err)
}

// Transform merges the bronze of the days into silver and recomputes gold for the dates it
// touched.
func (a *Activities) Transform(ctx context.Context, days []string, runID string) (TransformReport, error) {
	defer keepAlive(ctx)()
	list, err := lakeDays(days)
	if err != nil {
		return TransformReport{}, err
	}
	if err := a.Lake.EnsureTables(ctx); err != nil {
		return TransformReport{}, err
	}
	rep, err := a.Lake.Transform(ctx, a.Store, list, runID)
	if a.OnTransform != nil {
		a.OnTransform(rep)
	}
	return reportOf(rep), classify(err)
}

// ExpireSnapshots drops table snapshots older than the retention.
func (a *Activities) ExpireSnapshots(ctx context.Context) error {
	defer keepAlive(ctx)()
	err := a.Lake.ExpireSnapshots(ctx)
	if info := activity.GetInfo(ctx); err != nil && a.OnMaintenanceFailed != nil &&
		info.RetryPolicy != nil && info.RetryPolicy.MaximumAttempts > 0 && info.Attempt >= info.RetryPolicy.MaximumAttempts {
		a.OnMaintenanceFailed()
	}
	return err
}

// CheckData reconciles silver with bronze for the days and checks gold; problems fail the
// activity without retry, so the run reports them.
func (a *Activities) CheckData(ctx context.Context, days []string) (CheckResult, error) {
	defer keepAlive(ctx)()
	list, err := lakeDays(days)
	if err != nil {
		return CheckResult{}, err
	}
	rep, err := a.Lake.Check(ctx, a.Store, list)
	if err != nil {
		return CheckResult{}, classify(err)
	}
	res := CheckResult{BronzeEvents: rep.BronzeEvents, SilverEvents: rep.SilverEvents, FactRows: rep.FactRows}
	if rep.ProblemsTotal > 0 {
		return res, temporalCheckFailure(rep)
	}
	return res, nil
}

// CheckResult is what the data checks counted.
type CheckResult struct {
	BronzeEvents int `json:"bronze_events"`
	SilverEvents int `json:"silver_events"`
	FactRows     int `json:"fact_rows"`
}

// parseDay reads a date input; a bad one is a caller's bug that no retry fixes.
func parseDay(s string) (time.Time, error) {
	d, err := dates.Parse(s)
	if err != nil {
		return d, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadInput, nil)
	}
	return d, nil
}

func parseDays(list []string) ([]time.Time, error) {
	out := make([]time.Time, 0, len(list))
	for _, s := range list {
		d, err := parseDay(s)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// lakeDays reads days as the lake takes them, once, where the activity receives them.
func lakeDays(list []string) ([]dates.Date, error) {
	days, err := parseDays(list)
	return dates.DatesOf(days), err
}

func temporalCheckFailure(rep lake.CheckReport) error {
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("data checks of %v found %d problems, first: %s", rep.Days, rep.ProblemsTotal, strings.Join(rep.Problems, "; ")),
		ErrTypeCheckFailed, nil)
}
