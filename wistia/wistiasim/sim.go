// Package wistiasim simulates the Wistia Data API endpoints the pipeline reads, with the live
// API's behaviour, a deterministic dataset, fault injection and the ground truth every
// end-to-end test compares against.
package wistiasim

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Options shape the dataset. The same Options always give the same dataset.
type Options struct {
	Seed             int64
	Medias           int     // number of medias; zero gives an empty account
	Visitors         int     // default 40 per media
	HistoryDays      int     // days of events before today; default 30
	MeanEventsPerDay float64 // mean events per media and day, heavy tailed across medias; default 20
	// WatchedShare, above 0, is the share of a media's days that have any events (drawn per
	// media-day); their mean is MeanEventsPerDay's share of them, so the total stays the same.
	WatchedShare   float64
	Now            time.Time // the simulator's clock; zero follows the real clock (UTC)
	LateShare      float64   // share of events that appear one to LateDays days after their day
	LateDays       int       // default 2
	QuirkShare     float64   // share of records sent in the API's undocumented forms
	CorruptShare   float64   // share of events sent without an event_key
	DuplicateShare float64   // share of events the API lists twice
	Token          string    // the one valid API token; default "sim-token"
	RateLimit      int       // requests per RatePeriod; default 600; negative disables
	RatePeriod     time.Duration
	// HostileIDs adds to the media list records whose hashed_id is not a plain token ("../..",
	// "a/b", whitespace, empty, 65 characters) and the first media listed a second time.
	HostileIDs bool
	// Zone is where the API counts its stats days (event windows and by_date rows); nil is
	// UTC. Wistia does not document it, so the pipeline must hold whatever it is.
	Zone *time.Location
	// Launches adds one media per instant, created then: the API lists it, and it has events,
	// only from that instant on. They follow the Medias medias in API order.
	Launches []time.Time
	// Deletions remove medias from the account (see Deletion).
	Deletions []Deletion
	// Bursts multiplies the mean events of every media on these UTC days (midnights).
	Bursts map[time.Time]float64
	// Plant gives the first media, on every day, one more event of each kind listed, so a
	// test that needs a corrupt, late or duplicate record has one whatever the seed and the
	// day it runs on; shares only make such records likely.
	Plant []Planted
}

// Planted is a kind of record a test asks the simulator for (Options.Plant).
type Planted uint8

const (
	// PlantCorrupt is an event sent without an event_key: it cannot be typed.
	PlantCorrupt Planted = iota + 1
	// PlantLate is an event the API lists only from noon of the next day: after that day's
	// scheduled run, before the run of the day after, which reads it through its lookback.
	PlantLate
	// PlantDuplicate is an event the API lists twice.
	PlantDuplicate
	// PlantQuirky is an event sent in the API's undocumented forms.
	PlantQuirky
	// PlantHostileVisitor is an event whose visitor_key is HostileVisitorKey, a path.
	PlantHostileVisitor
	// PlantDayEdges is two events received half a minute after the stats day begins and half
	// a minute before it ends, in the API's stats zone: they bound the zone the day is cut in.
	PlantDayEdges
)

// Deletion removes media Index (API order) at At: from then on the API neither lists it nor
// answers for it. What the API served until then stays the ground truth for the days that had
// closed by At: the lakehouse keeps a deleted media's history as it was last read.
type Deletion struct {
	Index int
	At    time.Time
}

// Faults are injected into answers; they can be changed while the simulator serves.
type Faults struct {
	ErrorRate    float64       // share of requests answered 500, 502 or 503 (503 carries Retry-After)
	ResetRate    float64       // share of requests whose connection is reset without an answer
	TruncateRate float64       // share of successful answers cut short
	Latency      time.Duration // added before every answer
	InsertRate   float64       // share of events requests for page 2+ that first insert a newest event into the window
	// Storm answers every authenticated request 429 with Retry-After as an HTTP date this far
	// ahead, as Wistia's edge does when it sheds load; the requests do not count on the budget.
	Storm time.Duration
}

