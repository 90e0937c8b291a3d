package wistiasim

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// The dataset is a pure function of Options: medias and visitors are built once, and the events
// of each (media, day) are regenerated on demand from a generator seeded by that pair, so a
// dataset of millions of events costs no memory.

type media struct {
	index       int
	id          int64
	hashedID    string
	name        string
	description string
	created     time.Time
	updated     time.Time
	duration    float64 // seconds
	project     int     // index into projects
	folder      string  // "" when not in a subfolder
	folderID    string
	tags        []string
	channel     string
	popularity  float64 // mean events per day
	playRate    float64 // plays per load
}

type visitor struct {
	key            string
	created        time.Time
	ip             string
	place          int // index into places
	org            string
	email          string // "" when unknown
	name           string
	browser        int // index into browsers
	mobile         bool
	lifetimeLoads  int64
	lifetimePlays  int64
	lastActive     time.Time
	lastEventKeyID uint64
}

type event struct {
	key       string
	media     int
	visitor   int
	at        time.Time // received_at
	visibleAt time.Time // when the API starts returning it
	percent   float64   // 0..1
	embedURL  string
	quirky    bool // sent in the API's undocumented forms
	corrupt   bool // sent without an event_key: cannot be typed
	duplicate bool // sent twice
	hostile   bool // sent with HostileVisitorKey: a path, not a name
}

// splitmix64 is a bijection on uint64, so distinct inputs give distinct keys.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (s *Sim) rng(kind uint64, a, b uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(s.opts.Seed)^kind, splitmix64(a<<32^b)))
}

const (
	kindMedia uint64 = iota + 1
	kindVisitor
	kindDay
	kindFault
	kindPlant
	kindWatched
)

const base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

func hashedID(x uint64) string {
	b := make([]byte, 10)
	for i := range b {
		b[i] = base36[x%36]
		x /= 36
	}
	return string(b)
}

func (s *Sim) buildMedias() {
	seen := map[string]bool{}
	first := s.firstDay()
	for i := range s.opts.Medias + len(s.opts.Launches) {
		r := s.rng(kindMedia, uint64(i), 0)
		id := hashedID(splitmix64(uint64(s.opts.Seed) ^ uint64(i)<<20))
		for seen[id] {
			id = hashedID(r.Uint64())
		}
		seen[id] = true
		p := r.IntN(len(projects))
		created := first.Add(-time.Duration(1+r.IntN(400)) * 24 * time.Hour).Add(time.Duration(r.IntN(86400)) * time.Second)
		updated := created.Add(time.Duration(r.IntN(30*86400)) * time.Second)
		if i >= s.opts.Medias { // launched mid-run, not edited since
			created = s.opts.Launches[i-s.opts.Medias].UTC()
			updated = created
		}
		m := media{
			index:       i,
			id:          int64(1_000_000 + i*13 + r.IntN(13)),
			hashedID:    id,
			name:        fmt.Sprintf("%s %s %d", adjectives[r.IntN(len(adjectives))], nouns[r.IntN(len(nouns))], i+1),
			description: "Video for the " + projects[p].name + " programme.",
			created:     created,
			updated:     updated,
			duration:    math.Round((15+r.Float64()*885)*100) / 100,
			project:     p,
			channel:     projects[p].channel,
			playRate:    0.2 + 0.6*r.Float64(),
		}
		if r.IntN(2) == 0 {
			m.folder = folders[r.IntN(len(folders))]
			m.folderID = hashedID(splitmix64(uint64(p)<<8 ^ uint64(slices.Index(folders, m.folder)) ^ uint64(s.opts.Seed)))
		}
		m.tags = append(m.tags, projects[p].tags...)
		m.tags = append(m.tags, genericTags[r.IntN(len(genericTags))])
		// Popularity follows a Pareto law: a few medias take most of the views.
		m.popularity = s.opts.MeanEventsPerDay * 0.2 / math.Pow(1-r.Float64(), 1/1.25)
		m.popularity = min(m.popularity, s.opts.MeanEventsPerDay*50)
		s.medias = append(s.medias, m)
		s.mediaByID[m.hashedID] = i
	}
}

