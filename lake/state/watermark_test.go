package state

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
)

// dynamoClient is a DynamoDB client of a dynalite server, made as in production: credentials
// through the default chain (the environment here).
func dynamoClient(t *testing.T, ddb *testenv.DynamoDB) *dynamodb.Client {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion("us-east-1"))
	require.NoError(t, err)
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(ddb.Endpoint) })
}

// watermarkStores returns one of each Store implementation, backed by real servers.
func watermarkStores(t *testing.T) map[string]Store {
	t.Helper()
	ctx := context.Background()
	sqlite, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "wm.db"))
	require.NoError(t, err)
	t.Cleanup(func() { sqlite.Close() })

	ddb := testenv.StartDynamoDB(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	client := dynamoClient(t, ddb)
	require.NoError(t, EnsureDynamoTable(ctx, client, "watermarks"))
	return map[string]Store{"sqlite": sqlite, "dynamodb": NewDynamo(client, "watermarks")}
}

func day(n int) dates.Date {
	return dates.DateOf(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)).AddDays(n)
}

func TestWatermarkContract(t *testing.T) {
	ctx := context.Background()
	for name, wm := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			key := WatermarkKey{Account: "acct", Stream: "events", Media: "m1"}
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

			for _, earlier := range []dates.Date{day(4), day(5)} {
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

			other := WatermarkKey{Account: "acct", Stream: "events", Media: "m2"}
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
			key := WatermarkKey{Account: "acct", Stream: "events", Media: "race"}
			var (
				wg      sync.WaitGroup
				maxDay  atomic.Int64
				stop    = make(chan struct{})
				readErr = make(chan string, 1)
			)
			go func() {
				var last dates.Date
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
					if ok && w.Day < last {
						readErr <- "watermark went down from " + last.String() + " to " + w.Day.String()
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

func TestEnsureDynamoTableIsIdempotent(t *testing.T) {
	ctx := context.Background()
	client := dynamoClient(t, testenv.StartDynamoDB(t))
	require.NoError(t, EnsureDynamoTable(ctx, client, "twice"))
	require.NoError(t, EnsureDynamoTable(ctx, client, "twice"))
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("twice")})
	require.NoError(t, err)
	assert.Equal(t, "ACTIVE", string(out.Table.TableStatus))
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
			// The takers stop once they have used the budget twice over: enough grants for the
			// windows to be checked whatever the machine's speed (the timeout only bounds a store
			// that stopped answering).
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
							if len(times) >= 2*limit {
								cancel()
							}
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
