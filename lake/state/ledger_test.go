package state

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLedgerPendingRoundTrip(t *testing.T) {
	ctx := context.Background()
	for name, wm := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			got, err := wm.Pending(ctx, "acct")
			require.NoError(t, err)
			assert.Empty(t, got, "nothing pending yet")

			require.NoError(t, wm.MarkPending(ctx, "acct", []dates.Date{day(23), day(21), day(21)}))
			got, err = wm.Pending(ctx, "acct")
			require.NoError(t, err)
			assert.Equal(t, []PendingDay{{testenv.Day("2026-11-22"), 1}, {testenv.Day("2026-11-24"), 1}}, got, "a day given twice in one call counts once")

			lateInDay := dates.DateOf(time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)) // the day of an instant late in it
			require.NoError(t, wm.MarkPending(ctx, "acct", []dates.Date{day(30), day(23), lateInDay}))
			got, err = wm.Pending(ctx, "acct")
			require.NoError(t, err)
			want := []PendingDay{{testenv.Day("2026-11-22"), 1}, {testenv.Day("2026-11-24"), 2}, {testenv.Day("2026-11-30"), 1}, {testenv.Day("2026-12-01"), 1}}
			assert.Equal(t, want, got)

			require.NoError(t, wm.MarkPending(ctx, "acct", nil))
			n, err := wm.ClearPending(ctx, "acct", nil)
			require.NoError(t, err)
			assert.Zero(t, n, "empty calls change nothing")

			n, err = wm.ClearPending(ctx, "acct", want)
			require.NoError(t, err)
			assert.Equal(t, 4, n)
			got, err = wm.Pending(ctx, "acct")
			require.NoError(t, err)
			assert.Empty(t, got)

			n, err = wm.ClearPending(ctx, "acct", want)
			require.NoError(t, err)
			assert.Zero(t, n, "clearing days no longer pending removes nothing")
		})
	}
}

func TestLedgerClearKeepsDaysMarkedAgain(t *testing.T) {
	ctx := context.Background()
	for name, wm := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, wm.MarkPending(ctx, "acct", []dates.Date{day(3), day(4)}))
			read, err := wm.Pending(ctx, "acct")
			require.NoError(t, err)
			require.Equal(t, []PendingDay{{testenv.Day("2026-11-04"), 1}, {testenv.Day("2026-11-05"), 1}}, read)

			// Bronze lands again for 2026-11-04 while the merge of what was read runs.
			require.NoError(t, wm.MarkPending(ctx, "acct", []dates.Date{day(3)}))

			n, err := wm.ClearPending(ctx, "acct", read)
			require.NoError(t, err)
			assert.Equal(t, 1, n, "only the day unchanged since the read is cleared")
			got, err := wm.Pending(ctx, "acct")
			require.NoError(t, err)
			assert.Equal(t, []PendingDay{{testenv.Day("2026-11-04"), 2}}, got)

			n, err = wm.ClearPending(ctx, "acct", got)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			got, err = wm.Pending(ctx, "acct")
			require.NoError(t, err)
			assert.Empty(t, got)
		})
	}
}

func TestLedgerAccountsAreSeparate(t *testing.T) {
	ctx := context.Background()
	for name, wm := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, wm.MarkPending(ctx, "acct-a", []dates.Date{day(1)}))
			require.NoError(t, wm.MarkPending(ctx, "acct-b", []dates.Date{day(1), day(2)}))

			n, err := wm.ClearPending(ctx, "acct-b", []PendingDay{{testenv.Day("2026-11-02"), 1}})
			require.NoError(t, err)
			assert.Equal(t, 1, n)

			a, err := wm.Pending(ctx, "acct-a")
			require.NoError(t, err)
			assert.Equal(t, []PendingDay{{testenv.Day("2026-11-02"), 1}}, a, "clearing acct-b leaves acct-a's day")
			b, err := wm.Pending(ctx, "acct-b")
			require.NoError(t, err)
			assert.Equal(t, []PendingDay{{testenv.Day("2026-11-03"), 1}}, b)
		})
	}
}