func (s *Sim) buildVisitors() {
	total := 0
	for _, p := range places {
		total += p.weight
	}
	first := s.firstDay()
	for i := range s.opts.Visitors {
		r := s.rng(kindVisitor, uint64(i), 0)
		created := first.Add(-time.Duration(r.IntN(200*86400)) * time.Second)
		pick := r.IntN(total)
		place := 0
		for pick >= places[place].weight {
			pick -= places[place].weight
			place++
		}
		u := splitmix64(uint64(s.opts.Seed) ^ uint64(i)<<24 ^ 0x5151)
		v := visitor{
			key: fmt.Sprintf("v%s_%08x-%04x-%04x-%04x-%012x", created.Format("20060102"),
				u>>32, u>>16&0xffff, u&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff),
			created:       created,
			ip:            fmt.Sprintf("%d.%d.%d.%d", 11+r.IntN(212), r.IntN(256), r.IntN(256), 1+r.IntN(254)),
			place:         place,
			org:           orgs[r.IntN(len(orgs))],
			browser:       r.IntN(len(browsers)),
			lifetimeLoads: int64(1 + r.IntN(60)),
		}
		v.mobile = browsers[v.browser].platform == "ios" || browsers[v.browser].platform == "android"
		v.lifetimePlays = int64(r.IntN(int(v.lifetimeLoads) + 1))
		v.lastActive = created.Add(time.Duration(r.IntN(200*86400)) * time.Second)
		v.lastEventKeyID = r.Uint64()
		if r.IntN(5) == 0 {
			v.name = firstNames[r.IntN(len(firstNames))]
			v.email = fmt.Sprintf("%s.%d@example.com", v.name, i)
		}
		s.visitors = append(s.visitors, v)
		s.visitorByKey[v.key] = i
	}
}

// firstDay is the first day with events.
func (s *Sim) firstDay() time.Time {
	return s.today.AddDate(0, 0, -s.opts.HistoryDays)
}

// dayIndex numbers days from the Unix epoch, so a media-day's events do not depend on "today".
func dayIndex(day time.Time) uint64 { return uint64(day.Unix() / 86400) }

// generated returns every event of media m on day, visible or not, newest first. Days run from
// firstDay without end, so moving the clock forward brings new days. Inserted events (fault
// injection) are included.
func (s *Sim) generated(m int, day time.Time) []event {
	if day.Before(s.firstDay()) {
		return s.inserted(m, day)
	}
	md := s.medias[m]
	r := s.rng(kindDay, uint64(m), dayIndex(day))
	mean := md.popularity
	if w := s.opts.WatchedShare; w > 0 {
		// Watched on a share of its days, with the same events per day on average: a day not
		// watched has none, and its by_date row no loads.
		if s.rng(kindWatched, uint64(m), dayIndex(day)).Float64() >= w {
			mean = 0
		} else {
			mean /= w
		}
	}
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		mean *= 0.6
	}
	if f, ok := s.opts.Bursts[day]; ok {
		mean *= f
	}
	n := poisson(r, mean)
	events := make([]event, 0, n+len(s.inserted(m, day)))
	for j := range n {
		e := event{
			key:     eventKey(uint64(s.opts.Seed), m, dayIndex(day), uint64(j), r.Uint32()),
			media:   m,
			visitor: zipf(r, len(s.visitors)),
			percent: math.Round(r.Float64()*r.Float64()*10000) / 10000,
		}
		// Whole seconds: one of the API's timestamp forms has no fraction.
		e.at = day.Add(time.Duration(r.Int64N(86400)) * time.Second)
		e.embedURL = "https://" + hosts[r.IntN(len(hosts))] + paths[r.IntN(len(paths))]
		e.visibleAt = e.at.Add(time.Duration(r.IntN(600)) * time.Second)
		if r.Float64() < s.opts.LateShare {
			// Late: it shows up one to LateDays days after its own day has closed.
			e.visibleAt = day.Add(time.Duration(1+r.IntN(s.opts.LateDays))*24*time.Hour + time.Duration(r.IntN(86400))*time.Second)
		}
		e.quirky = r.Float64() < s.opts.QuirkShare
		e.corrupt = r.Float64() < s.opts.CorruptShare
		e.duplicate = !e.corrupt && r.Float64() < s.opts.DuplicateShare
		if e.at.Before(md.created) {
			continue // a launched media has no plays before it exists; the draws above keep the rest of the day as it is
		}
		events = append(events, e)
	}
	if m == 0 {
		events = append(events, s.planted(md, day)...)
	}
	events = append(events, s.inserted(m, day)...)
	sortNewestFirst(events)
	return events
}

