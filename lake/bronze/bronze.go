// Package bronze owns the raw layer: immutable objects in a Store (S3 or a local folder), the
// key layout of bronze/wistia/<stream>/date=<day>/media=<id>/, the manifest that lists each
// landing's objects, and the readers that give those objects back line by line. Keys are built
// and parsed here only. It knows nothing of Iceberg or of the pipeline's state.
package bronze

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// Bronze streams, as they appear in object keys.
const (
	StreamMedias     = "medias"
	StreamDailyStats = "media_daily_stats"
	StreamEvents     = "events"
	StreamVisitors   = "visitors"
)

// bronzeRoot is the top of the bronze key layout (README, "Storage").
const bronzeRoot = "bronze/wistia/"

// AllMedia is the Landing.Media of landings that are not about one media (the media list).
const AllMedia = "_all"

// maxConflicts bounds how often a writer finds its next part name taken (see WritePage); each
// time it skips past every name taken, so only writers racing on one window can reach it.
const maxConflicts = 100

// Landing names one bronze landing (a folder): the records of one stream, for one media (or
// "_all"), on one day, landed by one run.
type Landing struct {
	Stream string
	Day    dates.Date // the dt= partition
	Media  string
	RunID  string
	// Start and End are the API dates the window's requests covered (inclusive); for one-day
	// windows both equal Day.
	Start, End dates.Date
}

// Prefix is the window's folder: bronze/wistia/<stream>/dt=<date>/media=<id>/run=<run_id>/.
func (w Landing) Prefix() string {
	return fmt.Sprintf("%s%s/dt=%s/media=%s/run=%s/", bronzeRoot, w.Stream, w.Day, w.Media, w.RunID)
}

// ManifestKey is where the window's manifest lives.
func (w Landing) ManifestKey() string { return w.Prefix() + "manifest.json" }

