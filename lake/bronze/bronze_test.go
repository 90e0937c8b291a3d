package bronze

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
)

var (
	testDay = dates.DateOf(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	fixedAt = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
)

func fixedClock() time.Time { return fixedAt }

func testWindow(run string) Landing {
	return Landing{Stream: StreamEvents, Day: testDay, Media: "abc123defg", RunID: run}
}

// page returns n raw records as an API page would hold them, with varied shapes.
func page(first, n int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		out[i] = json.RawMessage(fmt.Sprintf(`{"event_key": "e%05d", "percent_viewed": "0.%d", "nested": {"a": [1, 2]}}`, first+i, i))
	}
	return out
}

func readAll(t *testing.T, store Store, m Manifest) []map[string]any {
	t.Helper()
	var rows []map[string]any
	for _, obj := range m.Objects {
		for line, err := range ReadObject(context.Background(), store, obj) {
			require.NoError(t, err)
			var row map[string]any
			require.NoError(t, json.Unmarshal(line.Bytes, &row), "line %d of %s", line.Number, line.Key)
			rows = append(rows, row)
		}
	}
	return rows
}

func TestBronzeRoundTrip(t *testing.T) {
	ctx := context.Background()
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			w := NewWriter(store, testWindow("run-1"), nil, fixedClock)
			src := "/stats/events.json?end_date=2026-11-24&media_id=abc123defg&page=1&per_page=100&start_date=2026-11-24"
			obj, err := w.WritePage(ctx, src, 1, page(0, 100))
			require.NoError(t, err)
			assert.Equal(t, "bronze/wistia/events/dt=2026-11-24/media=abc123defg/run=run-1/part-00001.jsonl.gz", obj.Key)
			_, err = w.WritePage(ctx, src, 2, append(page(100, 2), json.RawMessage(`42`), json.RawMessage(`{}`)))
			require.NoError(t, err)
			m, err := w.Finish(ctx, true)
			require.NoError(t, err)
			assert.Equal(t, 104, m.Records)
			assert.True(t, m.Complete)

			found, err := Manifests(ctx, store, StreamEvents, testDay)
			require.NoError(t, err)
			require.Equal(t, []Manifest{m}, found)

			rows := readAll(t, store, m)
			require.Len(t, rows, 104)
			assert.Equal(t, map[string]any{
				"_run_id": "run-1", "_ingested_at": "2026-11-25T06:00:00Z", "_source": src, "_page": 1.0,
				"event_key": "e00000", "percent_viewed": "0.0", "nested": map[string]any{"a": []any{1.0, 2.0}},
			}, rows[0], "the raw object keeps its fields and values as sent, beside the metadata")
			assert.Equal(t, 42.0, rows[102]["_raw"], "a record that is not an object is kept whole")
			assert.Equal(t, "run-1", rows[103]["_run_id"])
		})
	}
}

