// Package ingest lands one Wistia account's data in bronze: the media list, each media's daily
// stats and events by day window, and the visitors seen in those events. Each function is one
// unit of retryable work; the orchestration calls them from activities.
package ingest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/buger/jsonparser"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// Ingester lands data from one Wistia account in one bronze store.
type Ingester struct {
	Client *wistia.Client
	Store  bronze.Store
	Now    func() time.Time // the clock stamped on bronze lines
	// VisitorsPerObject is how many visitor records land in one bronze object; 0 means 500.
	VisitorsPerObject int
}

// Landed summarises one landed window: where its manifest is and what it holds.
type Landed struct {
	Manifest string `json:"manifest"`
	Records  int    `json:"records"`
	Rejects  int    `json:"rejects"` // records the client could not type (kept in bronze)
	Complete bool   `json:"complete"`
	Requests int    `json:"requests"` // API pages read (retries of one page count once)
	Bytes    int64  `json:"bytes"`    // bronze bytes of the window
	// Unwatched is, of by_date stats, the days whose row shows no loads and no plays: the API
	// lists no events for them, so their events are not asked for.
	Unwatched []dates.Date `json:"unwatched,omitempty"`
}

func landed(w bronze.Landing, m bronze.Manifest, rejects, requests int) Landed {
	return Landed{Manifest: w.ManifestKey(), Records: m.Records, Rejects: rejects, Complete: m.Complete, Requests: requests, Bytes: m.Bytes}
}

