package state

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// A lease is a lock with an expiry, so a worker that dies without releasing blocks others for at
// most one ttl. Expiry is judged by the clock of the worker asking, so the ttl must be far longer
// than the skew between workers' clocks.

// releaseTimeout bounds the best-effort release, which runs on a fresh context.
const releaseTimeout = 5 * time.Second

// Lease is a lease HoldLease holds and renews.
type Lease struct {
	lost <-chan struct{}
	stop func(free bool)
}

// Lost is closed when a renewal finds the lease taken by someone else, or renewals failed for
// longer than its ttl: the holder must stop the work the lease guards.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Release stops renewing and frees the lease (best effort, with a short fresh context, so it
// works after the holder's context was cancelled). It may be called more than once.
func (l *Lease) Release() { l.stop(true) }

// Leave stops renewing and leaves the lease held until its ttl runs out, so that other holders
// under the same owner (the other activities of one workflow run) keep others out between
// them; the last of them releases it.
func (l *Lease) Leave() { l.stop(false) }

// HoldLease waits until owner holds the named lease (polling every poll, returning ctx's error if
// ctx ends first), then renews it every ttl/3 in a goroutine until it is released or left.
func HoldLease(ctx context.Context, l Leases, name, owner string, ttl, poll time.Duration) (*Lease, error) {
	every := ttl / 3
	if every <= 0 || poll <= 0 {
		return nil, fmt.Errorf("hold lease %s: ttl %v and poll %v must be positive", name, ttl, poll)
	}
	// held is when the last successful acquire started: the lease is ours until held+ttl at least.
	var held time.Time
	for {
		held = time.Now()
		ok, err := l.AcquireLease(ctx, name, owner, ttl)
		if err != nil && ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(poll):
		}
	}

	lostCh := make(chan struct{})
	stop := make(chan struct{})
	done := make(chan struct{})
	// Renewals outlive ctx's cancellation: the caller decides when to stop, by calling release.
	bg := context.WithoutCancel(ctx)
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			start := time.Now()
			rctx, cancel := context.WithTimeout(bg, every)
			ok, err := l.AcquireLease(rctx, name, owner, ttl)
			cancel()
			switch {
			case err == nil && ok:
				held = start
			case err == nil:
				close(lostCh) // someone else took it after it expired
				return
			case time.Since(held) > ttl:
				close(lostCh) // it may have expired and been taken without our knowing
				return
			}
		}
	}()

	var once sync.Once
	stopRenewing := func(free bool) {
		once.Do(func() {
			close(stop)
			<-done
			if !free {
				return
			}
			rctx, cancel := context.WithTimeout(bg, releaseTimeout)
			defer cancel()
			// Best effort: a lease not released expires after ttl.
			_ = l.ReleaseLease(rctx, name, owner)
		})
	}
	return &Lease{lost: lostCh, stop: stopRenewing}, nil
}