func TestBronzeWriterIdempotence(t *testing.T) {
	ctx := context.Background()
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("the same window written twice lands the same objects once", func(t *testing.T) {
				var manifests []Manifest
				for range 2 {
					w := NewWriter(store, testWindow("twice"), nil, fixedClock)
					_, err := w.WritePage(ctx, "/src", 1, page(0, 10))
					require.NoError(t, err)
					m, err := w.Finish(ctx, true)
					require.NoError(t, err)
					manifests = append(manifests, m)
				}
				assert.Equal(t, manifests[0], manifests[1])
				keys, err := store.List(ctx, testWindow("twice").Prefix())
				require.NoError(t, err)
				assert.Len(t, keys, 2, "one part and one manifest")
			})
			t.Run("a part name taken by a crashed attempt is skipped, not overwritten", func(t *testing.T) {
				win := testWindow("crashed")
				orphan := win.Prefix() + "part-00001.jsonl.gz"
				require.NoError(t, store.PutIfAbsent(ctx, orphan, []byte("an earlier attempt's page")))
				w := NewWriter(store, win, nil, func() time.Time { return fixedAt.Add(time.Minute) })
				obj, err := w.WritePage(ctx, "/src", 1, page(0, 3))
				require.NoError(t, err)
				assert.Equal(t, win.Prefix()+"part-00002.jsonl.gz", obj.Key)
				m, err := w.Finish(ctx, true)
				require.NoError(t, err)
				assert.Equal(t, []Object{obj}, m.Objects, "the orphan is not in the manifest")
				got, err := store.Get(ctx, orphan)
				require.NoError(t, err)
				assert.Equal(t, []byte("an earlier attempt's page"), got)
			})
			t.Run("however many pages a crash left, the next page finds a free name", func(t *testing.T) {
				win := testWindow("crashed-long")
				for n := 1; n <= 3*maxConflicts; n++ { // more orphans than a writer may skip one by one
					require.NoError(t, store.PutIfAbsent(ctx, fmt.Sprintf("%spart-%05d.jsonl.gz", win.Prefix(), n), []byte("orphan")))
				}
				w := NewWriter(store, win, nil, fixedClock)
				obj, err := w.WritePage(ctx, "/src", 1, page(0, 3))
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("%spart-%05d.jsonl.gz", win.Prefix(), 3*maxConflicts+1), obj.Key)
				obj2, err := w.WritePage(ctx, "/src", 2, page(3, 3))
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("%spart-%05d.jsonl.gz", win.Prefix(), 3*maxConflicts+2), obj2.Key)
				m, err := w.Finish(ctx, true)
				require.NoError(t, err)
				assert.Len(t, readAll(t, store, m), 6, "only this attempt's pages are in the manifest")
			})
			t.Run("a resumed writer continues after the landed objects", func(t *testing.T) {
				win := testWindow("resumed")
				first := NewWriter(store, win, nil, fixedClock)
				_, err := first.WritePage(ctx, "/src", 1, page(0, 5))
				require.NoError(t, err)
				second := NewWriter(store, win, first.Objects(), fixedClock)
				_, err = second.WritePage(ctx, "/src", 2, page(5, 5))
				require.NoError(t, err)
				m, err := second.Finish(ctx, true)
				require.NoError(t, err)
				require.Len(t, m.Objects, 2)
				assert.Len(t, readAll(t, store, m), 10)
			})
			t.Run("a later attempt keeps the complete manifest already landed", func(t *testing.T) {
				win := testWindow("finished")
				w := NewWriter(store, win, nil, fixedClock)
				_, err := w.WritePage(ctx, "/src", 1, page(0, 5))
				require.NoError(t, err)
				landed, err := w.Finish(ctx, true)
				require.NoError(t, err)
				retry := NewWriter(store, win, nil, func() time.Time { return fixedAt.Add(time.Hour) })
				_, err = retry.WritePage(ctx, "/src", 1, page(0, 5))
				require.NoError(t, err)
				m, err := retry.Finish(ctx, true)
				require.NoError(t, err)
				assert.Equal(t, landed, m)
			})
		})
	}
}

func TestBronzeDetectsTampering(t *testing.T) {
	ctx := context.Background()
	store, err := NewLocalStore(t.TempDir())
	require.NoError(t, err)
	w := NewWriter(store, testWindow("r"), nil, fixedClock)
	obj, err := w.WritePage(ctx, "/src", 1, page(0, 2))
	require.NoError(t, err)
	obj.SHA256 = "0000"
	for _, err := range ReadObject(ctx, store, obj) {
		assert.ErrorContains(t, err, "sha256")
	}
}

// TestS3StoppedMidWrite stops the S3 server between pages of one window: the write fails as
// retryable, and after a restart the retried write completes with no partial or doubled object.
func TestS3StoppedMidWrite(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartS3(t)
	store := openS3Store(t, srv, "midwrite")
	win := testWindow("midwrite")
	w := NewWriter(store, win, nil, fixedClock)
	for p := 1; p <= 2; p++ {
		_, err := w.WritePage(ctx, "/src", p, page(p*100, 100))
		require.NoError(t, err)
	}

	srv.Stop()
	_, err := w.WritePage(ctx, "/src", 3, page(300, 100))
	require.Error(t, err)
	assert.True(t, IsRetryable(err), "a stopped server is retryable: %v", err)

	srv.Start()
	_, err = w.WritePage(ctx, "/src", 3, page(300, 100))
	require.NoError(t, err)
	m, err := w.Finish(ctx, true)
	require.NoError(t, err)

	keys, err := store.List(ctx, win.Prefix())
	require.NoError(t, err)
	assert.Equal(t, []string{
		win.Prefix() + "manifest.json",
		win.Prefix() + "part-00001.jsonl.gz",
		win.Prefix() + "part-00002.jsonl.gz",
		win.Prefix() + "part-00003.jsonl.gz",
	}, keys)
	rows := readAll(t, store, m)
	require.Len(t, rows, 300)
	seen := map[string]bool{}
	for _, r := range rows {
		key := r["event_key"].(string)
		assert.False(t, seen[key], "record %s appears twice", key)
		seen[key] = true
	}
}
