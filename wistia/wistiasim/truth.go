package wistiasim

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
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

// Truth is what the API holds for a range of days at the simulator's current time.
type Truth struct {
	From, To    time.Time
	Events      []TruthEvent // every typeable event once, sorted by EventKey
	Quarantined int          // events the API sends in a form that cannot be typed
	Daily       []DailyStat  // one row per media and day, sorted by media then date
}

// Truth computes the ground truth for the days from..to, inclusive.
func (s *Sim) Truth(from, to time.Time) Truth {
	now := s.Now()
	t := Truth{From: dates.Day(from), To: dates.Day(to)}
	for m := range s.medias {
		for _, day := range dates.Range(from, to) {
			t.Daily = append(t.Daily, s.dailyStat(m, day, now))
			for _, e := range s.visibleEvents(m, day, now) {
				if e.corrupt {
					t.Quarantined++
					continue
				}
				v := s.visitors[e.visitor]
				pl := places[v.place]
				t.Events = append(t.Events, TruthEvent{
					EventKey: e.key, MediaID: s.medias[m].hashedID, VisitorKey: v.key,
					ReceivedAt: e.at, PercentViewed: e.percent, EmbedURL: e.embedURL,
					IP: v.ip, Country: pl.country, Region: pl.region, City: pl.city,
				})
			}
		}
	}
	slices.SortFunc(t.Events, func(a, b TruthEvent) int { return cmp.Compare(a.EventKey, b.EventKey) })
	return t
}

type insertKey struct{}

func withInsert(ctx context.Context) context.Context {
	return context.WithValue(ctx, insertKey{}, true)
}

func insertRequested(ctx context.Context) bool { v, _ := ctx.Value(insertKey{}).(bool); return v }
