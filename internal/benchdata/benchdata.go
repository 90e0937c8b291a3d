// Package benchdata lands a Wistia-shaped bronze data set made from a seed, through the lake's
// own bronze writer, so the lake's benchmarks and the peer benchmark (bench/peer) measure the
// same bytes.
package benchdata

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
)

// Defaults of a Shape made by NewShape.
const (
	DefaultVisitors       = 200_000
	DefaultDuplicateShare = 0.03
	DefaultSeed           = 1
)

// PageRecords is how many records a bronze events object holds (a duplicate may make it one
// more): larger than an API page, to keep the set-up short.
const PageRecords = 1_000

// runID is the run that lands the whole data set.
const runID = "bench"

// lastDay is the newest event day; the others are the days before it.
var lastDay = dates.DateOf(time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC))

// Shape says what to land.
type Shape struct {
	Events         int     // distinct events, spread evenly over the days and medias
	Days           int     // event days, ending on 2026-11-19
	Medias         int     // medias, each listed once with its by_date stats
	Visitors       int     // distinct visitor keys the events cycle through
	DuplicateShare float64 // share of the events listed twice (next to themselves), 0 to 1
	Seed           uint64  // times, percentages, IPs and visitor keys derive from it
	// StatsPerDay lands each day's by_date rows in that day's window, as daily runs do; by
	// default each media's rows for all the days are one window on the last day, as a backfill
	// lands them.
	StatsPerDay bool
}

// NewShape is a shape with the default visitors, duplicate share and seed.
func NewShape(events, days, medias int) Shape {
	return Shape{Events: events, Days: days, Medias: medias, Visitors: DefaultVisitors,
		DuplicateShare: DefaultDuplicateShare, Seed: DefaultSeed}
}

func (s Shape) check() error {
	switch {
	case s.Events < 0 || s.Days < 1 || s.Medias < 1 || s.Visitors < 1:
		return fmt.Errorf("benchdata: shape %+v: want events ≥ 0 and days, medias and visitors ≥ 1", s)
	case s.DuplicateShare < 0 || s.DuplicateShare > 1 || math.IsNaN(s.DuplicateShare):
		return fmt.Errorf("benchdata: duplicate share %v is not between 0 and 1", s.DuplicateShare)
	}
	return nil
}

// Landed is what Land wrote.
type Landed struct {
	Days     []dates.Date // the event days, oldest first: what a transform of the set merges
	Events   int          // distinct events (distinct event keys)
	Records  int          // event lines, duplicates included
	Visitors int          // distinct visitor keys
}

// EventDays are the event days of a data set of n days, oldest first: the n days ending on
// 2026-11-19.
func EventDays(n int) []dates.Date {
	return dates.Range(lastDay.AddDays(1-n), lastDay)
}

// Land writes the data set into store as the ingest would: the media list, each media's events
// of each day in objects of PageRecords lines, and each media's by_date stats over the days,
// every window with its manifest. The same shape lands the same bytes: the bronze clock is
// synthetic, starting an hour after the last day.
func Land(ctx context.Context, store bronze.Store, s Shape) (Landed, error) {
	if err := s.check(); err != nil {
		return Landed{}, err
	}
	out := Landed{Days: EventDays(s.Days), Events: s.Events, Visitors: min(s.Events, s.Visitors)}
	now := clock(lastDay.AddDays(1).Time().Add(time.Hour))
	mediaIDs := make([]string, s.Medias)
	mediaRecs := make([]json.RawMessage, s.Medias)
	for m := range mediaIDs {
		mediaIDs[m] = fmt.Sprintf("bm%06d", m)
		mediaRecs[m] = json.RawMessage(fmt.Sprintf(
			`{"id":%d,"hashed_id":%q,"name":"Bench %d","type":"Video","duration":%d.5,"created":"2025-01-02T03:04:05Z","updated":"2025-02-02T03:04:05Z","project":{"id":1,"name":"Facebook Ads","hashedId":"p1"},"tags":[{"name":"facebook"}]}`,
			m, mediaIDs[m], m, 30+m%600))
	}
	mediaWindow := bronze.Landing{Stream: bronze.StreamMedias, Day: lastDay, Media: bronze.AllMedia, RunID: runID}
	if err := landWindow(ctx, store, mediaWindow, now, "/medias.json", [][]json.RawMessage{mediaRecs}); err != nil {
		return Landed{}, err
	}

	g := newGenerator(s)
	var (
		page []json.RawMessage
		buf  []byte // the page's records
	)
	for d, day := range out.Days {
		for m, media := range mediaIDs {
			w := bronze.Landing{Stream: bronze.StreamEvents, Day: day, Media: media, RunID: runID}
			bw := bronze.NewWriter(store, w, nil, now)
			pageNo := 0
			flush := func() error {
				if len(page) == 0 {
					return nil
				}
				pageNo++
				_, err := bw.WritePage(ctx, "/stats/events.json", pageNo, page)
				page, buf = page[:0], buf[:0]
				return err
			}
			for range share(share(s.Events, s.Days, d), s.Medias, m) {
				start := len(buf)
				var twice bool
				buf, twice = g.event(buf, media, day)
				page = append(page, buf[start:])
				out.Records++
				if twice {
					page = append(page, buf[start:])
					out.Records++
				}
				if len(page) >= PageRecords {
					if err := flush(); err != nil {
						return Landed{}, fmt.Errorf("benchdata: %w", err)
					}
				}
			}
			if err := flush(); err != nil {
				return Landed{}, fmt.Errorf("benchdata: %w", err)
			}
			if _, err := bw.Finish(ctx, true); err != nil {
				return Landed{}, fmt.Errorf("benchdata: manifest %s: %w", w.ManifestKey(), err)
			}
		}
	}

	stats := make([]json.RawMessage, len(out.Days))
	for m, media := range mediaIDs {
		for d, day := range out.Days {
			plays := share(share(s.Events, s.Days, d), s.Medias, m)
			stats[d] = json.RawMessage(fmt.Sprintf(`{"date":%q,"load_count":%d,"play_count":%d,"hours_watched":1.25}`,
				day.String(), 2*plays, plays))
		}
		windows := []bronze.Landing{{Stream: bronze.StreamDailyStats, Day: lastDay, Media: media, RunID: runID, Start: out.Days[0], End: lastDay}}
		pages := [][][]json.RawMessage{{stats}}
		if s.StatsPerDay {
			windows, pages = nil, nil
			for d, day := range out.Days {
				windows = append(windows, bronze.Landing{Stream: bronze.StreamDailyStats, Day: day, Media: media, RunID: runID, Start: day, End: day})
				pages = append(pages, [][]json.RawMessage{stats[d : d+1]})
			}
		}
		for i, w := range windows {
			if err := landWindow(ctx, store, w, now, "/stats/medias/"+media+"/by_date.json", pages[i]); err != nil {
				return Landed{}, err
			}
		}
	}
	return out, nil
}

