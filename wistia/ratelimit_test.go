package wistia

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertBudget checks that no window of the given length holds more than limit start times.
func assertBudget(t *testing.T, starts []time.Time, limit int, window time.Duration) {
	t.Helper()
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	for i := limit; i < len(starts); i++ {
		gap := starts[i].Sub(starts[i-limit])
		require.GreaterOrEqualf(t, gap, window, "requests %d and %d start %s apart: %d requests inside one window", i-limit, i, gap, limit+1)
	}
}

// fakeClock drives a limiter without sleeping: acquire advances it by each wait.
type fakeClock struct{ now time.Time }

func withFakeClock(l *Limiter, start time.Time) *fakeClock {
	c := &fakeClock{now: start}
	l.now = func() time.Time { return c.now }
	return c
}

// acquire takes a slot, moving the fake clock forward as long as the limiter asks to wait.
func (c *fakeClock) acquire(l *Limiter) time.Time {
	for {
		at, wait := l.tryAcquire()
		if wait <= 0 {
			return at
		}
		c.now = c.now.Add(wait)
	}
}

func TestLimiterBurstsThenSpaces(t *testing.T) {
	l, err := NewLimiter(3, time.Second)
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := withFakeClock(l, t0)
	window := time.Second + time.Second/guardShare

	var got []time.Time
	for range 7 {
		got = append(got, clock.acquire(l))
	}
	want := []time.Time{t0, t0, t0, t0.Add(window), t0.Add(window), t0.Add(window), t0.Add(2 * window)}
	assert.Equal(t, want, got)
}

func TestLimiterNeverExceedsBudget(t *testing.T) {
	const limit = 10
	l, err := NewLimiter(limit, time.Second)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	clock := withFakeClock(l, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var starts []time.Time
	for range 2000 {
		clock.now = clock.now.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
		starts = append(starts, clock.acquire(l))
	}
	assertBudget(t, starts, limit, time.Second)
}

func TestLimiterSustainedRateApproachesBudget(t *testing.T) {
	const limit = 600
	l, err := NewLimiter(limit, time.Minute)
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := withFakeClock(l, t0)
	var last time.Time
	const n = 6000
	for range n {
		last = clock.acquire(l)
	}
	// 6000 requests at 600/min with a 2% guard: the last starts 9 guarded windows after the first.
	assert.Equal(t, t0.Add(9*(time.Minute+time.Minute/guardShare)), last)
}

func TestLimiterPauseUntil(t *testing.T) {
	l, err := NewLimiter(100, time.Second)
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := withFakeClock(l, t0)
	l.PauseUntil(t0.Add(5 * time.Second))
	l.PauseUntil(t0.Add(time.Second)) // an earlier pause does not shorten the current one
	assert.Equal(t, t0.Add(5*time.Second), clock.acquire(l))
}

func TestLimiterConcurrentUse(t *testing.T) {
	const limit = 20
	l, err := NewLimiter(limit, 50*time.Millisecond)
	require.NoError(t, err)
	var (
		mu     sync.Mutex
		starts []time.Time
		wg     sync.WaitGroup
	)
	for range 16 {
		wg.Go(func() {
			for range 10 {
				var at time.Time
				for wait := time.Duration(1); wait > 0; {
					if at, wait = l.tryAcquire(); wait > 0 {
						time.Sleep(wait)
					}
				}
				mu.Lock()
				starts = append(starts, at)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, starts, 160)
	assertBudget(t, starts, limit, 50*time.Millisecond)
}

func TestLimiterWaitHonoursContext(t *testing.T) {
	l, err := NewLimiter(1, time.Hour)
	require.NoError(t, err)
	require.NoError(t, l.Wait(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, l.Wait(ctx), context.Canceled)
}

func TestNewLimiterRejectsNonsense(t *testing.T) {
	_, err := NewLimiter(0, time.Minute)
	assert.Error(t, err)
	_, err = NewLimiter(10, 0)
	assert.Error(t, err)
}
