package state

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// Dynamo keeps watermarks in a DynamoDB table whose hash key is "pk" (a string).
// Days are stored as YYYY-MM-DD, which orders as text the way it orders as dates.
type Dynamo struct {
	client *dynamodb.Client
	table  string
	now    func() time.Time // lease expiry; tests may move it
}

// NewDynamo uses an existing table.
func NewDynamo(client *dynamodb.Client, table string) *Dynamo {
	return &Dynamo{client: client, table: table, now: time.Now}
}

// Get reads one watermark with a strongly consistent read.
func (d *Dynamo) Get(ctx context.Context, key WatermarkKey) (Watermark, bool, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            map[string]types.AttributeValue{TableKey: &types.AttributeValueMemberS{Value: key.String()}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Watermark{}, false, d.fail("get", key, err)
	}
	if out.Item == nil {
		return Watermark{}, false, nil
	}
	return parseWatermark(key, str(out.Item["day"]), str(out.Item["run_id"]), str(out.Item["updated_at"]))
}

// Advance sets the watermark with a conditional update: only when there is none or the stored
// day is earlier. A failed condition means another writer is at or past this day.
func (d *Dynamo) Advance(ctx context.Context, key WatermarkKey, w Watermark) (bool, error) {
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(d.table),
		Key:                 map[string]types.AttributeValue{TableKey: &types.AttributeValueMemberS{Value: key.String()}},
		UpdateExpression:    aws.String("SET #day = :day, #run = :run, #at = :at"),
		ConditionExpression: aws.String("attribute_not_exists(#day) OR #day < :day"),
		ExpressionAttributeNames: map[string]string{
			"#day": "day", "#run": "run_id", "#at": "updated_at",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":day": &types.AttributeValueMemberS{Value: w.Day.String()},
			":run": &types.AttributeValueMemberS{Value: w.RunID},
			":at":  &types.AttributeValueMemberS{Value: w.UpdatedAt.UTC().Format(time.RFC3339Nano)},
		},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return false, nil
	}
	if err != nil {
		return false, d.fail("advance", key, err)
	}
	return true, nil
}

// Close releases nothing: the client is shared.
func (d *Dynamo) Close() error { return nil }

func (d *Dynamo) fail(op string, key WatermarkKey, err error) error {
	return fmt.Errorf("%s watermark %s in DynamoDB table %s: %w", op, key, d.table, err)
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// The watermark table's key and TTL attribute. deploy/cdk creates the production table from
// these, so the table's TTL is on the attribute the rate budget and leases write.
const (
	TableKey          = "pk"
	TableTTLAttribute = "expires"
)

// EnsureDynamoTable creates the table if it is missing and waits until it is ACTIVE: for
// dev and tests (production tables come from deploy/).
func EnsureDynamoTable(ctx context.Context, client *dynamodb.Client, table string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(TableKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(TableKey), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create DynamoDB table %s: %w", table, err)
	}
	// Tables become ACTIVE asynchronously.
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 2*time.Minute); err != nil {
		return fmt.Errorf("wait for DynamoDB table %s to be ACTIVE: %w", table, err)
	}
	return nil
}

// In DynamoDB an account's pending days share one item, pk "<account>#pending", with one Number
// attribute per day named "d<YYYY-MM-DD>" holding its seq: marking is an ADD (which creates the
// item and the attribute when missing) and listing is one consistent read. The item never has an
// "expires" attribute: that is the table's TTL attribute, and pending days must not expire.
const (
	pendingKeySuffix  = "#pending"
	pendingAttrPrefix = "d"
	// markPendingBatch keeps one update expression well under DynamoDB's 4 KB limit.
	markPendingBatch = 100
)

func pendingKey(account string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{TableKey: &types.AttributeValueMemberS{Value: account + pendingKeySuffix}}
}

// MarkPending adds 1 to each day's attribute, a hundred days per update.
func (d *Dynamo) MarkPending(ctx context.Context, account string, days []dates.Date) error {
	for batch := range slices.Chunk(pendingDays(days), markPendingBatch) {
		names := make(map[string]string, len(batch))
		adds := make([]string, 0, len(batch))
		for i, day := range batch {
			ref := "#d" + strconv.Itoa(i)
			names[ref] = pendingAttrPrefix + day
			adds = append(adds, ref+" :one")
		}
		_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(d.table),
			Key:                       pendingKey(account),
			UpdateExpression:          aws.String("ADD " + strings.Join(adds, ", ")),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
		})
		if err != nil {
			return fmt.Errorf("mark pending %s in DynamoDB table %s: %w", account, d.table, err)
		}
	}
	return nil
}

