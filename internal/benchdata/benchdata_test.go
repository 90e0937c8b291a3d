package benchdata

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// land lands s into a fresh folder and returns the folder and what Land reported.
func land(t *testing.T, s Shape) (string, *bronze.LocalStore, Landed) {
	t.Helper()
	dir := t.TempDir()
	store, err := bronze.NewLocalStore(dir)
	require.NoError(t, err)
	got, err := Land(context.Background(), store, s)
	require.NoError(t, err)
	return dir, store, got
}

// files reads every file under dir, by relative path.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[rel] = string(body)
		return err
	})
	require.NoError(t, err)
	return out
}

func TestLandIsDeterministic(t *testing.T) {
	s := Shape{Events: 5_000, Days: 2, Medias: 3, Visitors: 400, DuplicateShare: 0.03, Seed: 7}
	dirA, _, _ := land(t, s)
	dirB, _, _ := land(t, s)
	a, b := files(t, dirA), files(t, dirB)
	require.NotEmpty(t, a)
	assert.Equal(t, a, b, "the same seed lands the same bytes")

	s.Seed = 8
	dirC, _, _ := land(t, s)
	c := files(t, dirC)
	assert.Equal(t, len(a), len(c), "another seed lands the same objects")
	assert.NotEqual(t, a, c, "with other contents")
}

func TestLandShape(t *testing.T) {
	for name, s := range map[string]Shape{
		"defaults":          NewShape(20_001, 3, 7),
		"few visitors":      {Events: 9_999, Days: 4, Medias: 5, Visitors: 123, DuplicateShare: 0.1, Seed: 3},
		"no duplicates":     {Events: 3_000, Days: 1, Medias: 2, Visitors: 10_000, Seed: 3},
		"more medias":       {Events: 50, Days: 2, Medias: 40, Visitors: 10, DuplicateShare: 0.5, Seed: 1},
		"every one twice":   {Events: 2_500, Days: 2, Medias: 1, Visitors: 100, DuplicateShare: 1, Seed: 2},
		"one page a window": {Events: 1_000, Days: 1, Medias: 1, Visitors: 1, DuplicateShare: 0.03, Seed: 2},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, store, got := land(t, s)
			require.Len(t, got.Days, s.Days)
			wantDups := int(float64(s.Events) * s.DuplicateShare)

			keys, visitors := map[string]int{}, map[string]bool{}
			lines := 0
			for _, day := range got.Days {
				manifests, err := bronze.Manifests(ctx, store, bronze.StreamEvents, day)
				require.NoError(t, err)
				require.Len(t, manifests, s.Medias, "a window per media and day")
				for _, m := range manifests {
					for _, obj := range m.Objects {
						assert.LessOrEqual(t, obj.Records, PageRecords+1)
						for line, err := range bronze.ReadObject(ctx, store, obj) {
							require.NoError(t, err)
							var e struct {
								EventKey   string `json:"event_key"`
								VisitorKey string `json:"visitor_key"`
							}
							require.NoError(t, json.Unmarshal(line.Bytes, &e))
							keys[e.EventKey]++
							visitors[e.VisitorKey] = true
							lines++
						}
					}
				}
			}
			twice := 0
			for _, n := range keys {
				require.LessOrEqual(t, n, 2)
				if n == 2 {
					twice++
				}
			}
			assert.Equal(t, s.Events, len(keys), "distinct events")
			assert.Equal(t, s.Events, got.Events)
			assert.Equal(t, wantDups, twice, "events listed twice")
			assert.Equal(t, s.Events+wantDups, lines)
			assert.Equal(t, lines, got.Records)
			assert.Equal(t, min(s.Events, s.Visitors), len(visitors), "distinct visitors")
			assert.Equal(t, got.Visitors, len(visitors))
		})
	}
}

func TestLandRefusesImpossibleShapes(t *testing.T) {
	store, err := bronze.NewLocalStore(t.TempDir())
	require.NoError(t, err)
	for _, s := range []Shape{
		{Events: 10, Days: 0, Medias: 1, Visitors: 1},
		{Events: 10, Days: 1, Medias: 1, Visitors: 0},
		{Events: 10, Days: 1, Medias: 1, Visitors: 1, DuplicateShare: 1.5},
	} {
		_, err := Land(context.Background(), store, s)
		assert.Error(t, err, "%+v", s)
	}
}