// planted returns the events Options.Plant asks for on media md's day, one per kind. Their
// own generator leaves the day's drawn events as they are without a plant.
func (s *Sim) planted(md media, day time.Time) []event {
	var out []event
	for k, kind := range s.opts.Plant {
		r := s.rng(kindPlant, uint64(md.index)<<8|uint64(k), dayIndex(day))
		e := event{
			key:     eventKey(uint64(s.opts.Seed), md.index, dayIndex(day), 1<<18+uint64(k), r.Uint32()),
			media:   md.index,
			visitor: zipf(r, len(s.visitors)),
			percent: math.Round(r.Float64()*10000) / 10000,
			at:      day.Add(time.Duration(r.Int64N(43200)) * time.Second), // in the morning: noon of the next day is late for it
		}
		e.embedURL = "https://" + hosts[r.IntN(len(hosts))] + paths[r.IntN(len(paths))]
		e.visibleAt = e.at
		switch kind {
		case PlantCorrupt:
			e.corrupt = true
		case PlantLate:
			e.visibleAt = day.AddDate(0, 0, 1).Add(12 * time.Hour)
		case PlantDuplicate:
			e.duplicate = true
		case PlantQuirky:
			e.quirky = true
		case PlantHostileVisitor:
			e.hostile = true
		case PlantDayEdges:
			// Half a minute into the stats day, and another half a minute before it ends.
			last := e
			last.key = eventKey(uint64(s.opts.Seed), md.index, dayIndex(day), 1<<19+uint64(k), r.Uint32())
			e.at = s.zone().Start(dates.DateOf(day)).Add(30 * time.Second)
			last.at = s.zone().Start(dates.DateOf(day).AddDays(1)).Add(-30 * time.Second)
			e.visibleAt, last.visibleAt = e.at, last.at
			if !last.at.Before(md.created) {
				out = append(out, last)
			}
		}
		if e.at.Before(md.created) {
			continue
		}
		out = append(out, e)
	}
	return out
}

func sortNewestFirst(events []event) {
	slices.SortFunc(events, func(a, b event) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
}

func eventKey(seed uint64, m int, day, j uint64, salt uint32) string {
	id := splitmix64(seed<<1 ^ uint64(m)<<40 ^ day<<20 ^ j)
	return strconv.FormatUint(id|1<<63, 16) + fmt.Sprintf("%08x", salt)
}

// visible reports whether the API returns e at now: it has arrived and is within retention.
func visible(e event, now time.Time) bool {
	return !e.visibleAt.After(now) && !e.at.After(now) && e.at.After(now.AddDate(-2, 0, 0))
}

// zone is the API's stats zone, whose days stats days are.
func (s *Sim) zone() dates.Zone { return dates.ZoneOf(s.opts.Zone) }

// The simulator stands for Wistia and keeps its days as UTC midnights, as its ground truth
// gives them to tests.

// utcDay is the UTC midnight of t's day.
func utcDay(t time.Time) time.Time { return dates.DateOf(t).Time() }

// utcDays is every day from first to last, both included, as UTC midnights.
func utcDays(first, last time.Time) []time.Time {
	var out []time.Time
	for _, d := range dates.Range(dates.DateOf(first), dates.DateOf(last)) {
		out = append(out, d.Time())
	}
	return out
}

// statsEvents returns media m's events that the API counts on stats day day and returns at
// now, newest first: the events listed for that day and counted in its by_date row. Events
// are generated by UTC day, so a stats day off UTC draws on the UTC days either side.
func (s *Sim) statsEvents(m int, day time.Time, now time.Time) []event {
	if s.opts.Zone == nil || s.opts.Zone == time.UTC {
		return s.visibleEvents(m, day, now)
	}
	var out []event
	for d := day.AddDate(0, 0, -1); !d.After(day.AddDate(0, 0, 1)); d = d.AddDate(0, 0, 1) {
		for _, e := range s.visibleEvents(m, d, now) {
			if s.zone().Day(e.at) == dates.DateOf(day) {
				out = append(out, e)
			}
		}
	}
	sortNewestFirst(out)
	return out
}

// visibleEvents returns media m's events on UTC day day that the API returns at now, newest first.
func (s *Sim) visibleEvents(m int, day time.Time, now time.Time) []event {
	if !s.exists(m, now) {
		return nil
	}
	all := s.generated(m, day)
	out := all[:0]
	for _, e := range all {
		if visible(e, now) {
			out = append(out, e)
		}
	}
	return out
}

func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 50 {
		// Normal approximation keeps large days cheap.
		return max(0, int(math.Round(mean+math.Sqrt(mean)*r.NormFloat64())))
	}
	limit, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

// zipf picks an index in [0, n) with a heavy head: returning visitors are common.
func zipf(r *rand.Rand, n int) int {
	i := int(float64(n) * math.Pow(r.Float64(), 2.5))
	return min(i, n-1)
}