// Pending reads the account's pending item with a strongly consistent read.
func (d *Dynamo) Pending(ctx context.Context, account string) ([]PendingDay, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            pendingKey(account),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read pending %s in DynamoDB table %s: %w", account, d.table, err)
	}
	var days []PendingDay
	for name, v := range out.Item {
		day, ok := strings.CutPrefix(name, pendingAttrPrefix)
		if !ok { // the key, "pk"
			continue
		}
		n, isNum := v.(*types.AttributeValueMemberN)
		if !isNum {
			return nil, fmt.Errorf("read pending %s in DynamoDB table %s: attribute %s is not a number", account, d.table, name)
		}
		seq, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read pending %s in DynamoDB table %s: attribute %s: %w", account, d.table, name, err)
		}
		date, err := dates.Parse(day)
		if err != nil {
			return nil, fmt.Errorf("read pending %s in DynamoDB table %s: attribute %s: %w", account, d.table, name, err)
		}
		days = append(days, PendingDay{Day: date, Seq: seq})
	}
	slices.SortFunc(days, func(a, b PendingDay) int { return cmp.Compare(a.Day, b.Day) })
	return days, nil
}

// ClearPending removes each day's attribute in its own conditional update: a failed condition
// means bronze landed again (or the day was already cleared), and the day is skipped.
func (d *Dynamo) ClearPending(ctx context.Context, account string, days []PendingDay) (int, error) {
	removed := 0
	for _, day := range days {
		_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(d.table),
			Key:                      pendingKey(account),
			UpdateExpression:         aws.String("REMOVE #d"),
			ConditionExpression:      aws.String("#d = :seq"),
			ExpressionAttributeNames: map[string]string{"#d": pendingAttrPrefix + day.Day.String()},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":seq": &types.AttributeValueMemberN{Value: strconv.FormatInt(day.Seq, 10)},
			},
		})
		var changed *types.ConditionalCheckFailedException
		if errors.As(err, &changed) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("clear pending %s day %s in DynamoDB table %s: %w", account, day.Day, d.table, err)
		}
		removed++
	}
	return removed, nil
}

// In DynamoDB a lease is the item pk "lease#<name>" with owner (S), until_ms (N, unix
// milliseconds: the expiry the conditions compare) and expires (N, unix seconds rounded up: the
// table's TTL attribute, so DynamoDB eventually deletes leases nobody released; deleting an
// expired lease changes nothing, since an expired lease is free).
const leaseKeyPrefix = "lease#"

func leaseKey(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{TableKey: &types.AttributeValueMemberS{Value: leaseKeyPrefix + name}}
}

// AcquireLease sets owner and expiry with a conditional update: only when the lease is free,
// owner's, or expired. A failed condition means someone else holds it.
func (d *Dynamo) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	now := d.now()
	until := now.Add(ttl).UnixMilli()
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(d.table),
		Key:                 leaseKey(name),
		UpdateExpression:    aws.String("SET #owner = :me, #until = :until, #ttl = :ttl"),
		ConditionExpression: aws.String("attribute_not_exists(#owner) OR #owner = :me OR #until < :now"),
		ExpressionAttributeNames: map[string]string{
			"#owner": "owner", "#until": "until_ms", "#ttl": TableTTLAttribute,
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
func (d *Dynamo) ReleaseLease(ctx context.Context, name, owner string) error {
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

func (d *Dynamo) IncrementBelow(ctx context.Context, key string, limit int, expires time.Time) (bool, error) {
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(d.table),
		Key:                      map[string]types.AttributeValue{TableKey: &types.AttributeValueMemberS{Value: key}},
		UpdateExpression:         aws.String("ADD #n :one SET #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(#n) OR #n < :limit"),
		ExpressionAttributeNames: map[string]string{"#n": "n", "#ttl": TableTTLAttribute},
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
