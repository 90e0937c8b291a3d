package gold

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
	"github.com/marketing-data/wistia-pipeline/lake/silver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// racingCatalog makes the first commit to one table lose a race: just before it goes to the
// catalog, race runs, and commits to that table through another connection.
type racingCatalog struct {
	catalog.Catalog
	target table.Identifier
	race   func(ctx context.Context)
	raced  bool
}

// LoadTable binds the table to this catalog, so that its commits come through CommitTable below.
func (c *racingCatalog) LoadTable(ctx context.Context, ident table.Identifier) (*table.Table, error) {
	tbl, err := c.Catalog.LoadTable(ctx, ident)
	if err != nil {
		return nil, err
	}
	return table.New(ident, tbl.Metadata(), tbl.MetadataLocation(), tbl.FS, c), nil
}

func (c *racingCatalog) CommitTable(ctx context.Context, ident table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	if !c.raced && slices.Equal(ident, c.target) {
		c.raced = true
		c.race(ctx)
	}
	return c.Catalog.CommitTable(ctx, ident, reqs, updates)
}

// A gold merge that loses a commit race is redone from the silver as it is then, not from the
// silver the lost attempt read: every gold table ends up as the latest silver implies.
func TestGoldRecomputeRedoneFromLatestSilver(t *testing.T) {
	t0 := time.Date(2026, 11, 18, 6, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	day := dates.DateOf(t0)
	events := []silver.Event{
		{EventKey: "e1", Date: day, ReceivedAt: t0, MediaID: "m1", VisitorKey: "v1", PercentViewed: 0.5, Lineage: silver.Lineage{IngestedAt: t0, Source: "e#1"}},
		{EventKey: "e2", Date: day, ReceivedAt: t0.Add(time.Minute), MediaID: "m1", VisitorKey: "v1", PercentViewed: 0.25, Lineage: silver.Lineage{IngestedAt: t0, Source: "e#2"}},
		{EventKey: "e3", Date: day, ReceivedAt: t0.Add(2 * time.Minute), MediaID: "m1", VisitorKey: "v2", PercentViewed: 1, Lineage: silver.Lineage{IngestedAt: t0, Source: "e#3"}},
	}
	// The silver a recompute starts from, and what a later silver merge makes of it.
	oldMedia := silver.Media{HashedID: "m1", Name: "Intro", ProjectName: "Facebook Ads", Duration: 100, Created: t0, Lineage: silver.Lineage{IngestedAt: t0, Source: "m#1"}}
	newMedia := silver.Media{HashedID: "m1", Name: "Intro v2", ProjectName: "YT Shorts", Duration: 200, Created: t0, Lineage: silver.Lineage{IngestedAt: t1, Source: "m#1"}}
	oldStat := silver.DailyStat{MediaID: "m1", Date: day, LoadCount: 10, PlayCount: 4, HoursWatched: 1, Lineage: silver.Lineage{IngestedAt: t0, Source: "s#1"}}
	newStat := silver.DailyStat{MediaID: "m1", Date: day, LoadCount: 20, PlayCount: 5, HoursWatched: 2, Lineage: silver.Lineage{IngestedAt: t1, Source: "s#1"}}

	// What the new silver implies, worked by hand: duration 200 s, 20 loads that day.
	wantDim := []DimMedia{{MediaID: "m1", Title: "Intro v2", URL: "https://home.wistia.com/medias/m1", Channel: "YouTube",
		CreatedAt: t0, Project: "YT Shorts", Duration: 200}}
	wantDaily := []FactMediaDaily{{MediaID: "m1", Date: day, LoadCount: 20, PlayCount: 5, PlayRate: 0.25, HoursWatched: 2}}
	wantEngagement := []FactEngagement{
		// v1: 2 plays of 0.5 and 0.25 → 0.75 × 200 s = 150 s; 150 / (2 × 200) = 0.375; 2 / 20 loads.
		{MediaID: "m1", VisitorID: "v1", Date: day, PlayCount: 2, PlayRate: 0.1, TotalWatchTime: 150, WatchedPercent: 0.375},
		// v2: 1 play of the whole media → 200 s; 1 / 20 loads.
		{MediaID: "m1", VisitorID: "v2", Date: day, PlayCount: 1, PlayRate: 0.05, TotalWatchTime: 200, WatchedPercent: 1},
	}

	for _, target := range []engine.Info{dimMediaTable, mediaDailyTable, engagementTable} {
		t.Run(target.TableName(), func(t *testing.T) {
			ctx := context.Background()
			w := testWarehouse(t)
			mergeSilver := func(m silver.Media, s silver.DailyStat) {
				_, err := engine.MergeGrouped(ctx, w, silver.MediaTable, engine.Upsert, nil, engine.ByPartition(silver.MediaTable, []silver.Media{m}))
				require.NoError(t, err)
				_, err = engine.MergeGrouped(ctx, w, silver.DailyStatsTable, engine.Upsert, nil, engine.ByPartition(silver.DailyStatsTable, []silver.DailyStat{s}))
				require.NoError(t, err)
			}
			mergeSilver(oldMedia, oldStat)
			_, err := engine.MergeGrouped(ctx, w, silver.EventsTable, engine.Upsert, nil, engine.ByPartition(silver.EventsTable, slices.Clone(events)))
			require.NoError(t, err)

			// While this recompute's merge into target is between its read and its commit, silver
			// changes and another worker recomputes gold from it, winning the commit race.
			racer := &racingCatalog{Catalog: w.Catalog(), target: w.Identifier(target), race: func(ctx context.Context) {
				mergeSilver(newMedia, newStat)
				_, err := Recompute(ctx, w, []dates.Date{day}, DefaultChannelRules(), nil)
				require.NoError(t, err)
			}}
			rep, err := Recompute(ctx, engine.New(racer, w.Tables(), engine.Options{}), []dates.Date{day}, DefaultChannelRules(), nil)
			require.NoError(t, err)
			require.True(t, racer.raced)
			for _, m := range rep.Merges {
				if m.Table == target.TableName() {
					assert.Equal(t, 2, m.Attempts, "the first commit lost the race")
				}
			}

			dim, err := engine.CollectRows(ctx, w, dimMediaTable, iceberg.AlwaysTrue{})
			require.NoError(t, err)
			assert.Equal(t, wantDim, dim)
			daily, err := engine.CollectRows(ctx, w, mediaDailyTable, iceberg.AlwaysTrue{})
			require.NoError(t, err)
			assert.Equal(t, wantDaily, daily)
			engagement, err := engine.ReadRows[FactEngagement](ctx, w, 0, 0)
			require.NoError(t, err)
			assert.Equal(t, wantEngagement, engagement)
		})
	}
}
