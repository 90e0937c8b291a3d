package wistia

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// guardShare widens the limiter's window beyond the budget's period so that network jitter
// (a request sent on time but delivered early relative to an older one) cannot push the server's
// count over the budget. It costs 2% of throughput.
const guardShare = 50

// Limiter holds a request budget of Limit requests per Period: it lets no more than Limit
// requests start in any window of Period plus a small guard. It allows bursts up to the budget,
// which is how Wistia counts ("600 requests per minute"), and is safe for concurrent use.
type Limiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu          sync.Mutex
	sent        []time.Time // ring of the last limit start times, oldest at head
	head        int
	pausedUntil time.Time
}

// NewLimiter returns a limiter for limit requests per period.
func NewLimiter(limit int, period time.Duration) (*Limiter, error) {
	if limit <= 0 || period <= 0 {
		return nil, fmt.Errorf("rate limit %d per %s: both must be positive", limit, period)
	}
	return &Limiter{
		limit:  limit,
		window: period + period/guardShare,
		now:    time.Now,
		sent:   make([]time.Time, limit),
	}, nil
}

// Wait blocks until a request may start, or until ctx is done. A slot is taken only at the
// moment the request may go, so a waiter that wakes late cannot crowd the next window.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err // a cancelled request takes no slot
		}
		_, wait := l.tryAcquire()
		if wait <= 0 {
			return ctx.Err()
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
}

// PauseUntil holds every request back until t, for when the server says the budget is spent.
func (l *Limiter) PauseUntil(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.pausedUntil) {
		l.pausedUntil = t
	}
}

// tryAcquire takes a slot now if the budget allows and returns its time, or returns how long
// to wait before trying again. The clock is read under the lock, so the ring of start times
// stays in order and its head is always the oldest.
func (l *Limiter) tryAcquire() (time.Time, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	free := l.pausedUntil
	if oldest := l.sent[l.head]; !oldest.IsZero() {
		if next := oldest.Add(l.window); next.After(free) {
			free = next
		}
	}
	if free.After(now) {
		return time.Time{}, free.Sub(now)
	}
	l.sent[l.head] = now
	l.head = (l.head + 1) % l.limit
	return now, 0
}
