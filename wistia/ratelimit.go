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
	sent        []time.Time // ring of the last limit reserved start times, oldest at head
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

// Wait blocks until a request may start, or until ctx is done.
func (l *Limiter) Wait(ctx context.Context) error {
	now := l.now()
	at := l.reserve(now)
	delay := at.Sub(now)
	if delay <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
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

// reserve books the earliest start time at or after now that keeps the budget, and returns it.
// Booked times never decrease, so the ring's head is always the oldest booking.
func (l *Limiter) reserve(now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := now
	if oldest := l.sent[l.head]; !oldest.IsZero() {
		if free := oldest.Add(l.window); free.After(at) {
			at = free
		}
	}
	if l.pausedUntil.After(at) {
		at = l.pausedUntil
	}
	l.sent[l.head] = at
	l.head = (l.head + 1) % l.limit
	return at
}