func TestLedgerMarkPendingCountsEveryLanding(t *testing.T) {
	ctx := context.Background()
	for name, wm := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			const writers, marks = 8, 10
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for range marks {
						assert.NoError(t, wm.MarkPending(ctx, "acct", []dates.Date{day(0), day(1)}))
					}
				})
			}
			wg.Wait()
			got, err := wm.Pending(ctx, "acct")
			require.NoError(t, err)
			assert.Equal(t, []PendingDay{{testenv.Day("2026-11-01"), writers * marks}, {testenv.Day("2026-11-02"), writers * marks}}, got)
		})
	}
}

// acquireEventually waits until owner gets the lease, failing the test after 10 seconds.
func acquireEventually(t *testing.T, l Leases, name, owner string, ttl time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		ok, err := l.AcquireLease(context.Background(), name, owner, ttl)
		assert.NoError(t, err)
		return ok
	}, 10*time.Second, 10*time.Millisecond, "%s never got lease %s", owner, name)
}

func TestLeaseAcquireAndRelease(t *testing.T) {
	ctx := context.Background()
	for name, wm := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			cases := []struct {
				name string
				run  func(t *testing.T, lease string)
			}{
				{"refused while held, granted after release", func(t *testing.T, lease string) {
					ok, err := wm.AcquireLease(ctx, lease, "a", time.Minute)
					require.NoError(t, err)
					require.True(t, ok, "a free lease is granted")
					ok, err = wm.AcquireLease(ctx, lease, "b", time.Minute)
					require.NoError(t, err)
					assert.False(t, ok, "b is refused while a holds it")

					require.NoError(t, wm.ReleaseLease(ctx, lease, "b"), "releasing a lease one does not hold is not an error")
					ok, err = wm.AcquireLease(ctx, lease, "b", time.Minute)
					require.NoError(t, err)
					assert.False(t, ok, "b's release did not free a's lease")

					require.NoError(t, wm.ReleaseLease(ctx, lease, "a"))
					ok, err = wm.AcquireLease(ctx, lease, "b", time.Minute)
					require.NoError(t, err)
					assert.True(t, ok, "b gets it once a released it")
					require.NoError(t, wm.ReleaseLease(ctx, lease, "a"), "releasing twice is not an error")
				}},
				{"granted after expiry", func(t *testing.T, lease string) {
					ok, err := wm.AcquireLease(ctx, lease, "a", 300*time.Millisecond)
					require.NoError(t, err)
					require.True(t, ok)
					acquireEventually(t, wm, lease, "b", time.Minute)
					ok, err = wm.AcquireLease(ctx, lease, "a", time.Minute)
					require.NoError(t, err)
					assert.False(t, ok, "a lost it to b")
				}},
				{"owner renews its own", func(t *testing.T, lease string) {
					probe := lease + "-probe"
					ok, err := wm.AcquireLease(ctx, lease, "a", 300*time.Millisecond)
					require.NoError(t, err)
					require.True(t, ok)
					ok, err = wm.AcquireLease(ctx, probe, "a", 300*time.Millisecond)
					require.NoError(t, err)
					require.True(t, ok)
					ok, err = wm.AcquireLease(ctx, lease, "a", time.Minute)
					require.NoError(t, err)
					require.True(t, ok, "a renews the lease it holds")

					// Once the probe, taken after the lease's first 300 ms term began, has
					// expired, so has that term: only the renewal keeps b out.
					acquireEventually(t, wm, probe, "b", time.Minute)
					ok, err = wm.AcquireLease(ctx, lease, "b", time.Minute)
					require.NoError(t, err)
					assert.False(t, ok, "the renewal extended a's lease")
				}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, "lease#acct#"+c.name) })
			}
		})
	}
}

func TestHoldLeaseIsExclusive(t *testing.T) {
	for name, wm := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const rounds = 5
			var (
				holders, most atomic.Int32
				wg            sync.WaitGroup
				owners        = []string{"a", "b", "c"}
				got           = make([]atomic.Int32, len(owners))
			)
			for i, owner := range owners {
				wg.Go(func() {
					for range rounds {
						lease, err := HoldLease(ctx, wm, "transform#acct", owner, 5*time.Second, 5*time.Millisecond)
						if !assert.NoError(t, err) {
							return
						}
						n := holders.Add(1)
						for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
						}
						got[i].Add(1)
						time.Sleep(2 * time.Millisecond) // hold it while the others poll
						select {
						case <-lease.Lost():
							t.Errorf("%s lost a lease nobody could take", owner)
						default:
						}
						holders.Add(-1)
						lease.Release()
					}
				})
			}
			wg.Wait()
			assert.Equal(t, int32(1), most.Load(), "never more than one holder at once")
			for i, owner := range owners {
				assert.Equal(t, int32(rounds), got[i].Load(), "%s got the lease every time it asked", owner)
			}
		})
	}
}

