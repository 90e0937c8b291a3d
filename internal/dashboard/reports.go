// Package dashboard serves the marketing team's dashboard: plays, hours watched and play rate
// per channel over time, the top media, a page per media, and how fresh the data is. Every
// number is read from gold through lake, with the definitions of docs/metrics.md (rates are
// ratios of sums), and served as JSON under /api/ for the pages and for other tools.
package dashboard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
)

// Totals are the summed metrics of some rows of gold.fact_media_daily.
type Totals struct {
	Plays        int64   `json:"plays"`
	Loads        int64   `json:"loads"`
	HoursWatched float64 `json:"hours_watched"`
	PlayRate     float64 `json:"play_rate"` // plays / loads over the rows; 0 without loads
}

func (t *Totals) add(f factRow) {
	t.Plays += f.plays
	t.Loads += f.loads
	t.HoursWatched += f.hours
}

// rate sets the play rate as the ratio of the sums (docs/metrics.md: never average a rate).
func (t *Totals) rate() {
	t.PlayRate = 0
	if t.Loads > 0 {
		t.PlayRate = float64(t.Plays) / float64(t.Loads)
	}
}

// Period is the totals of one day or one week (starting on Monday), named by its first day.
type Period struct {
	Start string `json:"start"`
	Totals
}

// Grains of a time series.
const (
	Daily  = "daily"
	Weekly = "weekly"
)

// periodOf is the first day of the period holding d.
func periodOf(d dates.Date, grain string) dates.Date {
	if grain == Weekly {
		return d - dates.Date((int(d.Time().Weekday())+6)%7)
	}
	return d
}

// periods lists every period of from..to, empty ones included, so charts show gaps as zeros.
func periods(from, to dates.Date, grain string) []dates.Date {
	var out []dates.Date
	for d := periodOf(from, grain); d <= to; {
		out = append(out, d)
		if grain == Weekly {
			d += 7
		} else {
			d++
		}
	}
	return out
}

// Range is the days a report covers and the grain of its series.
type Range struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Grain string `json:"grain,omitempty"`
}

// ChannelSeries is one channel's totals over time.
type ChannelSeries struct {
	Channel string   `json:"channel"`
	Periods []Period `json:"periods"`
	Total   Totals   `json:"total"`
}

// ChannelsReport is plays, hours watched and play rate per channel over a range.
type ChannelsReport struct {
	Range
	Channels []ChannelSeries `json:"channels"` // most plays first
	Total    Totals          `json:"total"`
}

// MediaRow is one media's totals over a range.
type MediaRow struct {
	MediaID string `json:"media_id"`
	Title   string `json:"title"`
	Channel string `json:"channel"`
	Totals
}

// TopMediaReport is the media with the most plays over a range.
type TopMediaReport struct {
	Range
	Media []MediaRow `json:"media"` // most plays first, then by media id
}

// CountryPlays is the plays from one country's visitors, from the engagement fact.
type CountryPlays struct {
	Country  string `json:"country"` // "unknown" when the visitor's country is not known
	Plays    int64  `json:"plays"`
	Visitors int    `json:"visitors"`
}

// MediaInfo is what gold.dim_media says of a media.
type MediaInfo struct {
	MediaID         string  `json:"media_id"`
	Title           string  `json:"title"`
	Channel         string  `json:"channel"`
	Project         string  `json:"project"`
	URL             string  `json:"url"`
	DurationSeconds float64 `json:"duration_seconds"`
}

// MediaReport is one media's page: what it is, its daily series and its viewers' countries.
type MediaReport struct {
	Range
	Media     MediaInfo      `json:"media"`
	Days      []Period       `json:"days"`
	Total     Totals         `json:"total"`
	Countries []CountryPlays `json:"countries"` // most plays first
}

// Freshness is how current gold is: the last day it holds and when a run last wrote it.
type Freshness struct {
	DataThrough string    `json:"data_through,omitempty"` // empty before the first run
	LastRun     time.Time `json:"last_run"`               // the last commit to gold.fact_media_daily
	Zone        string    `json:"zone"`                   // the account's stats zone, whose days the dates are
}

