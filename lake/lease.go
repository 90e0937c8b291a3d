package lake

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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
func HoldLease(ctx context.Context, l Ledger, name, owner string, ttl, poll time.Duration) (*Lease, error) {
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

// AcquireLease inserts the lease, or takes it over in the same statement when it is owner's or
// expired. expires is in unix milliseconds.
func (s *SQLiteWatermarks) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	now := s.now()
	res, err := s.db.ExecContext(ctx, `INSERT INTO leases (name, owner, expires) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE leases.owner = excluded.owner OR leases.expires < ?`,
		name, owner, now.Add(ttl).UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("acquire lease %s for %s in %s: %w", name, owner, s.path, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire lease %s for %s in %s: %w", name, owner, s.path, err)
	}
	return n == 1, nil
}

// ReleaseLease deletes the lease if owner holds it.
func (s *SQLiteWatermarks) ReleaseLease(ctx context.Context, name, owner string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND owner = ?`, name, owner); err != nil {
		return fmt.Errorf("release lease %s for %s in %s: %w", name, owner, s.path, err)
	}
	return nil
}

// In DynamoDB a lease is the item pk "lease#<name>" with owner (S), until_ms (N, unix
// milliseconds: the expiry the conditions compare) and expires (N, unix seconds rounded up: the
// table's TTL attribute, so DynamoDB eventually deletes leases nobody released; deleting an
// expired lease changes nothing, since an expired lease is free).
const leaseKeyPrefix = "lease#"

func leaseKey(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{WatermarkTableKey: &types.AttributeValueMemberS{Value: leaseKeyPrefix + name}}
}

// AcquireLease sets owner and expiry with a conditional update: only when the lease is free,
// owner's, or expired. A failed condition means someone else holds it.
func (d *DynamoWatermarks) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	now := d.now()
	until := now.Add(ttl).UnixMilli()
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(d.table),
		Key:                 leaseKey(name),
		UpdateExpression:    aws.String("SET #owner = :me, #until = :until, #ttl = :ttl"),
		ConditionExpression: aws.String("attribute_not_exists(#owner) OR #owner = :me OR #until < :now"),
		ExpressionAttributeNames: map[string]string{
			"#owner": "owner", "#until": "until_ms", "#ttl": WatermarkTableTTLAttribute,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":me":    &types.AttributeValueMemberS{Value: owner},
			":until": &types.AttributeValueMemberN{Value: strconv.FormatInt(until, 10)},
			":ttl":   &types.AttributeValueMemberN{Value: strconv.FormatInt((until+999)/1000, 10)},
			":now":   &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
		},
	})
	var held *types.ConditionalCheckFailedException
	if errors.As(err, &held) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire lease %s for %s in DynamoDB table %s: %w", name, owner, d.table, err)
	}
	return true, nil
}

// ReleaseLease deletes the lease item on condition that owner holds it.
func (d *DynamoWatermarks) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(d.table),
		Key:                       leaseKey(name),
		ConditionExpression:       aws.String("#owner = :me"),
		ExpressionAttributeNames:  map[string]string{"#owner": "owner"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":me": &types.AttributeValueMemberS{Value: owner}},
	})
	var notHeld *types.ConditionalCheckFailedException
	if errors.As(err, &notHeld) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release lease %s for %s in DynamoDB table %s: %w", name, owner, d.table, err)
	}
	return nil
}
