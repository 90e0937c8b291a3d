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

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/ingest"
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
	OnVerified  func(days int)                    // days merged, checked and cleared from the ledger
	OnLag       func(date dates.Date, behind int) // a catch-up plan of date found a media's watermark behind by so many days
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

// MediasInput names a run's media listing.
type MediasInput struct {
	Date  dates.Date `json:"date"`
	RunID string     `json:"run_id"`
}

// IngestMedias lands the account's media list in bronze under the run's date and returns the
// hashed ids.
func (a *Activities) IngestMedias(ctx context.Context, in MediasInput) (MediaList, error) {
	defer keepAlive(ctx)()
	l, ids, err := a.Ingester.Medias(ctx, in.Date, in.RunID)
	if err != nil {
		return MediaList{}, classify(err)
	}
	a.counted(bronze.StreamMedias, l)
	return MediaList{Manifest: l.Manifest, Medias: ids, Rejects: l.Rejects, Requests: l.Requests}, nil
}

// ReadPlan is the days a media's run reads: from its watermark minus the lookback to the date.
// An empty plan reads nothing.
type ReadPlan struct {
	Start dates.Date   `json:"start"`
	End   dates.Date   `json:"end"`
	Days  []dates.Date `json:"days"`
}

func planOf(start, end dates.Date) ReadPlan {
	return ReadPlan{Start: start, End: end, Days: dates.Range(start, end)}
}

func (a *Activities) key(media string) state.WatermarkKey {
	return state.WatermarkKey{Account: a.Account, Stream: bronze.StreamEvents, Media: media}
}

// StatsInput names one media's by_date fetch: the plan's days, landed under the run's date.
type StatsInput struct {
	Media string     `json:"media"`
	Plan  ReadPlan   `json:"plan"`
	Date  dates.Date `json:"date"`
	RunID string     `json:"run_id"`
}

// IngestStats lands one media's by_date rows for the plan's days in the run date's bronze.
func (a *Activities) IngestStats(ctx context.Context, in StatsInput) (Landed, error) {
	defer keepAlive(ctx)()
	l, err := a.Ingester.DailyStats(ctx, in.Media, in.Plan.Start, in.Plan.End, in.Date, in.RunID)
	if err != nil {
		return landedOf(l), classify(err)
	}
	a.counted(bronze.StreamDailyStats, l)
	return landedOf(l), nil
}

// EventsInput names one media's events of one day.
type EventsInput struct {
	Media string     `json:"media"`
	Day   dates.Date `json:"day"`
	RunID string     `json:"run_id"`
}

// IngestDayEvents lands one media's events of one day. It heartbeats after every page with the
// crawl state and the objects landed, and while it waits, with the same; a retried attempt
// resumes from there.
func (a *Activities) IngestDayEvents(ctx context.Context, in EventsInput) (Landed, error) {
	resume, beat, stop := resumable[ingest.EventsProgress](ctx)
	defer stop()
	l, err := a.Ingester.Events(ctx, in.Media, in.Day, in.RunID, resume, beat)
	if err != nil {
		return landedOf(l), classify(err)
	}
	a.counted(bronze.StreamEvents, l)
	return landedOf(l), nil
}

// VisitorsInput names a run's visitor fetch: the visitors of the events it landed on Days.
type VisitorsInput struct {
	Date  dates.Date   `json:"date"`
	RunID string       `json:"run_id"`
	Days  []dates.Date `json:"days"`
}

// IngestRunVisitors lands, once per run, the record of every visitor seen in the run's events,
// across its medias; it heartbeats a cursor, and a retried attempt resumes from it.
func (a *Activities) IngestRunVisitors(ctx context.Context, in VisitorsInput) (Landed, error) {
	return a.ingestVisitors(ctx, bronze.AllMedia, in.Days, in.Date, in.RunID)
}

func (a *Activities) ingestVisitors(ctx context.Context, media string, days []dates.Date, day dates.Date, runID string) (Landed, error) {
	resume, beat, stop := resumable[ingest.VisitorsProgress](ctx)
	defer stop()
	l, err := a.Ingester.Visitors(ctx, media, days, day, runID, resume, beat)
	if err != nil {
		return landedOf(l), classify(err)
	}
	a.counted(bronze.StreamVisitors, l)
	return landedOf(l), nil
}

func (a *Activities) advanceWatermark(ctx context.Context, media string, day dates.Date, runID string) (bool, error) {
	moved, err := a.Marks.Advance(ctx, a.key(media), state.Watermark{Day: day, RunID: runID, UpdatedAt: a.Now().UTC()})
	return moved, classify(err)
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

// CheckResult is what the data checks counted.
type CheckResult struct {
	BronzeEvents int `json:"bronze_events"`
	SilverEvents int `json:"silver_events"`
	FactRows     int `json:"fact_rows"`
}

func temporalCheckFailure(rep lake.CheckReport) error {
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("data checks of %v found %d problems, first: %s", rep.Days, rep.ProblemsTotal, strings.Join(rep.Problems, "; ")),
		ErrTypeCheckFailed, nil)
}
