package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
)

// What the dashboard keeps of each gold table: numbers rather than strings for media and
// visitors, and the facts by day, the way the reports read them (a range of days). A year of
// 2,000 medias is 730,000 daily rows of 32 bytes; the engagement fact's rows are 16 bytes.

// dailyFacts is gold.fact_media_daily at one snapshot.
type dailyFacts struct {
	committedAt time.Time
	days        map[dates.Date]*factDay
	last        dates.Date // the last day with data files; zero when none
}

// factDay is one day partition's rows, by media number. A day whose data files did not
// change is shared with the state of the snapshot before.
type factDay struct {
	files []string
	rows  []factRow
}

type factRow struct {
	media        int32
	plays, loads int64
	hours        float64
}

// engagementFacts is gold.fact_media_engagement at one snapshot.
type engagementFacts struct {
	days map[dates.Date]*engagementDay
}

// engagementDay is one day partition's rows, by media and visitor number.
type engagementDay struct {
	files []string
	rows  []engagementRow
}

type engagementRow struct {
	media, visitor int32
	plays          int64
}

// mediaDims is gold.dim_media at one snapshot.
type mediaDims struct {
	info     map[int32]MediaInfo // by media number; Channel is never empty
	channels []string            // channel names, sorted, by channel number
	channel  []int32             // the channel number of each media number; unknownChannel beyond
	unknown  int32               // the channel number of gold.UnknownChannel
}

// channelOf is the channel number of media m.
func (d *mediaDims) channelOf(m int32) int32 {
	if int(m) < len(d.channel) {
		return d.channel[m]
	}
	return d.unknown
}

// visitorCountries is gold.dim_visitor at one snapshot: what the media page needs of it.
type visitorCountries struct {
	buckets map[int32]*visitorBucket
	names   []string // country names, by country number (see Reports.countryNames)
	country []int32  // the country number of each visitor number; unknown beyond
	unknown int32
}

// visitorBucket is one bucket's visitors and their countries. A daily run rewrites the
// buckets of the visitors it saw; the others are shared with the state before.
type visitorBucket struct {
	files               []string
	visitors, countries []int32
}

func (v *visitorCountries) countryOf(visitor int32) int32 {
	if int(visitor) < len(v.country) {
		return v.country[visitor]
	}
	return v.unknown
}

// unknownCountry names visitors without a country in gold.dim_visitor.
const unknownCountry = "unknown"

// changedParts splits a snapshot's partitions into those whose files the previous state read
// already (kept, by partition) and those to read (read), each given its empty state by
// fresh to fill.
func changedParts[K ~int32, D any](parts []lake.Part, prev map[K]D, files func(D) []string, empty func(lake.Part) D) (kept, fresh map[K]D, read []lake.Part) {
	kept = make(map[K]D, len(parts))
	fresh = map[K]D{}
	for _, p := range parts {
		k := K(p.Value)
		if old, ok := prev[k]; ok && slices.Equal(files(old), p.Files) {
			kept[k] = old
			continue
		}
		read = append(read, p)
		fresh[k] = empty(p)
	}
	return kept, fresh, read
}

// readFacts builds the daily fact's state of snap, reading only the days whose files are not
// those prev read.
func readFacts(ctx context.Context, snap lake.Snapshot[gold.FactMediaDaily], prev *dailyFacts, medias *names) (*dailyFacts, error) {
	out := &dailyFacts{committedAt: snap.CommittedAt()}
	parts, err := snap.Parts(ctx)
	if err != nil {
		return nil, err
	}
	var fresh map[dates.Date]*factDay
	var read []lake.Part
	out.days, fresh, read = changedParts(parts, prev.days, func(d *factDay) []string { return d.files },
		func(p lake.Part) *factDay { return &factDay{files: p.Files, rows: make([]factRow, 0, p.Rows)} })
	err = snap.ScanParts(ctx, read, func(rows []gold.FactMediaDaily) error {
		var err error
		medias.number(func(of func(string) int32) {
			for _, f := range rows {
				day := fresh[dates.Date(snap.PartOf(&f))]
				if day == nil {
					err = fmt.Errorf("gold.fact_media_daily: a row of %s outside its day's files", f.Date)
					return
				}
				day.rows = append(day.rows, factRow{media: of(f.MediaID), plays: f.PlayCount, loads: f.LoadCount, hours: f.HoursWatched})
			}
		})
		return err
	}, "media_id", "date", "load_count", "play_count", "hours_watched")
	if err != nil {
		return nil, err
	}
	for d, day := range fresh {
		slices.SortFunc(day.rows, func(a, b factRow) int { return cmp.Compare(a.media, b.media) })
		out.days[d] = day
	}
	for _, p := range parts {
		out.last = max(out.last, dates.Date(p.Value))
	}
	return out, nil
}

