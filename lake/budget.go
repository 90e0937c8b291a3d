package lake

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The Wistia budget (600 requests a minute per account) must hold across every worker, not
// per worker. SharedBudget counts requests in slots of period/budgetSlots in the watermark
// store, with an atomic increment that refuses to pass the slot's cap. Any window of one
// period overlaps at most budgetSlots+1 slots; one more slot of margin covers the moment
// between a grant and its request reaching the server. With cap = limit/(budgetSlots+2) no
// window holds more than limit requests, however many workers share the store. The price is
// about a tenth of the budget left unused.
const budgetSlots = 20

// slotCounter is a store that can count requests per slot atomically.
type slotCounter interface {
	// incrementBelow adds one to the slot's count if it is below limit, reporting whether it did.
	incrementBelow(ctx context.Context, key string, limit int, expires time.Time) (bool, error)
}

// SharedBudget is a request budget shared by every process using the same store and account.
type SharedBudget struct {
	store   slotCounter
	account string
	slot    time.Duration
	cap     int
	now     func() time.Time
}

// NewSharedBudget shares limit requests per period among all users of marks (the sqlite or
// DynamoDB watermark store) for one account.
func NewSharedBudget(marks Watermarks, account string, limit int, period time.Duration) (*SharedBudget, error) {
	store, ok := marks.(slotCounter)
	if !ok {
		return nil, fmt.Errorf("watermark store %T cannot hold a shared request budget", marks)
	}
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
		ok, err := b.store.incrementBelow(ctx, b.account+"#budget#"+strconv.FormatInt(n, 10), b.cap, end.Add(time.Hour))
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

func (s *SQLiteWatermarks) incrementBelow(ctx context.Context, key string, limit int, expires time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO request_budget (key, n, expires) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET n = n + 1 WHERE n < ?`, key, expires.Unix(), limit)
	if err != nil {
		return false, fmt.Errorf("request budget in %s: %w", s.path, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 1 && rand.IntN(1000) == 0 { // now and then, drop slots long past
		_, _ = s.db.ExecContext(ctx, `DELETE FROM request_budget WHERE expires < ?`, time.Now().Unix())
	}
	return n == 1, nil
}

func (d *DynamoWatermarks) incrementBelow(ctx context.Context, key string, limit int, expires time.Time) (bool, error) {
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(d.table),
		Key:                      map[string]types.AttributeValue{WatermarkTableKey: &types.AttributeValueMemberS{Value: key}},
		UpdateExpression:         aws.String("ADD #n :one SET #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(#n) OR #n < :limit"),
		ExpressionAttributeNames: map[string]string{"#n": "n", "#ttl": WatermarkTableTTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one":   &types.AttributeValueMemberN{Value: "1"},
			":limit": &types.AttributeValueMemberN{Value: strconv.Itoa(limit)},
			":ttl":   &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)},
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("request budget in DynamoDB table %s: %w", d.table, err)
	}
	return true, nil
}