// Reports reads the dashboard's numbers from the lakehouse's gold tables. It keeps what it
// derives from each table for the table's current snapshot (see cache.go), so a run's commit
// shows on the next request and a year of gold is read once per commit, not per request.
type Reports struct {
	lake     *lake.Lakehouse
	medias   *names // media ids, numbered for every table's state
	visitors *names // visitor ids, numbered for the engagement fact and dim_visitor
	// countryNames numbers dim_visitor's countries; unknownCountry is first.
	countryNames *names

	facts      goldTable[gold.FactMediaDaily, *dailyFacts]
	dims       goldTable[gold.DimMedia, *mediaDims]
	engagement goldTable[gold.FactEngagement, *engagementFacts]
	countries  goldTable[gold.DimVisitor, *visitorCountries]
}

// NewReports reads the gold tables of lh, and keeps what it read while their snapshots last.
func NewReports(lh *lake.Lakehouse) *Reports {
	r := &Reports{lake: lh, medias: newNames(), visitors: newNames(), countryNames: newNames()}
	r.countryNames.number(func(of func(string) int32) { of(unknownCountry) })
	r.facts = goldTable[gold.FactMediaDaily, *dailyFacts]{name: tableName[gold.FactMediaDaily](lh),
		state: snapshotCache[*dailyFacts]{val: &dailyFacts{}},
		derive: func(ctx context.Context, snap lake.Snapshot[gold.FactMediaDaily], prev *dailyFacts) (*dailyFacts, error) {
			return readFacts(ctx, snap, prev, r.medias)
		}}
	r.dims = goldTable[gold.DimMedia, *mediaDims]{name: tableName[gold.DimMedia](lh),
		derive: func(ctx context.Context, snap lake.Snapshot[gold.DimMedia], _ *mediaDims) (*mediaDims, error) {
			return readDims(ctx, snap, r.medias)
		}}
	r.engagement = goldTable[gold.FactEngagement, *engagementFacts]{name: tableName[gold.FactEngagement](lh),
		state: snapshotCache[*engagementFacts]{val: &engagementFacts{}},
		derive: func(ctx context.Context, snap lake.Snapshot[gold.FactEngagement], prev *engagementFacts) (*engagementFacts, error) {
			return readEngagement(ctx, snap, prev, r.medias, r.visitors)
		}}
	r.countries = goldTable[gold.DimVisitor, *visitorCountries]{name: tableName[gold.DimVisitor](lh),
		state: snapshotCache[*visitorCountries]{val: &visitorCountries{}},
		derive: func(ctx context.Context, snap lake.Snapshot[gold.DimVisitor], prev *visitorCountries) (*visitorCountries, error) {
			return readVisitors(ctx, snap, prev, r.visitors, r.countryNames)
		}}
	return r
}

// Load reads every gold table's current snapshot, as the first requests would: a server
// that calls it as it starts serves its first page from memory.
func (r *Reports) Load(ctx context.Context) error {
	return concurrently(ctx,
		func(ctx context.Context) error { _, err := r.facts.current(ctx, r.lake); return err },
		func(ctx context.Context) error { _, err := r.dims.current(ctx, r.lake); return err },
		func(ctx context.Context) error { _, err := r.engagement.current(ctx, r.lake); return err },
		func(ctx context.Context) error { _, err := r.countries.current(ctx, r.lake); return err })
}

// tableName is the "<layer>.<name>" of R's table; a lakehouse without it fails its first read.
func tableName[R any](lh *lake.Lakehouse) string {
	t, err := lake.TableOf[R](lh)
	if err != nil {
		return ""
	}
	return t.TableName()
}

// Reads counts, by table, the snapshots read since r was made: one per new snapshot that
// requests asked for, however many asked at once.
func (r *Reports) Reads() map[string]int {
	return map[string]int{
		r.facts.name:      r.facts.state.loads(),
		r.dims.name:       r.dims.state.loads(),
		r.engagement.name: r.engagement.state.loads(),
		r.countries.name:  r.countries.state.loads(),
	}
}

// ErrUnknownMedia is a media id gold does not hold.
var ErrUnknownMedia = errors.New("unknown media")

