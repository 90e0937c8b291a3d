package silver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/buger/jsonparser"
	"golang.org/x/sync/errgroup"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// Bronze → silver: every bronze line named by the manifests of the merged days is typed into
// its silver row or, when it cannot be, into silver.quarantine with the reason. Nothing is
// dropped: the quarantine keeps the raw line and bronze keeps everything.

// bronzeMeta is the metadata the bronze writer puts in front of each API object.
type bronzeMeta struct {
	IngestedAt string `json:"_ingested_at"`
	RunID      string `json:"_run_id"`
}

// readMeta reads a bronze line's metadata. The writer puts it in front of the API's fields, so
// the first occurrence of each key is ours: an API record with fields of the same names
// (they are kept in bronze as they came) cannot override the lineage.
func readMeta(line []byte) (bronzeMeta, error) {
	var (
		m               bronzeMeta
		haveAt, haveRun bool
	)
	err := jsonparser.ObjectEach(line, func(key, value []byte, vt jsonparser.ValueType, _ int) error {
		var field *string
		switch {
		case !haveAt && string(key) == "_ingested_at":
			haveAt, field = true, &m.IngestedAt
		case !haveRun && string(key) == "_run_id":
			haveRun, field = true, &m.RunID
		default:
			return nil
		}
		if vt == jsonparser.String {
			*field, _ = jsonparser.ParseString(value)
		}
		return nil
	})
	return m, err
}

func (m bronzeMeta) Lineage(line bronze.Line) (Lineage, error) {
	at, err := time.Parse(time.RFC3339Nano, m.IngestedAt)
	if err != nil {
		return Lineage{}, fmt.Errorf("_ingested_at %q: %w", m.IngestedAt, err)
	}
	return Lineage{IngestedAt: at.UTC(), RunID: m.RunID, Source: line.Key + "#" + strconv.Itoa(line.Number)}, nil
}

// quarantine makes the quarantine row of a bronze line: the API record as it came (the bronze
// metadata is in the lineage columns) keyed by its content, so the same record landed by
// another run is the same row.
func quarantine(stream string, day dates.Date, line bronze.Line, lin Lineage, reason string) Quarantined {
	if lin.Source == "" {
		lin.Source = line.Key + "#" + strconv.Itoa(line.Number)
	}
	record := bytes.Clone(line.Bytes)
	for _, k := range []string{"_run_id", "_ingested_at", "_source", "_page"} {
		record = jsonparser.Delete(record, k)
	}
	sum := sha256.Sum256([]byte(stream + "\x00" + day.String() + "\x00" + string(record)))
	return Quarantined{RecordKey: hex.EncodeToString(sum[:]), Stream: stream, Date: day, Reason: reason, Raw: string(record), Lineage: lin}
}

const (
	fIngestedAt = iota
	fRunID
	fEventKey
	fReceivedAt
	fMediaID
	fVisitorKey
	fPercentViewed
	fEmbedURL
	fIP
	fCountry
	fRegion
	fCity
	fOrg
	fConversionType
)

// eventParser types bronze event lines. It reads only the fields silver needs, without
// building a map or reflecting per record, and applies the client's tolerant field rules.
type eventParser struct {
	raw                [len(eventFieldNames)][]byte // each field's JSON text, in the line
	text               [len(eventFieldNames)]string // the text fields, as views of the line where they are plain strings
	received, ingested time.Time
	date               dates.Date // received's day in zone
	zone               dates.Zone // the account's stats zone, whose days the events' dates are
	percent            float64

	// The last _ingested_at read, as written and as parsed: every line of a page has the same,
	// and parsing it again for each was a tenth of typing a line.
	lastIngestedRaw []byte
	lastIngested    time.Time
}

// eventFieldNames are the fields silver.events takes from a bronze event line, indexed by the
// f* constants; eventField finds a name's index.
var eventFieldNames = [...]string{"_ingested_at", "_run_id", "event_key", "received_at", "media_id", "visitor_key",
	"percent_viewed", "embed_url", "ip", "country", "region", "city", "org", "conversion_type"}

// eventField is the index of a field silver takes, or -1: a switch, as every key of every
// line is looked up (a map lookup hashed each one).
func eventField(key []byte) int {
	switch string(key) {
	case "_ingested_at":
		return fIngestedAt
	case "_run_id":
		return fRunID
	case "event_key":
		return fEventKey
	case "received_at":
		return fReceivedAt
	case "media_id":
		return fMediaID
	case "visitor_key":
		return fVisitorKey
	case "percent_viewed":
		return fPercentViewed
	case "embed_url":
		return fEmbedURL
	case "ip":
		return fIP
	case "country":
		return fCountry
	case "region":
		return fRegion
	case "city":
		return fCity
	case "org":
		return fOrg
	case "conversion_type":
		return fConversionType
	}
	return -1
}