// Modes of flakyRenewals.
const (
	renewNormally int32 = iota
	renewStalled        // renewals report success without reaching the store, like a paused process
	renewFailing        // renewals fail
)

// flakyRenewals stands between HoldLease and a store to stall or break its renewals.
type flakyRenewals struct {
	Leases
	mode atomic.Int32
}

func (f *flakyRenewals) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	switch f.mode.Load() {
	case renewStalled:
		return true, nil
	case renewFailing:
		return false, errors.New("store unreachable")
	}
	return f.Leases.AcquireLease(ctx, name, owner, ttl)
}

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestHoldLeaseLost(t *testing.T) {
	ctx := context.Background()
	for name, wm := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("taken by another owner after it expired", func(t *testing.T) {
				flaky := &flakyRenewals{Leases: wm}
				lease, err := HoldLease(ctx, flaky, "steal", "a", 300*time.Millisecond, 10*time.Millisecond)
				require.NoError(t, err)
				defer lease.Release()
				flaky.mode.Store(renewStalled)
				acquireEventually(t, wm, "steal", "b", time.Minute)

				flaky.mode.Store(renewNormally)
				require.Eventually(t, func() bool { return closed(lease.Lost()) }, 10*time.Second, 10*time.Millisecond,
					"a's next renewal finds b holding the lease")
				lease.Release()
				ok, err := wm.AcquireLease(ctx, "steal", "c", time.Minute)
				require.NoError(t, err)
				assert.False(t, ok, "a's release left b's lease alone")
			})
			t.Run("renewals failing for longer than ttl", func(t *testing.T) {
				flaky := &flakyRenewals{Leases: wm}
				lease, err := HoldLease(ctx, flaky, "unreachable", "a", 300*time.Millisecond, 10*time.Millisecond)
				require.NoError(t, err)
				defer lease.Release()
				flaky.mode.Store(renewFailing)
				require.Eventually(t, func() bool { return closed(lease.Lost()) }, 10*time.Second, 10*time.Millisecond)
			})
			t.Run("waiting ends with ctx", func(t *testing.T) {
				ok, err := wm.AcquireLease(ctx, "busy", "a", time.Minute)
				require.NoError(t, err)
				require.True(t, ok)
				wait, cancel := context.WithCancelCause(ctx)
				stop := errors.New("run cancelled")
				// Whether b is mid-attempt or between polls when this fires, it returns ctx's cause.
				time.AfterFunc(50*time.Millisecond, func() { cancel(stop) })
				_, err = HoldLease(wait, wm, "busy", "b", time.Minute, 10*time.Millisecond)
				assert.ErrorIs(t, err, stop)
			})
		})
	}
}

func TestLeftLeaseKeepsOthersOutUntilItExpires(t *testing.T) {
	ctx := context.Background()
	for name, wm := range watermarkStores(t) {
		t.Run(name, func(t *testing.T) {
			lease, err := HoldLease(ctx, wm, "shared", "run-1", 500*time.Millisecond, 10*time.Millisecond)
			require.NoError(t, err)
			lease.Leave()
			ok, err := wm.AcquireLease(ctx, "shared", "run-2", time.Minute)
			require.NoError(t, err)
			assert.False(t, ok, "a left lease still keeps another owner out")

			again, err := HoldLease(ctx, wm, "shared", "run-1", 500*time.Millisecond, 10*time.Millisecond)
			require.NoError(t, err, "the same owner takes it on at once")
			again.Release()
			ok, err = wm.AcquireLease(ctx, "shared", "run-2", time.Minute)
			require.NoError(t, err)
			assert.True(t, ok, "released, it is free")

			left, err := HoldLease(ctx, wm, "expiring", "run-1", 300*time.Millisecond, 10*time.Millisecond)
			require.NoError(t, err)
			left.Leave()
			acquireEventually(t, wm, "expiring", "run-2", time.Minute) // once its ttl ran out
		})
	}
}
