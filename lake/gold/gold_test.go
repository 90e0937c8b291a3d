package gold

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each visitor keeps its latest sighting whatever order they come in; on the same time the
// greater IP and country win, as dim_visitor's version says. What is kept does not change when
// the caller's buffer the strings came from is written over.
func TestVisitorSightingsKeepEachVisitorsLatest(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	buf := []byte("vis_aaa1.1.1.1US")
	from := func() DimVisitor { // the strings are views of buf, as of a scanned batch
		s := unsafe.String(&buf[0], len(buf))
		return DimVisitor{VisitorID: s[:7], IPAddress: s[7:14], Country: s[14:]}
	}
	s := newVisitorSightings()
	see := func(visitor, ip, country string, at time.Time) {
		copy(buf, visitor+ip+country)
		v := from()
		v.LastSeenAt = at
		s.see(v)
	}
	see("vis_aaa", "1.1.1.1", "US", t0)
	see("vis_bbb", "2.2.2.2", "DE", t0.Add(time.Hour))
	see("vis_aaa", "3.3.3.3", "FR", t0.Add(2*time.Hour)) // later: wins
	see("vis_aaa", "4.4.4.4", "GB", t0.Add(time.Hour))   // earlier: loses
	see("vis_bbb", "2.2.2.9", "DE", t0.Add(time.Hour))   // same time, greater IP: wins
	see("vis_bbb", "2.2.2.0", "DE", t0.Add(time.Hour))   // same time, smaller IP: loses
	copy(buf, "xxxxxxxxxxxxxxxx")

	got := slices.Clone(s.latest)
	slices.SortFunc(got, func(a, b DimVisitor) int { return strings.Compare(a.VisitorID, b.VisitorID) })
	assert.Equal(t, []DimVisitor{
		{VisitorID: "vis_aaa", IPAddress: "3.3.3.3", Country: "FR", LastSeenAt: t0.Add(2 * time.Hour)},
		{VisitorID: "vis_bbb", IPAddress: "2.2.2.9", Country: "DE", LastSeenAt: t0.Add(time.Hour)},
	}, got)
}

// A recompute of no dates merges nothing and has no visitors to add.
func TestRecomputeGoldOfNoDates(t *testing.T) {
	rep, err := Recompute(context.Background(), testWarehouse(t), nil, DefaultChannelRules(), nil)
	require.NoError(t, err)
	for _, m := range rep.Merges {
		if m.Table == "gold.fact_media_engagement" || m.Table == "gold.dim_visitor" {
			assert.Zero(t, m.Partitions, m.Table)
		}
	}
}

// A day's plays roll up to one row per (media, visitor), in the table's key order, with the
// counts and ratios worked out by hand below.
func TestEngagementRollsPlaysUpInKeyOrder(t *testing.T) {
	day := dates.Date(20_000)
	de := &dayEvents{day: day, medias: []string{"m-b", "m-a"}, plays: []play{ // first seen is not id order
		{media: 0, visitor: "v2", percent: 0.5},
		{media: 1, visitor: "v9", percent: 0.25},
		{media: 0, visitor: "v1", percent: 1.5}, // capped at 1
		{media: 0, visitor: "v2", percent: 0.25},
		{media: 1, visitor: "v1", percent: 0},
	}}
	duration := map[string]float64{"m-a": 100, "m-b": 40}
	loads := map[mediaDay]int64{{"m-a", day}: 4, {"m-b", day}: 10}

	groups := de.rollUp()
	var got []FactEngagement
	for g := range len(groups) - 1 {
		got = append(got, de.fact(groups[g], groups[g+1], duration, loads))
	}
	want := []FactEngagement{
		{MediaID: "m-a", VisitorID: "v1", Date: day, PlayCount: 1, PlayRate: 0.25, TotalWatchTime: 0, WatchedPercent: 0},
		{MediaID: "m-a", VisitorID: "v9", Date: day, PlayCount: 1, PlayRate: 0.25, TotalWatchTime: 25, WatchedPercent: 0.25},
		{MediaID: "m-b", VisitorID: "v1", Date: day, PlayCount: 1, PlayRate: 0.1, TotalWatchTime: 40, WatchedPercent: 1},
		{MediaID: "m-b", VisitorID: "v2", Date: day, PlayCount: 2, PlayRate: 0.2, TotalWatchTime: 30, WatchedPercent: 0.375},
	}
	assert.Equal(t, want, got)
	for i := 1; i < len(got); i++ {
		assert.Negative(t, engagementTable.Key(&got[i-1], &got[i]), "row %d follows row %d in key order", i, i-1)
	}
}

// testWarehouse is a warehouse of the silver and gold tables in a sqlite catalog under a
// temporary folder.
func testWarehouse(t *testing.T) *engine.Warehouse {
	t.Helper()
	dir := t.TempDir()
	cat, err := engine.OpenSQLCatalog(filepath.Join(dir, "catalog.db"), "file://"+filepath.Join(dir, "warehouse"), nil)
	require.NoError(t, err)
	w := engine.New(cat, append(silver.Tables(), Tables()...), engine.Options{})
	t.Cleanup(func() { w.Close() })
	require.NoError(t, w.EnsureTables(context.Background()))
	return w
}