// readEngagement builds the engagement fact's state of snap, reading only the days whose
// files are not those prev read.
func readEngagement(ctx context.Context, snap lake.Snapshot[gold.FactEngagement], prev *engagementFacts, medias, visitors *names) (*engagementFacts, error) {
	parts, err := snap.Parts(ctx)
	if err != nil {
		return nil, err
	}
	out := &engagementFacts{}
	var fresh map[dates.Date]*engagementDay
	var read []lake.Part
	out.days, fresh, read = changedParts(parts, prev.days, func(d *engagementDay) []string { return d.files },
		func(p lake.Part) *engagementDay {
			return &engagementDay{files: p.Files, rows: make([]engagementRow, 0, p.Rows)}
		})
	err = snap.ScanParts(ctx, read, func(rows []gold.FactEngagement) error {
		var err error
		nums := make([]int32, len(rows))
		medias.number(func(of func(string) int32) {
			for i := range rows {
				nums[i] = of(rows[i].MediaID)
			}
		})
		visitors.number(func(of func(string) int32) {
			for i, e := range rows {
				day := fresh[dates.Date(snap.PartOf(&e))]
				if day == nil {
					err = fmt.Errorf("gold.fact_media_engagement: a row of %s outside its day's files", e.Date)
					return
				}
				day.rows = append(day.rows, engagementRow{media: nums[i], visitor: of(e.VisitorID), plays: e.PlayCount})
			}
		})
		return err
	}, "media_id", "visitor_id", "date", "play_count")
	if err != nil {
		return nil, err
	}
	for d, day := range fresh {
		slices.SortFunc(day.rows, func(a, b engagementRow) int {
			return cmp.Or(cmp.Compare(a.media, b.media), cmp.Compare(a.visitor, b.visitor))
		})
		out.days[d] = day
	}
	return out, nil
}

// readDims builds dim_media's state of snap: the table is small and read whole.
func readDims(ctx context.Context, snap lake.Snapshot[gold.DimMedia], medias *names) (*mediaDims, error) {
	rows, err := snap.Rows(ctx, 0, 0)
	if err != nil {
		return nil, err
	}
	out := &mediaDims{info: make(map[int32]MediaInfo, len(rows))}
	names := []string{gold.UnknownChannel}
	for _, d := range rows {
		names = append(names, strings.Clone(cmp.Or(d.Channel, gold.UnknownChannel)))
	}
	slices.Sort(names)
	out.channels = slices.Clone(slices.Compact(names))
	channelNum := make(map[string]int32, len(out.channels))
	for i, c := range out.channels {
		channelNum[c] = int32(i)
	}
	out.unknown = channelNum[gold.UnknownChannel]
	medias.number(func(of func(string) int32) {
		for _, d := range rows {
			m := of(d.MediaID)
			ch := cmp.Or(d.Channel, gold.UnknownChannel)
			// Copied: the decoded strings share the scan's buffers, which would stay alive.
			out.info[m] = MediaInfo{MediaID: strings.Clone(d.MediaID), Title: strings.Clone(d.Title), Channel: strings.Clone(ch),
				Project: strings.Clone(d.Project), URL: strings.Clone(d.URL), DurationSeconds: d.Duration}
			for int(m) >= len(out.channel) {
				out.channel = append(out.channel, out.unknown)
			}
			out.channel[m] = channelNum[ch]
		}
	})
	return out, nil
}

// readVisitors builds dim_visitor's state of snap, reading only the buckets whose files are
// not those prev read.
func readVisitors(ctx context.Context, snap lake.Snapshot[gold.DimVisitor], prev *visitorCountries, visitors, countries *names) (*visitorCountries, error) {
	parts, err := snap.Parts(ctx)
	if err != nil {
		return nil, err
	}
	out := &visitorCountries{}
	var fresh map[int32]*visitorBucket
	var read []lake.Part
	out.buckets, fresh, read = changedParts(parts, prev.buckets, func(b *visitorBucket) []string { return b.files },
		func(p lake.Part) *visitorBucket {
			return &visitorBucket{files: p.Files, visitors: make([]int32, 0, p.Rows), countries: make([]int32, 0, p.Rows)}
		})
	err = snap.ScanParts(ctx, read, func(rows []gold.DimVisitor) error {
		var err error
		nums := make([]int32, len(rows))
		countries.number(func(of func(string) int32) {
			for i, v := range rows {
				nums[i] = of(cmp.Or(v.Country, unknownCountry))
			}
		})
		visitors.number(func(of func(string) int32) {
			for i, v := range rows {
				b := fresh[snap.PartOf(&v)]
				if b == nil {
					err = fmt.Errorf("gold.dim_visitor: visitor %s outside its bucket's files", v.VisitorID)
					return
				}
				b.visitors = append(b.visitors, of(v.VisitorID))
				b.countries = append(b.countries, nums[i])
			}
		})
		return err
	}, "visitor_id", "country")
	if err != nil {
		return nil, err
	}
	maps.Copy(out.buckets, fresh)
	out.names = countries.all()
	out.unknown, _ = countries.lookup(unknownCountry)
	out.country = make([]int32, len(visitors.all()))
	for i := range out.country {
		out.country[i] = out.unknown
	}
	for _, b := range out.buckets {
		for i, v := range b.visitors {
			out.country[v] = b.countries[i]
		}
	}
	return out, nil
}