// Medias lands the account's media list for day and returns the media hashed ids in API order.
func (in *Ingester) Medias(ctx context.Context, day dates.Date, runID string) (Landed, []string, error) {
	w := bronze.Landing{Stream: bronze.StreamMedias, Day: day, Media: bronze.AllMedia, RunID: runID}
	bw := bronze.NewWriter(in.Store, w, nil, in.Now)
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
func (in *Ingester) DailyStats(ctx context.Context, media string, start, end, day dates.Date, runID string) (Landed, error) {
	w := bronze.Landing{Stream: bronze.StreamDailyStats, Day: day, Media: media, RunID: runID, Start: start, End: end}
	page, err := in.Client.MediaStatsByDate(ctx, media, start, end)
	if err != nil {
		return Landed{}, err
	}
	bw := bronze.NewWriter(in.Store, w, nil, in.Now)
	if _, err := bw.WritePage(ctx, page.Endpoint, page.Number, page.Records); err != nil {
		return Landed{}, err
	}
	m, err := bw.Finish(ctx, true)
	if err != nil {
		return Landed{}, err
	}
	l := landed(w, m, len(page.Rejects), 1)
	l.Unwatched = unwatched(page, start, end)
	return l, nil
}

// unwatched lists the days of start..end whose by_date row shows no loads and no plays. A
// day without a row is not among them, and none is when a row could not be typed (it could be
// any day's): only what the API said for certain saves a request.
func unwatched(page *wistia.Page[wistia.DailyStat], start, end dates.Date) []dates.Date {
	if len(page.Rejects) > 0 {
		return nil
	}
	var out []dates.Date
	for _, st := range page.Items {
		d := dates.DateOf(st.Date.Time)
		if st.LoadCount == 0 && st.PlayCount == 0 && d >= start && d <= end {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// EventsProgress is how far an events window got: small enough for a heartbeat, so that a
// retried attempt resumes after the last page landed instead of starting over.
type EventsProgress struct {
	Crawl   wistia.CrawlState `json:"crawl"`
	Objects []bronze.Object   `json:"objects"`
	Rejects int               `json:"rejects"`
}

// Events lands one media's events of one day, page by page, calling progress after each page.
// The window's manifest says whether the crawl was complete.
func (in *Ingester) Events(ctx context.Context, media string, day dates.Date, runID string, resume EventsProgress,
	progress func(EventsProgress)) (Landed, error) {
	w := bronze.Landing{Stream: bronze.StreamEvents, Day: day, Media: media, RunID: runID}
	bw := bronze.NewWriter(in.Store, w, resume.Objects, in.Now)
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

// VisitorsProgress is how far a run's visitor fetch got: small enough for a heartbeat, so that
// a retried attempt resumes after the last object landed instead of starting over.
type VisitorsProgress struct {
	// Next is the first visitor key not yet landed (keys sort before it are landed or gone);
	// a key rather than a position, since the list may differ when a retry computes it again.
	Next     string          `json:"next"`
	Objects  []bronze.Object `json:"objects"`
	Rejects  int             `json:"rejects"`
	Requests int             `json:"requests"`
}

// doneKey sorts after every valid visitor key: the cursor of a finished fetch.
const doneKey = "~"

// defaultVisitorsPerObject is how many visitor records land in one bronze object.
const defaultVisitorsPerObject = 500

// refetchAfter is how long a visitor record an earlier run fetched stays good enough, unless
// the visitor has played since.
const refetchAfter = 24 * time.Hour

// VisitorsSource is the _source of landed visitor records: one GET per visitor_key.
const VisitorsSource = "/stats/visitors/{visitor_key}.json"

// Visitors lands, once per run, the record of every visitor seen in the events the run landed
// on the given days for media (bronze.AllMedia: across all its medias), in objects of many
// records, calling progress after each. A visitor whose record an earlier run fetched within
// the last day is skipped, unless one of its events in this run is newer than that fetch.
func (in *Ingester) Visitors(ctx context.Context, media string, days []dates.Date, day dates.Date, runID string, resume VisitorsProgress,
	progress func(VisitorsProgress)) (Landed, error) {
	keys, err := in.visitorsToFetch(ctx, media, days, day, runID)
	if err != nil {
		return Landed{}, err
	}
	w := bronze.Landing{Stream: bronze.StreamVisitors, Day: day, Media: media, RunID: runID}
	bw := bronze.NewWriter(in.Store, w, resume.Objects, in.Now)
	p := resume
	var batch []json.RawMessage
	rejects := 0
	flush := func(next string) error {
		if len(batch) > 0 {
			if _, err := bw.WritePage(ctx, VisitorsSource, len(bw.Objects())+1, batch); err != nil {
				return err
			}
		}
		batch = batch[:0]
		p.Next, p.Objects, p.Rejects = next, bw.Objects(), p.Rejects+rejects
		rejects = 0
		if progress != nil {
			progress(p)
		}
		return nil
	}
	start, _ := slices.BinarySearch(keys, p.Next)
	for i := start; i < len(keys); i++ {
		p.Requests++
		page, err := in.Client.Visitor(ctx, keys[i])
		if err != nil {
			if errors.Is(err, wistia.ErrNotFound) {
				continue // Wistia no longer knows the visitor; its events stay in silver
			}
			return Landed{}, fmt.Errorf("visitor %d of %d: %w", i+1, len(keys), err)
		}
		batch = append(batch, page.Records...)
		rejects += len(page.Rejects)
		if len(batch) >= cmp.Or(in.VisitorsPerObject, defaultVisitorsPerObject) && i+1 < len(keys) {
			if err := flush(keys[i+1]); err != nil {
				return Landed{}, err
			}
		}
	}
	if err := flush(doneKey); err != nil {
		return Landed{}, err
	}
	m, err := bw.Finish(ctx, true)
	if err != nil {
		return Landed{}, err
	}
	return landed(w, m, p.Rejects, p.Requests), nil
}

// visitorsToFetch lists, sorted, the visitor keys of the events this run landed on the days,
// less those an earlier run fetched within refetchAfter of now that have not played since.
func (in *Ingester) visitorsToFetch(ctx context.Context, media string, days []dates.Date, day dates.Date, runID string) ([]string, error) {
	latest := map[string]time.Time{} // visitor → newest event received_at in this run
	for _, d := range days {
		manifests, err := bronze.Manifests(ctx, in.Store, bronze.StreamEvents, d)
		if err != nil {
			return nil, fmt.Errorf("events manifests of %s: %w", d, err)
		}
		for _, m := range manifests {
			if m.RunID != runID || (media != bronze.AllMedia && m.Media != media) {
				continue
			}
			for _, obj := range m.Objects {
				for line, err := range bronze.ReadObject(ctx, in.Store, obj) {
					if err != nil {
						return nil, err
					}
					key, err := jsonparser.GetString(line.Bytes, "visitor_key")
					if err != nil || wistia.CheckID("visitor_key", key) != nil {
						continue
					}
					var at wistia.Timestamp // unreadable: the zero time, which any fetch is newer than
					if raw, vt, _, err := jsonparser.Get(line.Bytes, "received_at"); err == nil {
						if vt == jsonparser.String {
							raw = append(append([]byte{'"'}, raw...), '"')
						}
						_ = at.UnmarshalJSON(raw)
					}
					if prev, ok := latest[key]; !ok || at.Time.After(prev) {
						latest[key] = at.Time
					}
				}
			}
		}
	}
	fetched, err := in.recentlyFetched(ctx, day, runID)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(latest))
	for key, at := range latest {
		if f, ok := fetched[key]; ok && !at.After(f) {
			continue
		}
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys, nil
}

// recentlyFetched is when earlier runs last landed each visitor's record, within refetchAfter,
// among the visitors landed under the run's date and the days either side (where the runs of
// the last day land them; a record found nowhere is fetched, the safe side).
func (in *Ingester) recentlyFetched(ctx context.Context, day dates.Date, runID string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	since := in.Now().Add(-refetchAfter)
	for _, d := range []dates.Date{day.AddDays(-1), day, day.AddDays(1)} {
		manifests, err := bronze.Manifests(ctx, in.Store, bronze.StreamVisitors, d)
		if err != nil {
			return nil, fmt.Errorf("visitors manifests of %s: %w", d, err)
		}
		for _, m := range manifests {
			if m.RunID == runID {
				continue
			}
			for _, obj := range m.Objects {
				for line, err := range bronze.ReadObject(ctx, in.Store, obj) {
					if err != nil {
						return nil, err
					}
					key, err1 := jsonparser.GetString(line.Bytes, "visitor_key")
					at, err2 := jsonparser.GetString(line.Bytes, "_ingested_at")
					t, err3 := time.Parse(time.RFC3339Nano, at)
					if err1 != nil || err2 != nil || err3 != nil || t.Before(since) {
						continue
					}
					if t.After(out[key]) {
						out[key] = t
					}
				}
			}
		}
	}
	return out, nil
}