// Object describes one landed bronze object.
type Object struct {
	Key     string `json:"key"`
	Records int    `json:"records"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
}

// Manifest lists a window's objects. Later stages find bronze through manifests only.
type Manifest struct {
	Version  int        `json:"version"`
	Stream   string     `json:"stream"`
	Day      dates.Date `json:"day"`
	Media    string     `json:"media"`
	RunID    string     `json:"run_id"`
	Start    dates.Date `json:"start"`
	End      dates.Date `json:"end"`
	Complete bool       `json:"complete"` // every page of the window was read
	Records  int        `json:"records"`
	Bytes    int64      `json:"bytes"`
	Objects  []Object   `json:"objects"`
}

// Writer lands one window's pages as gzip JSONL objects, one object per page, as the
// pages arrive, then its manifest. It holds one page in memory at a time.
type Writer struct {
	store   Store
	window  Landing
	now     func() time.Time
	objects []Object
	next    int
	page    pageEncoder
}

// NewWriter starts (or, given the objects landed before, resumes) a window.
func NewWriter(store Store, w Landing, landed []Object, now func() time.Time) *Writer {
	if w.Start.IsZero() {
		w.Start, w.End = w.Day, w.Day
	}
	next := 1
	for _, o := range landed {
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(o.Key, w.Prefix()), "part-%d.jsonl.gz", &n); err == nil && n >= next {
			next = n + 1
		}
	}
	return &Writer{store: store, window: w, now: now, objects: append([]Object(nil), landed...), next: next}
}

// Objects lists what the writer has landed, to resume from after a retry.
func (b *Writer) Objects() []Object { return append([]Object(nil), b.objects...) }

// WritePage lands one API page: each raw record becomes a line carrying _run_id, _ingested_at,
// _source (endpoint and query; the token is never part of them) and _page.
//
// A part name may already be taken by an attempt that crashed before it could record what it
// wrote; the store refuses to overwrite it, and the page lands under the next free name. The
// orphan is never listed in a manifest, so nothing is read twice.
func (b *Writer) WritePage(ctx context.Context, source string, page int, records []json.RawMessage) (Object, error) {
	body, err := b.page.encode(b.window.RunID, b.now().UTC(), source, page, records)
	if err != nil {
		return Object{}, fmt.Errorf("bronze %s page %d: %w", b.window.Prefix(), page, err)
	}
	sum := sha256.Sum256(body)
	for range maxConflicts {
		key := fmt.Sprintf("%spart-%05d.jsonl.gz", b.window.Prefix(), b.next)
		err := b.store.PutIfAbsent(ctx, key, body)
		if errors.Is(err, ErrConflict) {
			// Orphans of a crashed attempt: skip past every part name taken, however many.
			if err := b.skipTaken(ctx); err != nil {
				return Object{}, err
			}
			continue
		}
		if err != nil {
			return Object{}, err
		}
		obj := Object{Key: key, Records: len(records), Bytes: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
		b.objects = append(b.objects, obj)
		b.next++
		return obj, nil
	}
	return Object{}, fmt.Errorf("bronze %s: the next part name was taken %d times in a row: is another writer landing this window?", b.window.Prefix(), maxConflicts)
}

// skipTaken moves the next part number past the highest one already in the window's folder.
func (b *Writer) skipTaken(ctx context.Context) error {
	keys, err := b.store.List(ctx, b.window.Prefix())
	if err != nil {
		return fmt.Errorf("bronze %s: list taken part names: %w", b.window.Prefix(), err)
	}
	next := b.next + 1
	for _, key := range keys {
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(key, b.window.Prefix()), "part-%d.jsonl.gz", &n); err == nil && n >= next {
			next = n + 1
		}
	}
	b.next = next
	return nil
}

// Finish lands the manifest. complete says whether every page of the window was read; a
// watermark may only move past complete windows. Finishing again is a no-op: when an earlier
// attempt already landed a manifest for this window, that manifest stands and is returned
// (pages this attempt wrote again stay unlisted orphans).
func (b *Writer) Finish(ctx context.Context, complete bool) (Manifest, error) {
	m := Manifest{
		Version: 1, Stream: b.window.Stream, Day: b.window.Day, Media: b.window.Media,
		RunID: b.window.RunID, Start: b.window.Start, End: b.window.End,
		Complete: complete, Objects: b.Objects(),
	}
	if m.Objects == nil {
		m.Objects = []Object{}
	}
	for _, o := range m.Objects {
		m.Records += o.Records
		m.Bytes += o.Bytes
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	err = b.store.PutIfAbsent(ctx, b.window.ManifestKey(), body)
	if !errors.Is(err, ErrConflict) {
		return m, err
	}
	existing, getErr := b.store.Get(ctx, b.window.ManifestKey())
	if getErr != nil {
		return m, getErr
	}
	var landed Manifest
	if jsonErr := json.Unmarshal(existing, &landed); jsonErr != nil || (complete && !landed.Complete) {
		return m, err
	}
	return landed, nil
}

// pageEncoder renders pages as gzip JSONL, reusing its buffers and compressor from page to
// page: the bytes it returns are valid until the next page.
type pageEncoder struct {
	buf, compact bytes.Buffer
	zw           *gzip.Writer
}

// encode renders records with the bronze metadata spliced in front of each raw object's own
// fields, so the API's bytes stay as they came.
func (e *pageEncoder) encode(runID string, at time.Time, source string, page int, records []json.RawMessage) ([]byte, error) {
	meta, err := json.Marshal(map[string]any{"_run_id": runID, "_ingested_at": at.Format(time.RFC3339Nano), "_source": source, "_page": page})
	if err != nil {
		return nil, err
	}
	meta = meta[:len(meta)-1] // drop the closing brace to splice the record's fields in
	e.buf.Reset()
	if e.zw == nil {
		e.zw = gzip.NewWriter(&e.buf)
	} else {
		e.zw.Reset(&e.buf)
	}
	zw, compact := e.zw, &e.compact
	for i, raw := range records {
		compact.Reset()
		if err := json.Compact(compact, raw); err != nil {
			return nil, fmt.Errorf("record %d is not JSON: %w", i, err)
		}
		rec := compact.Bytes()
		zw.Write(meta)
		switch {
		case bytes.Equal(rec, []byte("{}")):
			zw.Write([]byte("}"))
		case len(rec) > 0 && rec[0] == '{':
			zw.Write([]byte(","))
			zw.Write(rec[1:])
		default: // not an object: keep it whole under _raw
			zw.Write([]byte(`,"_raw":`))
			zw.Write(rec)
			zw.Write([]byte("}"))
		}
		zw.Write([]byte("\n"))
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

// Manifests returns the manifests of a stream's day, across runs and medias, sorted by key.
func Manifests(ctx context.Context, store Store, stream string, day dates.Date) ([]Manifest, error) {
	keys, err := store.List(ctx, fmt.Sprintf("%s%s/dt=%s/", bronzeRoot, stream, day))
	if err != nil {
		return nil, err
	}
	var out []Manifest
	for _, key := range keys {
		if !strings.HasSuffix(key, "/manifest.json") {
			continue
		}
		body, err := store.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		var m Manifest
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("manifest %s/%s: %w", store.Location(), key, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Line is one bronze record: its bytes (metadata and raw API object) and where it came from.
type Line struct {
	Key    string // object key
	Number int    // 1-based line number in the object
	Bytes  []byte // valid until the next line is read
	// Media is the media of the landing, from its manifest (AllMedia for the media list); empty
	// for lines read from objects without their manifest (ObjectLines, ReadObject).
	Media string
}

// objectReader is a gunzip state and a line buffer, reused across objects: a transform reads
// thousands of small objects, and allocating both for each was a large share of its garbage.
type objectReader struct {
	zr  *gzip.Reader
	buf []byte
}

var objectReaders = sync.Pool{New: func() any { return &objectReader{buf: make([]byte, 0, 64<<10)} }}

func (r *objectReader) reset(body []byte) error {
	if r.zr == nil {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		r.zr = zr
		return err
	}
	return r.zr.Reset(bytes.NewReader(body))
}

// ReadObject streams the lines of one manifest object, checking its sha256 first.
func ReadObject(ctx context.Context, store Store, obj Object) iter.Seq2[Line, error] {
	return func(yield func(Line, error) bool) {
		body, err := store.Get(ctx, obj.Key)
		if err != nil {
			yield(Line{}, err)
			return
		}
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != obj.SHA256 {
			yield(Line{}, fmt.Errorf("bronze %s/%s: sha256 does not match its manifest", store.Location(), obj.Key))
			return
		}
		r := objectReaders.Get().(*objectReader)
		defer objectReaders.Put(r)
		if err := r.reset(body); err != nil {
			yield(Line{}, fmt.Errorf("bronze %s/%s: %w", store.Location(), obj.Key, err))
			return
		}
		sc := bufio.NewScanner(r.zr)
		sc.Buffer(r.buf, 16<<20)
		n := 0
		for sc.Scan() {
			n++
			if !yield(Line{Key: obj.Key, Number: n, Bytes: sc.Bytes()}, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(Line{}, fmt.Errorf("bronze %s/%s line %s: %w", store.Location(), obj.Key, strconv.Itoa(n+1), err))
		}
	}
}

// Lines streams every line of a stream's day, across the day's manifests.
func Lines(ctx context.Context, store Store, stream string, day dates.Date, visit func(Line) error) error {
	manifests, err := Manifests(ctx, store, stream, day)
	if err != nil {
		return err
	}
	return ManifestLines(ctx, store, manifests, visit)
}

// ManifestLines streams every line of the manifests' objects, each with its manifest's media.
func ManifestLines(ctx context.Context, store Store, manifests []Manifest, visit func(Line) error) error {
	for _, m := range manifests {
		err := ObjectLines(ctx, store, m.Objects, func(line Line) error {
			line.Media = m.Media
			return visit(line)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ObjectLines streams every line of the objects.
func ObjectLines(ctx context.Context, store Store, objects []Object, visit func(Line) error) error {
	for _, obj := range objects {
		for line, err := range ReadObject(ctx, store, obj) {
			if err != nil {
				return err
			}
			if err := visit(line); err != nil {
				return err
			}
		}
	}
	return nil
}