// landWindow writes a window's pages, numbered from 1, and its manifest.
func landWindow(ctx context.Context, store bronze.Store, w bronze.Landing, now func() time.Time, source string, pages [][]json.RawMessage) error {
	bw := bronze.NewWriter(store, w, nil, now)
	for i, records := range pages {
		if _, err := bw.WritePage(ctx, source, i+1, records); err != nil {
			return fmt.Errorf("benchdata: %w", err)
		}
	}
	if _, err := bw.Finish(ctx, true); err != nil {
		return fmt.Errorf("benchdata: manifest %s: %w", w.ManifestKey(), err)
	}
	return nil
}

// clock is a bronze clock that moves a millisecond each time it is read.
func clock(start time.Time) func() time.Time {
	next := start
	return func() time.Time {
		t := next
		next = next.Add(time.Millisecond)
		return t
	}
}

// share is the i-th of n near-equal shares of total: the first total%n get one more.
func share(total, n, i int) int {
	q := total / n
	if i < total%n {
		q++
	}
	return q
}

// generator renders the events one after the other.
type generator struct {
	rng       *rand.Rand
	visitors  uint64
	mul, xor  uint64 // visitor keys: a bijection of the visitor's number, so keys stay distinct
	dupPPM    uint64 // duplicate share in parts per million
	n         uint64 // events rendered so far
	timestamp []byte
}

func newGenerator(s Shape) *generator {
	rng := rand.New(rand.NewPCG(s.Seed, 0x5769737469610001))
	return &generator{rng: rng, visitors: uint64(s.Visitors), mul: rng.Uint64() | 1, xor: rng.Uint64(),
		dupPPM: uint64(math.Round(s.DuplicateShare * 1e6))}
}

// event appends the next event in the API's shape to buf: the simulator's fields and sizes,
// rendered directly because landing millions of events over HTTP would dominate the set-up.
// twice says whether the event is to be listed twice; exactly ⌊events × share⌋ are, spread
// evenly.
func (g *generator) event(buf []byte, media string, day dates.Date) (_ []byte, twice bool) {
	n := g.n
	g.n++
	twice = (n+1)*g.dupPPM/1e6 > n*g.dupPPM/1e6
	g.timestamp = day.Time().Add(time.Duration(g.rng.Uint64()%86400)*time.Second).AppendFormat(g.timestamp[:0], time.RFC3339)
	buf = append(buf, `{"event_key":"evt_`...)
	buf = strconv.AppendUint(buf, n, 36)
	buf = append(buf, `","received_at":"`...)
	buf = append(buf, g.timestamp...)
	buf = append(buf, `","visitor_key":"vis_`...)
	buf = strconv.AppendUint(buf, (n%g.visitors)*g.mul^g.xor, 36)
	buf = append(buf, `","media_id":"`...)
	buf = append(buf, media...)
	buf = append(buf, `","media_name":"Quick Demo 12","media_url":"https://home.wistia.com/medias/`...)
	buf = append(buf, media...)
	buf = append(buf, `","embed_url":"https://www.example-shop.com/pricing","percent_viewed":0.`...)
	buf = strconv.AppendUint(buf, 10+g.rng.Uint64()%90, 10)
	buf = append(buf, `,"ip":"203.0.113.`...)
	buf = strconv.AppendUint(buf, g.rng.Uint64()%250, 10)
	buf = append(buf, `","org":"Comcast Cable","country":"US","region":"California","city":"San Francisco","lat":37.77,"lon":-122.42,`...)
	buf = append(buf, `"email":null,"conversion_type":"","thumbnail":{"url":"https://embed-ssl.wistia.com/deliveries/abc.jpg"},`...)
	buf = append(buf, `"user_agent_details":{"browser":"Chrome","browser_version":"131.0","platform":"windows","mobile":false}}`...)
	return buf, twice
}