// concurrently runs the loads at once: each loads a table from the catalog, a round trip of
// its own when the warehouse is a bucket.
func concurrently(ctx context.Context, loads ...func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, load := range loads {
		g.Go(func() error { return load(ctx) })
	}
	return g.Wait()
}

// daily is the current state of the daily fact and of dim_media.
func (r *Reports) daily(ctx context.Context) (facts *dailyFacts, dims *mediaDims, err error) {
	err = concurrently(ctx,
		func(ctx context.Context) (err error) { facts, err = r.facts.current(ctx, r.lake); return err },
		func(ctx context.Context) (err error) { dims, err = r.dims.current(ctx, r.lake); return err })
	return facts, dims, err
}

// defaultDays is the range a report covers when none is asked for: four weeks to the last day.
const defaultDays = 28

// rangeOf is from..to, or when both are zero the defaultDays up to the last day gold holds
// (yesterday, in the account's zone, before the first run).
func (r *Reports) rangeOf(facts *dailyFacts, from, to dates.Date) (dates.Date, dates.Date) {
	if !from.IsZero() || !to.IsZero() {
		return from, to
	}
	to = facts.last
	if to.IsZero() {
		to = r.lake.Zone().LastEnded(time.Now())
	}
	return to.AddDays(-(defaultDays - 1)), to
}

// Channels sums plays, loads and hours watched per channel and period over from..to (zero:
// the default range).
func (r *Reports) Channels(ctx context.Context, from, to dates.Date, grain string) (ChannelsReport, error) {
	rep := ChannelsReport{Channels: []ChannelSeries{}}
	facts, dims, err := r.daily(ctx)
	if err != nil {
		return rep, err
	}
	from, to = r.rangeOf(facts, from, to)
	rep.Range = Range{From: from.String(), To: to.String(), Grain: grain}
	starts := periods(from, to, grain)
	perChannel := make([][]Totals, len(dims.channels)) // by channel, then period; nil without rows
	totals := make([]Totals, len(dims.channels))
	for d := from; d <= to; d++ {
		day := facts.days[d]
		if day == nil {
			continue
		}
		p := periodIndex(starts[0], d, grain)
		for _, f := range day.rows {
			ch := dims.channelOf(f.media)
			if perChannel[ch] == nil {
				perChannel[ch] = make([]Totals, len(starts))
			}
			perChannel[ch][p].add(f)
			totals[ch].add(f)
			rep.Total.add(f)
		}
	}
	rep.Total.rate()
	for ch, series := range perChannel { // dims.channels is sorted by name
		if series == nil {
			continue
		}
		t := totals[ch]
		t.rate()
		rep.Channels = append(rep.Channels, ChannelSeries{Channel: dims.channels[ch], Total: t, Periods: periodList(starts, series)})
	}
	slices.SortStableFunc(rep.Channels, func(a, b ChannelSeries) int { return cmp.Compare(b.Total.Plays, a.Total.Plays) })
	return rep, nil
}

// periodIndex is the number of the period holding d among those starting at first.
func periodIndex(first, d dates.Date, grain string) int {
	if grain == Weekly {
		return int(periodOf(d, grain)-first) / 7
	}
	return int(d - first)
}

// periodList names each period's totals by its first day and sets its rate; empty periods
// are listed too, so charts show gaps as zeros.
func periodList(starts []dates.Date, totals []Totals) []Period {
	out := make([]Period, len(starts))
	for i, p := range starts {
		t := totals[i]
		t.rate()
		out[i] = Period{Start: p.String(), Totals: t}
	}
	return out
}

