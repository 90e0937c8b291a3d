package state

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// The Wistia budget (600 requests a minute per account) must hold across every worker, not
// per worker. SharedBudget counts requests in slots of period/budgetSlots in the watermark
// store, with an atomic increment that refuses to pass the slot's cap. Any window of one
// period overlaps at most budgetSlots+1 slots; one more slot of margin covers the moment
// between a grant and its request reaching the server. With cap = limit/(budgetSlots+2) no
// window holds more than limit requests, however many workers share the store. The price is
// about a tenth of the budget left unused.
const budgetSlots = 20

// SharedBudget is a request budget shared by every process using the same store and account.
type SharedBudget struct {
	store   Counters
	account string
	slot    time.Duration
	cap     int
	now     func() time.Time
}

// NewSharedBudget shares limit requests per period among all users of the counters (the sqlite
// or DynamoDB state store) for one account.
func NewSharedBudget(store Counters, account string, limit int, period time.Duration) (*SharedBudget, error) {
	slot := period / budgetSlots
	if slot <= 0 || limit < budgetSlots+2 {
		return nil, fmt.Errorf("a shared budget needs at least %d requests per period and a period of %d ns or more", budgetSlots+2, budgetSlots)
	}
	return &SharedBudget{store: store, account: account, slot: slot, cap: limit / (budgetSlots + 2), now: time.Now}, nil
}

// Take waits until a request fits in the budget and counts it.
func (b *SharedBudget) Take(ctx context.Context) error {
	for {
		now := b.now()
		n := now.UnixNano() / int64(b.slot)
		end := time.Unix(0, (n+1)*int64(b.slot))
		ok, err := b.store.IncrementBelow(ctx, b.account+"#budget#"+strconv.FormatInt(n, 10), b.cap, end.Add(time.Hour))
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		// The slot is full: wait for the next one, spread out so workers do not stampede.
		wait := end.Sub(now) + time.Duration(rand.Int64N(int64(b.slot)/4+1))
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(wait):
		}
	}
}