// Stats count what the simulator served.
type Stats struct {
	Requests  int64 // every request received
	OverLimit int64 // requests answered 429 because the rate limit was exceeded
	Errors    int64 // injected 5xx
	Resets    int64 // injected connection resets
	Truncated int64 // injected truncated bodies
	Inserted  int64 // events inserted into a window being paged
	Stormed   int64 // requests answered 429 by a Storm
	// PeakWindow is the most requests served within one RatePeriod so far: the budget's high
	// water mark, never above RateLimit.
	PeakWindow int64
	// ByEndpoint is Requests by endpoint, named as in EndpointNames.
	ByEndpoint map[string]int64
}

// Sim is a running simulation: the dataset, its clock, injected faults and counters.
type Sim struct {
	opts         Options
	today        time.Time
	medias       []media
	mediaByID    map[string]int
	visitors     []visitor
	visitorByKey map[string]int

	mu       sync.Mutex
	now      time.Time // zero: real clock
	faults   Faults
	extra    map[[2]int64][]event // inserted events by (media, day index)
	faultRNG *rand.Rand
	window   []time.Time // start times of requests served within the rate period (ring)
	winHead  int
	winLen   int

	deleted map[int]time.Time // media index → when it was deleted

	requests, overLimit, errors, resets, truncated, insertedCount, stormed, peakWindow atomic.Int64
	byEndpoint                                                                         [numEndpoints]atomic.Int64
}

// New builds the dataset for opts.
func New(opts Options) (*Sim, error) {
	if opts.Visitors == 0 {
		opts.Visitors = max(1, 40*opts.Medias)
	}
	if opts.HistoryDays == 0 {
		opts.HistoryDays = 30
	}
	if opts.MeanEventsPerDay == 0 {
		opts.MeanEventsPerDay = 20
	}
	if opts.LateDays == 0 {
		opts.LateDays = 2
	}
	if opts.Token == "" {
		opts.Token = "sim-token"
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 600
	}
	if opts.RatePeriod == 0 {
		opts.RatePeriod = time.Minute
	}
	if opts.Medias < 0 || opts.Visitors < 1 || opts.HistoryDays < 0 || opts.MeanEventsPerDay < 0 || opts.LateDays < 1 {
		return nil, fmt.Errorf("wistiasim: options out of range: %+v", opts)
	}
	for _, p := range opts.Plant {
		if p < PlantCorrupt || p > PlantDayEdges {
			return nil, fmt.Errorf("wistiasim: Plant holds %d: want PlantCorrupt, PlantLate, PlantDuplicate, PlantQuirky, PlantHostileVisitor or PlantDayEdges", p)
		}
	}
	for name, share := range map[string]float64{"LateShare": opts.LateShare, "QuirkShare": opts.QuirkShare, "CorruptShare": opts.CorruptShare, "DuplicateShare": opts.DuplicateShare, "WatchedShare": opts.WatchedShare} {
		if share < 0 || share > 1 {
			return nil, fmt.Errorf("wistiasim: %s=%v: want a share between 0 and 1", name, share)
		}
	}
	s := &Sim{
		opts:         opts,
		now:          opts.Now.UTC(),
		mediaByID:    map[string]int{},
		visitorByKey: map[string]int{},
		extra:        map[[2]int64][]event{},
		faultRNG:     rand.New(rand.NewPCG(uint64(opts.Seed), kindFault)),
		deleted:      map[int]time.Time{},
	}
	if opts.RateLimit > 0 {
		s.window = make([]time.Time, opts.RateLimit)
	}
	s.today = utcDay(s.Now())
	s.buildMedias()
	s.buildVisitors()
	for _, d := range opts.Deletions {
		if d.Index < 0 || d.Index >= len(s.medias) {
			return nil, fmt.Errorf("wistiasim: deletion of media %d: the account has %d", d.Index, len(s.medias))
		}
		s.deleted[d.Index] = d.At.UTC()
	}
	return s, nil
}

// Token is the API token the simulator accepts.
func (s *Sim) Token() string { return s.opts.Token }

// Now is the simulator's current time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.now.IsZero() {
		return time.Now().UTC()
	}
	return s.now
}

// SetNow moves the simulator's clock, which reveals late events. The dataset keeps its days.
func (s *Sim) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = t.UTC()
}

// SetFaults replaces the injected faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// ResetPeakWindow starts Stats.PeakWindow again from the requests in the current window.
func (s *Sim) ResetPeakWindow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peakWindow.Store(int64(s.winLen))
}