var eventParserPool = sync.Pool{New: func() any { return new(eventParser) }}

// textOf reads field i as text with the client's rules. A plain string (the usual case) is a
// view of the line, valid while the line is.
func (p *eventParser) textOf(i int) (string, error) {
	raw := p.raw[i]
	if v, ok := wistia.PlainString(raw); ok {
		if len(v) == 0 {
			return "", nil
		}
		return unsafe.String(&v[0], len(v)), nil
	}
	if raw == nil {
		return "", nil
	}
	var t wistia.Text
	err := t.UnmarshalJSON(raw)
	return string(t), err
}

// parse types one line into the parser's fields; reason is set when the line cannot be typed.
func (p *eventParser) parse(line []byte) (reason string) {
	clear(p.raw[:])
	if len(line) == 0 || line[0] != '{' {
		return "not a JSON object"
	}
	found := 0
	eachField(line, func(key, value []byte) {
		i := eventField(key)
		if i < 0 {
			return
		}
		if found&(1<<i) != 0 && (i == fIngestedAt || i == fRunID) {
			return // the writer's metadata comes first; an API field of that name does not override it
		}
		p.raw[i] = value // valid while line is
		found |= 1 << i
	})
	for _, i := range eventStrFields {
		if i < 0 {
			continue
		}
		var err error
		if p.text[i], err = p.textOf(i); err != nil {
			return eventFieldNames[i] + ": " + err.Error()
		}
	}
	if strings.TrimSpace(p.text[fEventKey]) == "" {
		return "event_key is missing"
	}
	// A visitor_key names the visitor's bronze and dimension row: a path or a phrase is no
	// visitor the pipeline can fetch or join, so its event is not counted as one.
	if vk := p.text[fVisitorKey]; vk != "" {
		if err := wistia.CheckID("visitor_key", vk); err != nil {
			return err.Error()
		}
	}
	var received wistia.Timestamp
	if err := received.UnmarshalJSON(p.raw[fReceivedAt]); p.raw[fReceivedAt] != nil && err != nil {
		return "received_at: " + err.Error()
	}
	if received.IsZero() {
		return "received_at is missing"
	}
	if raw := p.raw[fIngestedAt]; raw == nil || !bytes.Equal(raw, p.lastIngestedRaw) {
		var ingested wistia.Timestamp
		if err := ingested.UnmarshalJSON(raw); raw == nil || err != nil || ingested.IsZero() {
			return "bronze _ingested_at is missing or unreadable"
		}
		p.lastIngestedRaw, p.lastIngested = append(p.lastIngestedRaw[:0], raw...), ingested.Time
	}
	var percent wistia.Number
	if p.raw[fPercentViewed] != nil {
		if err := percent.UnmarshalJSON(p.raw[fPercentViewed]); err != nil {
			return "percent_viewed: " + err.Error()
		}
	}
	if f := float64(percent); f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprintf("percent_viewed %v is negative or not a finite number", f)
	}
	p.received, p.ingested, p.percent = received.Time, p.lastIngested, float64(percent)
	p.date = p.zone.Day(received.Time)
	return ""
}

// row adds the event the parser typed last to c, with its bronze object and line.
func (p *eventParser) row(c *eventCols, object string, line int) error {
	c.rows = append(c.rows, eventRow{})
	return p.fill(&c.rows[len(c.rows)-1], &c.buf, object, line)
}

// fill sets r to the event the parser typed last, with its strings in buf.
func (p *eventParser) fill(r *eventRow, buf *strBuf, object string, line int) (err error) {
	*r = eventRow{date: p.date, received: p.received.UnixMicro(), ingested: p.ingested.UnixMicro(),
		percent: p.percent, line: int32(line)}
	if r.own, err = buf.own(p.text[fEventKey], p.text[fVisitorKey], p.text[fIP]); err != nil {
		return err
	}
	for s := numOwnStrs; s < numEventStrs; s++ {
		v := object
		if f := eventStrFields[s]; f >= 0 {
			v = p.text[f]
		}
		if err := buf.set(r, s, v); err != nil {
			return err
		}
	}
	return nil
}

// maxWindowSpill is how far an event's day (in the configured zone) may lie from the day of
// the window that listed it. A window is a day in the account's stats zone: with the zone set
// right, every event falls on its window's day. With it set wrong, any error of a zone (UTC-12
// to UTC+14 against the same) puts an event on the window's day or the one next to it.
const maxWindowSpill = 1

