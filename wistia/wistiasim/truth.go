package wistiasim

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// Ground truth is computed from the dataset itself, never through the pipeline's code: it is
// the independent expectation that end-to-end tests compare the pipeline's output with.

// DailyStat is one by_date row as the dataset defines it.
type DailyStat struct {
	MediaID      string
	Date         time.Time
	Loads        int64
	Plays        int64
	HoursWatched float64
}

// TruthEvent is one event as silver must hold it.
type TruthEvent struct {
	Day           time.Time // the stats day that lists it: its received_at's day in the account's zone
	EventKey      string
	MediaID       string
	VisitorKey    string
	ReceivedAt    time.Time
	PercentViewed float64
	EmbedURL      string
	IP            string
	Country       string
	Region        string
	City          string
}

// TruthMedia is one media as silver.media and gold.dim_media must hold it.
type TruthMedia struct {
	HashedID string
	Name     string
	URL      string
	Channel  string // the channel its project and tags point at; "unknown" when none
	Project  string
	Tags     []string
	Created  time.Time
	Duration float64 // seconds
}

// TruthVisitor is one visitor seen in the range, as gold.dim_visitor must hold it.
type TruthVisitor struct {
	VisitorKey string
	IP         string
	Country    string
}

// FactMediaDaily is one row of gold.fact_media_daily (grain: media, date). Its counts come
// from the by_date endpoint; play rate is plays over loads (0 without loads).
type FactMediaDaily struct {
	MediaID      string
	Date         time.Time
	Loads        int64
	Plays        int64
	PlayRate     float64
	HoursWatched float64
}

// FactEngagement is one row of gold.fact_media_engagement (grain: media, visitor, date),
// from events: plays, seconds watched (percent viewed × media duration, summed), the watched
// percent as a ratio of sums (seconds watched over plays × duration), and the play rate as
// this visitor's plays over the media's loads that day (so rates add up to the media's).
type FactEngagement struct {
	MediaID          string
	VisitorKey       string
	Date             time.Time
	Plays            int64
	TotalWatchTime   float64 // seconds
	WatchedPercent   float64 // 0..1
	PlayRate         float64
	mediaDuration    float64
	mediaDailyLoads  int64
	sumPercentViewed float64
}

// Truth is what the API holds for a range of its stats days at the simulator's current time.
// Events are those the API lists for those days: received on them in the account's stats zone.
type Truth struct {
	From, To    time.Time
	Events      []TruthEvent     // every typeable event once, sorted by EventKey
	Quarantined int              // events the API sends in a form that cannot be typed
	Daily       []DailyStat      // one by_date row per media and day, by media (API order) then date
	Medias      []TruthMedia     // every media of the account, in API order
	Visitors    []TruthVisitor   // visitors of the range's typeable events, sorted by key
	MediaDaily  []FactMediaDaily // gold.fact_media_daily, by media (API order) then date
	Engagement  []FactEngagement // gold.fact_media_engagement, sorted by media, visitor, date
}

// Truth computes the ground truth for the days from..to, inclusive.
func (s *Sim) Truth(from, to time.Time) Truth {
	now := s.Now()
	t := Truth{From: utcDay(from), To: utcDay(to)}
	visitors := map[int]bool{}
	for m, md := range s.medias {
		if md.created.After(now) {
			continue // not launched yet
		}
		// A deleted media is as it was last served, up to the last day closed by then.
		now, to := s.servedAt(m, now, t.To)
		t.Medias = append(t.Medias, TruthMedia{
			HashedID: md.hashedID, Name: md.name, URL: "https://home.wistia.com/medias/" + md.hashedID,
			Channel: md.channel, Project: projects[md.project].name, Tags: md.tags, Created: md.created, Duration: md.duration,
		})
		// Engagement is by the stats day that listed each event (its day in the account's
		// zone); its play rate divides by the by_date loads of that day.
		loads := map[time.Time]int64{}
		for _, day := range utcDays(from, to) {
			loads[day] = s.dailyStat(m, day, now).Loads
		}
		engagement := map[engagementKey]*FactEngagement{}
		for _, day := range utcDays(from, to) {
			st := s.dailyStat(m, day, now)
			t.Daily = append(t.Daily, st)
			fact := FactMediaDaily{MediaID: st.MediaID, Date: day, Loads: st.Loads, Plays: st.Plays, HoursWatched: st.HoursWatched}
			if st.Loads > 0 {
				fact.PlayRate = float64(st.Plays) / float64(st.Loads)
			}
			t.MediaDaily = append(t.MediaDaily, fact)
			for _, e := range s.statsEvents(m, day, now) {
				if e.corrupt || e.hostile { // neither may be typed: both are quarantined
					t.Quarantined++
					continue
				}
				visitors[e.visitor] = true
				k := engagementKey{e.visitor, day}
				f := engagement[k]
				if f == nil {
					f = &FactEngagement{MediaID: md.hashedID, VisitorKey: s.visitors[e.visitor].key, Date: k.date,
						mediaDuration: md.duration, mediaDailyLoads: loads[k.date]}
					engagement[k] = f
				}
				f.Plays++
				f.sumPercentViewed += e.percent
				v := s.visitors[e.visitor]
				pl := places[v.place]
				t.Events = append(t.Events, TruthEvent{Day: day,
					EventKey: e.key, MediaID: s.medias[m].hashedID, VisitorKey: v.key,
					ReceivedAt: e.at, PercentViewed: e.percent, EmbedURL: e.embedURL,
					IP: v.ip, Country: pl.country, Region: pl.region, City: pl.city,
				})
			}
		}
		for _, f := range engagement {
			f.TotalWatchTime = f.sumPercentViewed * f.mediaDuration
			if f.Plays > 0 && f.mediaDuration > 0 {
				f.WatchedPercent = f.TotalWatchTime / (float64(f.Plays) * f.mediaDuration)
			}
			if f.mediaDailyLoads > 0 {
				f.PlayRate = float64(f.Plays) / float64(f.mediaDailyLoads)
			}
			t.Engagement = append(t.Engagement, *f)
		}
	}
	for i := range visitors {
		v := s.visitors[i]
		t.Visitors = append(t.Visitors, TruthVisitor{VisitorKey: v.key, IP: v.ip, Country: places[v.place].country})
	}
	slices.SortFunc(t.Events, func(a, b TruthEvent) int { return cmp.Compare(a.EventKey, b.EventKey) })
	slices.SortFunc(t.Visitors, func(a, b TruthVisitor) int { return cmp.Compare(a.VisitorKey, b.VisitorKey) })
	slices.SortFunc(t.Engagement, func(a, b FactEngagement) int {
		return cmp.Or(cmp.Compare(a.MediaID, b.MediaID), cmp.Compare(a.VisitorKey, b.VisitorKey), a.Date.Compare(b.Date))
	})
	return t
}

type engagementKey struct {
	visitor int
	date    time.Time
}

type insertKey struct{}

func withInsert(ctx context.Context) context.Context {
	return context.WithValue(ctx, insertKey{}, true)
}

func insertRequested(ctx context.Context) bool { v, _ := ctx.Value(insertKey{}).(bool); return v }
