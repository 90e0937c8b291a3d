package lake

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
)

// watermarkStores returns one of each Watermarks implementation, backed by real servers.
func watermarkStores(t *testing.T) map[string]Watermarks {
	t.Helper()
	ctx := context.Background()
	sqlite, err := OpenSQLiteWatermarks(ctx, filepath.Join(t.TempDir(), "wm.db"))
	require.NoError(t, err)
	t.Cleanup(func() { sqlite.Close() })

	ddb := testenv.StartDynamoDB(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	cfg := Config{DataDir: t.TempDir(), Account: "acct", AWSRegion: "us-east-1",
		WatermarksURL: "dynamodb://watermarks", DynamoDBEndpoint: ddb.Endpoint, DynamoDBCreateTable: true}
	dynamo, err := cfg.OpenWatermarks(ctx)
	require.NoError(t, err)
	return map[string]Watermarks{"sqlite": sqlite, "dynamodb": dynamo}
}

func day(n int) time.Time { return dates.AddDays(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), n) }

func TestWatermarkContract(t *testing.T) {
	ctx := context.Background()
	for name, wm := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			key := WatermarkKey{Account: "acct", Stream: bronze.StreamEvents, Media: "m1"}
			_, ok, err := wm.Get(ctx, key)
			require.NoError(t, err)
			assert.False(t, ok, "no watermark yet")

			at := time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)
			moved, err := wm.Advance(ctx, key, Watermark{Day: day(5), RunID: "run-a", UpdatedAt: at})
			require.NoError(t, err)
			assert.True(t, moved)
			got, ok, err := wm.Get(ctx, key)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, Watermark{Day: day(5), RunID: "run-a", UpdatedAt: at}, got)

			for _, earlier := range []time.Time{day(4), day(5)} {
				moved, err = wm.Advance(ctx, key, Watermark{Day: earlier, RunID: "run-old", UpdatedAt: at})
				require.NoError(t, err)
				assert.False(t, moved, "never moves back or sideways")
			}
			got, _, err = wm.Get(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, "run-a", got.RunID)

			moved, err = wm.Advance(ctx, key, Watermark{Day: day(40), RunID: "run-b", UpdatedAt: at})
			require.NoError(t, err)
			assert.True(t, moved, "a month boundary still orders right")

			other := WatermarkKey{Account: "acct", Stream: bronze.StreamEvents, Media: "m2"}
			_, ok, err = wm.Get(ctx, other)
			require.NoError(t, err)
			assert.False(t, ok, "keys are independent")
		})
	}
}

// TestWatermarkRace has 16 writers racing set-if-greater with random days while a reader
// polls: the final value is the maximum written and no read ever goes down.
func TestWatermarkRace(t *testing.T) {
	ctx := context.Background()
	for name, wm := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			key := WatermarkKey{Account: "acct", Stream: bronze.StreamEvents, Media: "race"}
			var (
				wg      sync.WaitGroup
				maxDay  atomic.Int64
				stop    = make(chan struct{})
				readErr = make(chan string, 1)
			)
			go func() {
				var last time.Time
				for {
					select {
					case <-stop:
						close(readErr)
						return
					default:
					}
					w, ok, err := wm.Get(ctx, key)
					if err != nil {
						readErr <- err.Error()
						close(readErr)
						return
					}
					if ok && w.Day.Before(last) {
						readErr <- "watermark went down from " + dates.Format(last) + " to " + dates.Format(w.Day)
						close(readErr)
						return
					}
					if ok {
						last = w.Day
					}
				}
			}()
			for g := range 16 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(g), 99))
					for range 15 {
						n := rng.IntN(365)
						for cur := maxDay.Load(); int64(n) > cur && !maxDay.CompareAndSwap(cur, int64(n)); cur = maxDay.Load() {
						}
						_, err := wm.Advance(ctx, key, Watermark{Day: day(n), RunID: "r", UpdatedAt: time.Now()})
						assert.NoError(t, err)
					}
				})
			}
			wg.Wait()
			close(stop)
			for msg := range readErr {
				t.Error(msg)
			}
			got, ok, err := wm.Get(ctx, key)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, day(int(maxDay.Load())), got.Day)
		})
	}
}

func TestEnsureWatermarkTableIsIdempotent(t *testing.T) {
	ctx := context.Background()
	ddb := testenv.StartDynamoDB(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	cfg := Config{AWSRegion: "us-east-1"}
	awsCfg, err := cfg.AWS(ctx)
	require.NoError(t, err)
	client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ddb.Endpoint) })
	require.NoError(t, EnsureWatermarkTable(ctx, client, "twice"))
	require.NoError(t, EnsureWatermarkTable(ctx, client, "twice"))
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("twice")})
	require.NoError(t, err)
	assert.Equal(t, "ACTIVE", string(out.Table.TableStatus))
}

func TestWindowPolicy(t *testing.T) {
	now := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	target := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	d := func(s string) time.Time { t, _ := dates.Parse(s); return t }
	cases := []struct {
		name       string
		policy     CatchUpPolicy
		mark       *Watermark
		start, end string
		ok         bool
	}{
		{"watermark minus lookback", CatchUpPolicy{LookbackDays: 2}, &Watermark{Day: d("2026-11-23")}, "2026-11-21", "2026-11-24", true},
		{"caught up still re-reads the lookback", CatchUpPolicy{LookbackDays: 2}, &Watermark{Day: d("2026-11-24")}, "2026-11-22", "2026-11-24", true},
		{"no lookback", CatchUpPolicy{}, &Watermark{Day: d("2026-11-20")}, "2026-11-20", "2026-11-24", true},
		{"no watermark: configured first day", CatchUpPolicy{LookbackDays: 2, FirstDay: d("2026-10-01")}, nil, "2026-10-01", "2026-11-24", true},
		{"no watermark, no first day: 30 days", CatchUpPolicy{LookbackDays: 2}, nil, "2026-10-25", "2026-11-24", true},
		{"clamped to the 2-year retention", CatchUpPolicy{FirstDay: d("2020-01-01")}, nil, "2024-11-26", "2026-11-24", true},
		{"watermark ahead of the target", CatchUpPolicy{LookbackDays: 2}, &Watermark{Day: d("2026-11-30")}, "2026-11-28", "2026-11-24", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mark Watermark
			if c.mark != nil {
				mark = *c.mark
			}
			start, end, ok := c.policy.Range(mark, c.mark != nil, target, now)
			assert.Equal(t, c.start, dates.Format(start))
			assert.Equal(t, c.end, dates.Format(end))
			assert.Equal(t, c.ok, ok)
		})
	}
}

// Many takers sharing one store never put more than the limit into any window of the period.
func TestSharedBudgetHoldsAcrossTakers(t *testing.T) {
	for name, marks := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			const limit, period = 66, 2 * time.Second // 3 per 100 ms slot
			var (
				mu    sync.Mutex
				times []time.Time
			)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for range 3 { // three "workers", each with its own budget object
				b, err := NewSharedBudget(marks, "acct", limit, period)
				require.NoError(t, err)
				for range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for b.Take(ctx) == nil {
							mu.Lock()
							times = append(times, time.Now())
							mu.Unlock()
						}
					}()
				}
			}
			wg.Wait()
			slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
			require.Greater(t, len(times), limit, "the budget was used")
			for i := range times {
				j, _ := slices.BinarySearchFunc(times, times[i].Add(period), func(a, b time.Time) int { return a.Compare(b) })
				assert.LessOrEqual(t, j-i, limit, "requests in the window starting at request %d", i)
			}
		})
	}
}
