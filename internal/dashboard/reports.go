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
	"maps"
	"slices"
	"time"

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

func (t *Totals) add(f gold.FactMediaDaily) {
	t.Plays += f.PlayCount
	t.Loads += f.LoadCount
	t.HoursWatched += f.HoursWatched
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

// series sums rows into the periods of from..to.
type series map[dates.Date]*Totals

func (s series) list(from, to dates.Date, grain string) []Period {
	var out []Period
	for _, p := range periods(from, to, grain) {
		t := Totals{}
		if got := s[p]; got != nil {
			t = *got
		}
		t.rate()
		out = append(out, Period{Start: p.String(), Totals: t})
	}
	return out
}

func (s series) add(d dates.Date, grain string, f gold.FactMediaDaily) {
	p := periodOf(d, grain)
	if s[p] == nil {
		s[p] = &Totals{}
	}
	s[p].add(f)
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

// Reports reads the dashboard's numbers from the lakehouse.
type Reports struct {
	Lake *lake.Lakehouse
}

// ErrUnknownMedia is a media id gold does not hold.
var ErrUnknownMedia = errors.New("unknown media")

func (r Reports) daily(ctx context.Context, from, to dates.Date) ([]gold.FactMediaDaily, map[string]gold.DimMedia, error) {
	facts, err := lake.ReadRows[gold.FactMediaDaily](ctx, r.Lake, from, to)
	if err != nil {
		return nil, nil, err
	}
	dims, err := lake.ReadRows[gold.DimMedia](ctx, r.Lake, 0, 0)
	if err != nil {
		return nil, nil, err
	}
	media := make(map[string]gold.DimMedia, len(dims))
	for _, d := range dims {
		media[d.MediaID] = d
	}
	return facts, media, nil
}

func channelOf(media map[string]gold.DimMedia, id string) string {
	return cmp.Or(media[id].Channel, gold.UnknownChannel)
}

// Channels sums plays, loads and hours watched per channel and period over from..to.
func (r Reports) Channels(ctx context.Context, from, to dates.Date, grain string) (ChannelsReport, error) {
	rep := ChannelsReport{Range: Range{From: from.String(), To: to.String(), Grain: grain}, Channels: []ChannelSeries{}}
	facts, media, err := r.daily(ctx, from, to)
	if err != nil {
		return rep, err
	}
	byChannel := map[string]series{}
	totals := map[string]*Totals{}
	for _, f := range facts {
		ch := channelOf(media, f.MediaID)
		if byChannel[ch] == nil {
			byChannel[ch], totals[ch] = series{}, &Totals{}
		}
		byChannel[ch].add(f.Date, grain, f)
		totals[ch].add(f)
		rep.Total.add(f)
	}
	rep.Total.rate()
	for _, ch := range slices.Sorted(maps.Keys(byChannel)) {
		t := *totals[ch]
		t.rate()
		rep.Channels = append(rep.Channels, ChannelSeries{Channel: ch, Total: t, Periods: byChannel[ch].list(from, to, grain)})
	}
	slices.SortStableFunc(rep.Channels, func(a, b ChannelSeries) int { return cmp.Compare(b.Total.Plays, a.Total.Plays) })
	return rep, nil
}

// TopMedia lists the limit media with the most plays over from..to.
func (r Reports) TopMedia(ctx context.Context, from, to dates.Date, limit int) (TopMediaReport, error) {
	rep := TopMediaReport{Range: Range{From: from.String(), To: to.String()}, Media: []MediaRow{}}
	facts, media, err := r.daily(ctx, from, to)
	if err != nil {
		return rep, err
	}
	rows := map[string]*MediaRow{}
	for _, f := range facts {
		if rows[f.MediaID] == nil {
			rows[f.MediaID] = &MediaRow{MediaID: f.MediaID, Title: media[f.MediaID].Title, Channel: channelOf(media, f.MediaID)}
		}
		rows[f.MediaID].add(f)
	}
	for _, m := range rows {
		m.rate()
		rep.Media = append(rep.Media, *m)
	}
	slices.SortFunc(rep.Media, func(a, b MediaRow) int {
		return cmp.Or(cmp.Compare(b.Plays, a.Plays), cmp.Compare(a.MediaID, b.MediaID))
	})
	rep.Media = rep.Media[:min(limit, len(rep.Media))]
	return rep, nil
}

// Media reports one media over from..to: its daily series from gold.fact_media_daily and
// its plays by the country of its visitors from gold.fact_media_engagement and dim_visitor.
func (r Reports) Media(ctx context.Context, id string, from, to dates.Date) (MediaReport, error) {
	rep := MediaReport{Range: Range{From: from.String(), To: to.String(), Grain: Daily}, Countries: []CountryPlays{}}
	facts, media, err := r.daily(ctx, from, to)
	if err != nil {
		return rep, err
	}
	dim, ok := media[id]
	if !ok {
		return rep, fmt.Errorf("%w %q", ErrUnknownMedia, id)
	}
	rep.Media = MediaInfo{MediaID: dim.MediaID, Title: dim.Title, Channel: channelOf(media, id), Project: dim.Project, URL: dim.URL, DurationSeconds: dim.Duration}
	days := series{}
	for _, f := range facts {
		if f.MediaID == id {
			days.add(f.Date, Daily, f)
			rep.Total.add(f)
		}
	}
	rep.Total.rate()
	rep.Days = days.list(from, to, Daily)

	engagement, err := lake.ReadRows[gold.FactEngagement](ctx, r.Lake, from, to)
	if err != nil {
		return rep, err
	}
	visitors, err := lake.ReadRows[gold.DimVisitor](ctx, r.Lake, 0, 0)
	if err != nil {
		return rep, err
	}
	country := make(map[string]string, len(visitors))
	for _, v := range visitors {
		country[v.VisitorID] = v.Country
	}
	byCountry := map[string]*CountryPlays{}
	seen := map[string]map[string]bool{}
	for _, e := range engagement {
		if e.MediaID != id {
			continue
		}
		c := cmp.Or(country[e.VisitorID], "unknown")
		if byCountry[c] == nil {
			byCountry[c], seen[c] = &CountryPlays{Country: c}, map[string]bool{}
		}
		byCountry[c].Plays += e.PlayCount
		if !seen[c][e.VisitorID] {
			seen[c][e.VisitorID] = true
			byCountry[c].Visitors++
		}
	}
	for _, c := range byCountry {
		rep.Countries = append(rep.Countries, *c)
	}
	slices.SortFunc(rep.Countries, func(a, b CountryPlays) int {
		return cmp.Or(cmp.Compare(b.Plays, a.Plays), cmp.Compare(a.Country, b.Country))
	})
	return rep, nil
}

// Freshness reads the last day gold.fact_media_daily holds and when it was last written.
func (r Reports) Freshness(ctx context.Context) (Freshness, error) {
	f := Freshness{Zone: r.Lake.Zone().String()}
	commits, err := r.Lake.Commits(ctx, "gold.fact_media_daily")
	if err != nil {
		return f, err
	}
	if len(commits) == 0 {
		return f, nil
	}
	f.LastRun = commits[len(commits)-1].At
	// The partitions name the days, so the last one is found without reading a row.
	parts, err := r.Lake.DataFiles(ctx, "gold.fact_media_daily")
	if err != nil {
		return f, err
	}
	for day := range parts {
		f.DataThrough = max(f.DataThrough, day)
	}
	return f, nil
}