// TopMedia lists the limit media with the most plays over from..to (zero: the default range).
func (r *Reports) TopMedia(ctx context.Context, from, to dates.Date, limit int) (TopMediaReport, error) {
	rep := TopMediaReport{Media: []MediaRow{}}
	facts, dims, err := r.daily(ctx)
	if err != nil {
		return rep, err
	}
	from, to = r.rangeOf(facts, from, to)
	rep.Range = Range{From: from.String(), To: to.String()}
	ids := r.medias.all() // every media number the facts hold is numbered by now
	sums := make([]Totals, len(ids))
	seen := make([]bool, len(ids))
	for d := from; d <= to; d++ {
		day := facts.days[d]
		if day == nil {
			continue
		}
		for _, f := range day.rows {
			sums[f.media].add(f)
			seen[f.media] = true
		}
	}
	for m, ok := range seen {
		if !ok {
			continue
		}
		t := sums[m]
		t.rate()
		rep.Media = append(rep.Media, MediaRow{MediaID: ids[m], Title: dims.info[int32(m)].Title,
			Channel: dims.channels[dims.channelOf(int32(m))], Totals: t})
	}
	slices.SortFunc(rep.Media, func(a, b MediaRow) int {
		return cmp.Or(cmp.Compare(b.Plays, a.Plays), cmp.Compare(a.MediaID, b.MediaID))
	})
	rep.Media = rep.Media[:min(limit, len(rep.Media))]
	return rep, nil
}

// Media reports one media over from..to (zero: the default range): its daily series from
// gold.fact_media_daily and its plays by the country of its visitors from
// gold.fact_media_engagement and dim_visitor.
func (r *Reports) Media(ctx context.Context, id string, from, to dates.Date) (MediaReport, error) {
	rep := MediaReport{Countries: []CountryPlays{}}
	var (
		facts      *dailyFacts
		dims       *mediaDims
		engagement *engagementFacts
		countries  *visitorCountries
	)
	err := concurrently(ctx,
		func(ctx context.Context) (err error) { facts, err = r.facts.current(ctx, r.lake); return err },
		func(ctx context.Context) (err error) { dims, err = r.dims.current(ctx, r.lake); return err },
		func(ctx context.Context) (err error) { engagement, err = r.engagement.current(ctx, r.lake); return err },
		func(ctx context.Context) (err error) { countries, err = r.countries.current(ctx, r.lake); return err })
	if err != nil {
		return rep, err
	}
	from, to = r.rangeOf(facts, from, to)
	rep.Range = Range{From: from.String(), To: to.String(), Grain: Daily}
	m, ok := r.medias.lookup(id)
	info, known := dims.info[m]
	if !ok || !known {
		return rep, fmt.Errorf("%w %q", ErrUnknownMedia, id)
	}
	rep.Media = info

	days := make([]Totals, to.DaysSince(from)+1)
	for d := from; d <= to; d++ {
		if day := facts.days[d]; day != nil {
			i, found := slices.BinarySearchFunc(day.rows, m, func(f factRow, m int32) int { return cmp.Compare(f.media, m) })
			if found {
				days[d-from].add(day.rows[i])
				rep.Total.add(day.rows[i])
			}
		}
	}
	rep.Total.rate()
	rep.Days = periodList(periods(from, to, Daily), days)

	byCountry := make([]CountryPlays, len(countries.names))
	seen := map[int32]bool{} // visitors counted
	for d := from; d <= to; d++ {
		day := engagement.days[d]
		if day == nil {
			continue
		}
		i, _ := slices.BinarySearchFunc(day.rows, m, func(e engagementRow, m int32) int { return cmp.Compare(e.media, m) })
		for _, e := range day.rows[i:] {
			if e.media != m {
				break
			}
			c := &byCountry[countries.countryOf(e.visitor)]
			c.Plays += e.plays
			if !seen[e.visitor] {
				seen[e.visitor] = true
				c.Visitors++
			}
		}
	}
	for i, c := range byCountry {
		if c.Plays > 0 || c.Visitors > 0 {
			c.Country = countries.names[i]
			rep.Countries = append(rep.Countries, c)
		}
	}
	slices.SortFunc(rep.Countries, func(a, b CountryPlays) int {
		return cmp.Or(cmp.Compare(b.Plays, a.Plays), cmp.Compare(a.Country, b.Country))
	})
	return rep, nil
}

// Freshness is the last day gold.fact_media_daily holds (by its partitions) and when it was
// last committed.
func (r *Reports) Freshness(ctx context.Context) (Freshness, error) {
	f := Freshness{Zone: r.lake.Zone().String()}
	facts, err := r.facts.current(ctx, r.lake)
	if err != nil {
		return f, err
	}
	f.LastRun = facts.committedAt
	if !facts.last.IsZero() {
		f.DataThrough = facts.last.String()
	}
	return f, nil
}