// readEvents types the bronze events of one window day in the given manifests, by the day of
// their received_at in zone. An event belongs to that day, whichever window listed it; one
// further from the window than any time zone explains is quarantined, with its reason, not
// dropped.
//
// Gunzip and typing are most of a merge's time, so the objects are read on every core, in
// contiguous chunks. The window's own day is most of its events: they are typed in place into
// one slice of rows sized from the manifests' line counts, each chunk into its own range, so no
// row is copied or grown into a larger slice after; the slice keeps room for the events that
// the windows either side spill onto this day. Those spills, and this window's, are few.
func readEvents(ctx context.Context, store bronze.Store, zone dates.Zone, day dates.Date, manifests []bronze.Manifest) (map[dates.Date]*eventCols, []Quarantined, error) {
	var objects []bronze.Object
	for _, m := range manifests {
		objects = append(objects, m.Objects...)
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), len(objects)))
	bounds := make([]int, workers+1) // chunk i types into own.rows[bounds[i]:bounds[i+1]]
	chunks := make([][]bronze.Object, workers)
	for i := range workers {
		chunks[i] = objects[i*len(objects)/workers : (i+1)*len(objects)/workers]
		bounds[i+1] = bounds[i]
		for _, obj := range chunks[i] {
			bounds[i+1] += obj.Records
		}
	}
	total := bounds[workers]
	own := &eventCols{rows: make([]eventRow, total, total+total/32+256)}
	typed := make([]int, workers) // events of the window's day typed by chunk i
	bufs := make([]strBuf, workers)
	for i := range bufs {
		bufs[i].b = make([]byte, 0, (bounds[i+1]-bounds[i])*bytesPerEvent)
	}
	spills := make([]map[dates.Date]*eventCols, workers)
	bad := make([][]Quarantined, workers)
	g, gctx := errgroup.WithContext(ctx)
	for i := range workers {
		g.Go(func() (err error) {
			typed[i], spills[i], bad[i], err = readEventObjects(gctx, store, zone, day, chunks[i], own.rows[bounds[i]:bounds[i+1]], &bufs[i])
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	// One buffer for the day's strings; then close the gaps the lines that were quarantined or
	// fell on other days left at the end of each chunk's range.
	size := 0
	for i := range bufs {
		size += len(bufs[i].b)
	}
	own.buf.b = make([]byte, 0, size+size/32)
	n := 0
	for i := range workers {
		base, codeBase, err := own.buf.appendBuf(&bufs[i])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", day, err)
		}
		rebase(own.rows[bounds[i]:bounds[i]+typed[i]], base, codeBase)
		bufs[i] = strBuf{}
		n += copy(own.rows[n:], own.rows[bounds[i]:bounds[i]+typed[i]])
	}
	own.rows = own.rows[:n]
	byDate := map[dates.Date]*eventCols{day: own}
	for _, sp := range spills {
		for d, c := range sp {
			c.buf.forget()
			if byDate[d] == nil {
				byDate[d] = c
				continue
			}
			if err := byDate[d].appendCols(c); err != nil {
				return nil, nil, err
			}
		}
	}
	return byDate, slices.Concat(bad...), nil
}

// bytesPerEvent is about what an event's strings take in its day's buffer (the event key,
// visitor key and IP; other values repeat), to size the buffers once.
const bytesPerEvent = 48

// readEventObjects types the events of objects: those of the window's day into own, in order
// (it returns how many), with their strings in buf, the others by their day. Lines beyond own
// (a manifest that counted fewer lines than its object holds) go with the others' days' rows of
// the window's day, so nothing is lost either way.
func readEventObjects(ctx context.Context, store bronze.Store, zone dates.Zone, day dates.Date, objects []bronze.Object, own []eventRow, buf *strBuf) (int, map[dates.Date]*eventCols, []Quarantined, error) {
	p := eventParserPool.Get().(*eventParser)
	defer eventParserPool.Put(p)
	p.zone = zone
	var (
		n      int
		others = map[dates.Date]*eventCols{}
		bad    []Quarantined
	)
	err := bronze.ObjectLines(ctx, store, objects, func(line bronze.Line) error {
		reason := p.parse(line.Bytes)
		date := p.date
		if reason == "" && (date < day-maxWindowSpill || date > day+maxWindowSpill) {
			reason = fmt.Sprintf("received_at %s is more than a day from the day %s of the window that listed it", p.received.Format(time.RFC3339), day)
		}
		if reason != "" {
			meta, _ := readMeta(line.Bytes)
			lin, _ := meta.Lineage(line)
			bad = append(bad, quarantine(bronze.StreamEvents, day, line, lin, reason))
			return nil
		}
		if date != day || n == len(own) {
			c := others[date]
			if c == nil {
				c = &eventCols{}
				others[date] = c
			}
			return p.row(c, line.Key, line.Number)
		}
		if err := p.fill(&own[n], buf, line.Key, line.Number); err != nil {
			return err
		}
		n++
		return nil
	})
	buf.forget()
	return n, others, bad, err
}

// readStream types every line of a small stream (medias, by_date rows, visitors) over the
// given days with the client's record decoders.
func readStream[R any](ctx context.Context, store bronze.Store, stream string, days []dates.Date, typeLine func(raw []byte, media string, lin Lineage) (R, string)) ([]R, []Quarantined, error) {
	var (
		rows []R
		bad  []Quarantined
	)
	for _, day := range days {
		err := bronze.Lines(ctx, store, stream, day, func(line bronze.Line) error {
			meta, err := readMeta(line.Bytes)
			if err != nil {
				bad = append(bad, quarantine(stream, day, line, Lineage{}, "not a JSON object: "+err.Error()))
				return nil
			}
			lin, err := meta.Lineage(line)
			if err != nil {
				bad = append(bad, quarantine(stream, day, line, Lineage{}, "bronze "+err.Error()))
				return nil
			}
			lin.IngestedAt = lin.IngestedAt.Truncate(time.Microsecond)
			row, reason := typeLine(bytes.Clone(line.Bytes), line.Media, lin)
			if reason != "" {
				bad = append(bad, quarantine(stream, day, line, lin, reason))
				return nil
			}
			rows = append(rows, row)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return rows, bad, nil
}

func typeMedia(raw []byte, _ string, lin Lineage) (Media, string) {
	m, err := wistia.DecodeMedia(raw)
	if err != nil {
		return Media{}, err.Error()
	}
	if err := wistia.CheckID("hashed_id", string(m.HashedID)); err != nil {
		return Media{}, err.Error() // never ingested: it cannot name a bronze folder or a workflow
	}
	return Media{
		HashedID: string(m.HashedID), ID: int64(m.ID), Name: string(m.Name), Type: string(m.Type), Archived: bool(m.Archived),
		Created: m.Created.Truncate(time.Microsecond), Updated: m.Updated.Truncate(time.Microsecond), Duration: float64(m.Duration),
		Status: string(m.Status), Section: string(m.Section), ProjectID: string(m.Project.HashedID), ProjectName: string(m.Project.Name),
		FolderName: string(m.Subfolder.Name), Tags: strings.Join(m.Tags, ","), ThumbnailURL: string(m.Thumbnail.URL), Lineage: lin,
	}, ""
}

// typeDailyStat needs the media id, which by_date rows do not carry: the manifest of the landing
// the row came in names it.
func typeDailyStat(raw []byte, media string, lin Lineage) (DailyStat, string) {
	s, err := wistia.DecodeDailyStat(raw)
	if err != nil {
		return DailyStat{}, err.Error()
	}
	if media == "" || media == bronze.AllMedia {
		return DailyStat{}, fmt.Sprintf("the landing of %s names no media", lin.Source)
	}
	if h := float64(s.HoursWatched); s.LoadCount < 0 || s.PlayCount < 0 || h < 0 || math.IsNaN(h) || math.IsInf(h, 0) {
		return DailyStat{}, fmt.Sprintf("impossible counts: load_count %d, play_count %d, hours_watched %v", int64(s.LoadCount), int64(s.PlayCount), h)
	}
	return DailyStat{MediaID: media, Date: dates.DateOf(s.Date.Time), LoadCount: int64(s.LoadCount), PlayCount: int64(s.PlayCount),
		HoursWatched: float64(s.HoursWatched), Lineage: lin}, ""
}

func typeVisitor(raw []byte, _ string, lin Lineage) (Visitor, string) {
	v, err := wistia.DecodeVisitor(raw)
	if err != nil {
		return Visitor{}, err.Error()
	}
	if err := wistia.CheckID("visitor_key", string(v.VisitorKey)); err != nil {
		return Visitor{}, err.Error()
	}
	return Visitor{VisitorKey: string(v.VisitorKey), CreatedAt: v.CreatedAt.Truncate(time.Microsecond),
		LastActiveAt: v.LastActiveAt.Truncate(time.Microsecond), LoadCount: int64(v.LoadCount), PlayCount: int64(v.PlayCount),
		Browser: string(v.UserAgentDetails.Browser), Platform: string(v.UserAgentDetails.Platform), Mobile: bool(v.UserAgentDetails.Mobile),
		Lineage: lin}, ""
}