// Stats returns the counters so far.
func (s *Sim) Stats() Stats {
	by := map[string]int64{}
	for e, name := range EndpointNames {
		by[name] = s.byEndpoint[e].Load()
	}
	return Stats{
		ByEndpoint: by,
		Requests:   s.requests.Load(),
		OverLimit:  s.overLimit.Load(),
		Errors:     s.errors.Load(),
		Resets:     s.resets.Load(),
		Truncated:  s.truncated.Load(),
		Inserted:   s.insertedCount.Load(),
		Stormed:    s.stormed.Load(),
		PeakWindow: s.peakWindow.Load(),
	}
}

// MediaIDs lists the hashed ids of every media the dataset has, launched or not, deleted or
// not, in API order.
func (s *Sim) MediaIDs() []string {
	ids := make([]string, len(s.medias))
	for i, m := range s.medias {
		ids[i] = m.hashedID
	}
	return ids
}

// admit applies the rate limit: a sliding window of RatePeriod holding at most RateLimit served
// requests. It returns how long to wait when the request is over the limit.
func (s *Sim) admit(now time.Time) (time.Duration, bool) {
	if s.window == nil {
		return 0, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.winLen > 0 && !s.window[s.winHead].After(now.Add(-s.opts.RatePeriod)) {
		s.winHead = (s.winHead + 1) % len(s.window)
		s.winLen--
	}
	if s.winLen == len(s.window) {
		return s.window[s.winHead].Add(s.opts.RatePeriod).Sub(now), false
	}
	s.window[(s.winHead+s.winLen)%len(s.window)] = now
	s.winLen++
	if int64(s.winLen) > s.peakWindow.Load() {
		s.peakWindow.Store(int64(s.winLen))
	}
	return 0, true
}

// roll draws the fault decisions for one request.
func (s *Sim) roll() (f Faults, errorDraw, resetDraw, truncDraw, insertDraw float64, pick int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults, s.faultRNG.Float64(), s.faultRNG.Float64(), s.faultRNG.Float64(), s.faultRNG.Float64(), s.faultRNG.IntN(6)
}

// insertNewest adds an event at the top of media m's window [start, end] as seen at now, as
// if a viewer had just watched: offset paging of a newest-first list shifts under the crawler.
func (s *Sim) insertNewest(m int, start, end, now time.Time) {
	at := now
	if endOfWindow := end.AddDate(0, 0, 1).Add(-time.Second); at.After(endOfWindow) {
		at = endOfWindow
	}
	if at.Before(start) {
		return
	}
	day := utcDay(at)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]int64{int64(m), int64(dayIndex(day))}
	r := s.faultRNG
	n := uint64(len(s.extra[k]))
	e := event{
		key:       eventKey(uint64(s.opts.Seed), m, dayIndex(day), 1<<19+n, r.Uint32()),
		media:     m,
		visitor:   r.IntN(len(s.visitors)),
		at:        at.Truncate(time.Second),
		visibleAt: at.Truncate(time.Second),
		percent:   float64(r.IntN(10000)) / 10000,
		embedURL:  "https://" + hosts[0] + paths[0],
	}
	s.extra[k] = append(s.extra[k], e)
	s.insertedCount.Add(1)
}

// exists reports whether the account holds media m at now: launched and not deleted.
func (s *Sim) exists(m int, now time.Time) bool {
	if s.medias[m].created.After(now) {
		return false
	}
	at, gone := s.deleted[m]
	return !gone || now.Before(at)
}

// servedAt is the instant whose view of media m is the truth at now: now, or for a deleted
// media the moment before its deletion. last is the last day whose rows count: the day before
// the deletion's day, or to.
func (s *Sim) servedAt(m int, now, to time.Time) (at, last time.Time) {
	del, gone := s.deleted[m]
	if !gone || now.Before(del) {
		return now, to
	}
	if prev := utcDay(del).AddDate(0, 0, -1); prev.Before(to) {
		to = prev
	}
	return del.Add(-time.Nanosecond), to
}

func (s *Sim) inserted(m int, day time.Time) []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event(nil), s.extra[[2]int64{int64(m), int64(dayIndex(day))}]...)
}
