// Package ingest lands one Wistia account's data in bronze: the media list, each media's daily
// stats and events by day window, and the visitors seen in those events. Each function is one
// unit of retryable work; the orchestration calls them from activities.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/buger/jsonparser"

	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// Ingester lands data from one Wistia account in one bronze store.
type Ingester struct {
	Client *wistia.Client
	Store  lake.Store
	Now    func() time.Time // the clock stamped on bronze lines
}

// Landed summarises one landed window: where its manifest is and what it holds.
type Landed struct {
	Manifest string `json:"manifest"`
	Records  int    `json:"records"`
	Rejects  int    `json:"rejects"` // records the client could not type (kept in bronze)
	Complete bool   `json:"complete"`
	Requests int    `json:"requests"` // API pages read (retries of one page count once)
	Bytes    int64  `json:"bytes"`    // bronze bytes of the window
}

func landed(w lake.Window, m lake.Manifest, rejects, requests int) Landed {
	return Landed{Manifest: w.ManifestKey(), Records: m.Records, Rejects: rejects, Complete: m.Complete, Requests: requests, Bytes: m.Bytes}
}

// Medias lands the account's media list for day and returns the media hashed ids in API order.
func (in *Ingester) Medias(ctx context.Context, day time.Time, runID string) (Landed, []string, error) {
	w := lake.Window{Stream: lake.StreamMedias, Day: day, Media: lake.AllMedia, RunID: runID}
	bw := lake.NewBronzeWriter(in.Store, w, nil, in.Now)
	var (
		ids            []string
		seen           = map[string]bool{}
		rejects, pages int
	)
	for page, err := range in.Client.Medias(ctx, 1) {
		if err != nil {
			return Landed{}, nil, err
		}
		pages++
		if _, err := bw.WritePage(ctx, page.Endpoint, page.Number, page.Records); err != nil {
			return Landed{}, nil, err
		}
		for _, m := range page.Items {
			id := string(m.HashedID)
			// An ID that is not a plain token never reaches an object key or a workflow ID (the
			// transform quarantines its record); a media listed twice is ingested once.
			if err := wistia.CheckID("hashed_id", id); err != nil {
				rejects++
				continue
			}
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		rejects += len(page.Rejects)
	}
	m, err := bw.Finish(ctx, true)
	if err != nil {
		return Landed{}, nil, err
	}
	return landed(w, m, rejects, pages), ids, nil
}

// DailyStats lands one media's by_date rows for start..end (inclusive) in day's bronze.
func (in *Ingester) DailyStats(ctx context.Context, media string, start, end, day time.Time, runID string) (Landed, error) {
	w := lake.Window{Stream: lake.StreamDailyStats, Day: day, Media: media, RunID: runID, Start: start, End: end}
	page, err := in.Client.MediaStatsByDate(ctx, media, start, end)
	if err != nil {
		return Landed{}, err
	}
	bw := lake.NewBronzeWriter(in.Store, w, nil, in.Now)
	if _, err := bw.WritePage(ctx, page.Endpoint, page.Number, page.Records); err != nil {
		return Landed{}, err
	}
	m, err := bw.Finish(ctx, true)
	if err != nil {
		return Landed{}, err
	}
	return landed(w, m, len(page.Rejects), 1), nil
}

// EventsProgress is how far an events window got: small enough for a heartbeat, so that a
// retried attempt resumes after the last page landed instead of starting over.
type EventsProgress struct {
	Crawl   wistia.CrawlState `json:"crawl"`
	Objects []lake.Object     `json:"objects"`
	Rejects int               `json:"rejects"`
}

// Events lands one media's events of one day, page by page, calling progress after each page.
// The window's manifest says whether the crawl was complete.
func (in *Ingester) Events(ctx context.Context, media string, day time.Time, runID string, resume EventsProgress,
	progress func(EventsProgress)) (Landed, error) {
	w := lake.Window{Stream: lake.StreamEvents, Day: day, Media: media, RunID: runID}
	bw := lake.NewBronzeWriter(in.Store, w, resume.Objects, in.Now)
	rejects, pages := resume.Rejects, 0
	state, err := in.Client.CrawlEvents(ctx, wistia.EventsQuery{MediaID: media, Start: day, End: day}, resume.Crawl,
		func(page *wistia.Page[wistia.Event], state wistia.CrawlState) error {
			if _, err := bw.WritePage(ctx, page.Endpoint, page.Number, page.Records); err != nil {
				return err
			}
			rejects += len(page.Rejects)
			pages++
			if progress != nil {
				progress(EventsProgress{Crawl: state, Objects: bw.Objects(), Rejects: rejects})
			}
			return nil
		})
	if err != nil {
		return Landed{}, err
	}
	m, err := bw.Finish(ctx, state.Complete)
	if err != nil {
		return Landed{}, err
	}
	return landed(w, m, rejects, pages), nil
}

// Visitors lands the visitor records of every visitor seen in one media's events landed by this
// run for the given days. It reads the visitor keys back from bronze, so no list of keys has to
// travel through the orchestration.
func (in *Ingester) Visitors(ctx context.Context, media string, days []time.Time, day time.Time, runID string) (Landed, error) {
	keys, err := in.visitorKeys(ctx, media, days, runID)
	if err != nil {
		return Landed{}, err
	}
	w := lake.Window{Stream: lake.StreamVisitors, Day: day, Media: media, RunID: runID}
	bw := lake.NewBronzeWriter(in.Store, w, nil, in.Now)
	rejects, requests := 0, 0
	for i, key := range keys {
		requests++
		page, err := in.Client.Visitor(ctx, key)
		if err != nil {
			if errors.Is(err, wistia.ErrNotFound) {
				continue // Wistia no longer knows the visitor; its events stay in silver
			}
			return Landed{}, fmt.Errorf("visitor %d of %d: %w", i+1, len(keys), err)
		}
		if _, err := bw.WritePage(ctx, page.Endpoint, page.Number, page.Records); err != nil {
			return Landed{}, err
		}
		rejects += len(page.Rejects)
	}
	m, err := bw.Finish(ctx, true)
	if err != nil {
		return Landed{}, err
	}
	return landed(w, m, rejects, requests), nil
}

func (in *Ingester) visitorKeys(ctx context.Context, media string, days []time.Time, runID string) ([]string, error) {
	seen := map[string]bool{}
	for _, day := range days {
		w := lake.Window{Stream: lake.StreamEvents, Day: day, Media: media, RunID: runID}
		body, err := in.Store.Get(ctx, w.ManifestKey())
		if err != nil {
			return nil, fmt.Errorf("events manifest of %s on %s: %w", media, day.Format(time.DateOnly), err)
		}
		var m lake.Manifest
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("events manifest %s: %w", w.ManifestKey(), err)
		}
		for _, obj := range m.Objects {
			for line, err := range lake.ReadObject(ctx, in.Store, obj) {
				if err != nil {
					return nil, err
				}
				if key, err := jsonparser.GetString(line.Bytes, "visitor_key"); err == nil && wistia.CheckID("visitor_key", key) == nil {
					seen[key] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}
