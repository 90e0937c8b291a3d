package silver

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
)

// note is the row of a table that exists only in TestATableIsDeclaredOnce.
type note struct {
	Key  string
	Text string
	Lineage
}

// A table is declared once. The throwaway table below (its declaration is the only code
// written for it) is created by the catalog, merged from its bronze stream by Merge's loop,
// read back by the reader, and its bad lines are quarantined like any stream's.
func TestATableIsDeclaredOnce(t *testing.T) {
	ctx := context.Background()
	notes := fromBronze("notes", func(raw []byte, _ string, lin Lineage) (note, string) {
		var n struct{ Key, Text string }
		if err := json.Unmarshal(raw, &n); err != nil || n.Key == "" {
			return note{}, "a note needs a key"
		}
		return note{Key: n.Key, Text: n.Text, Lineage: lin}, ""
	}, engine.NewTable(engine.Silver, "notes", append([]engine.Column[note]{
		engine.StrCol("key", true, "", func(r *note) *string { return &r.Key }),
		engine.StrCol("text", false, "", func(r *note) *string { return &r.Text }),
	}, lineageCols(func(r *note) *Lineage { return &r.Lineage })...), "key", true,
		func(a, b *note) int { return strings.Compare(a.Key, b.Key) },
		func(a, b *note) int { return newerLine(&a.Lineage, &b.Lineage) },
		func(r *note) string { return r.Key }, nil))

	dir := t.TempDir()
	store, err := bronze.NewLocalStore(filepath.Join(dir, "bronze"))
	require.NoError(t, err)
	day := dates.DateOf(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	at := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	landing := bronze.NewWriter(store, bronze.Landing{Stream: "notes", Day: day, Media: bronze.AllMedia, RunID: "run-1", Start: day, End: day}, nil, func() time.Time { return at })
	_, err = landing.WritePage(ctx, "/notes.json", 1, []json.RawMessage{
		json.RawMessage(`{"key": "n2", "text": "second"}`),
		json.RawMessage(`{"key": "n1", "text": "first"}`),
		json.RawMessage(`{"text": "no key"}`),
	})
	require.NoError(t, err)
	_, err = landing.Finish(ctx, true)
	require.NoError(t, err)

	cat, err := engine.OpenSQLCatalog(filepath.Join(dir, "catalog.db"), "file://"+filepath.Join(dir, "warehouse"), nil)
	require.NoError(t, err)
	w := engine.New(cat, append(Tables(), notes), engine.Options{})
	t.Cleanup(func() { w.Close() })
	require.NoError(t, w.EnsureTables(ctx))
	assert.Contains(t, w.TableNames(), "silver.notes")

	rep, err := Merge(ctx, w, store, []dates.Date{day}, Options{Zone: dates.UTC}, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"notes": 1}, rep.Quarantined)

	rows, err := engine.ReadRows[note](ctx, w, 0, 0)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, []string{"n1", "first", "n2", "second"}, []string{rows[0].Key, rows[0].Text, rows[1].Key, rows[1].Text})
	assert.Equal(t, "run-1", rows[0].RunID)
	assert.True(t, rows[0].IngestedAt.Equal(at), "the lineage of the bronze line: %v", rows[0].IngestedAt)

	quarantined, err := engine.ReadRows[Quarantined](ctx, w, 0, 0)
	require.NoError(t, err)
	require.Len(t, quarantined, 1)
	assert.Equal(t, "notes", quarantined[0].Stream)
	assert.Equal(t, "a note needs a key", quarantined[0].Reason)
}
