package lake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
)

// DynamoWatermarks keeps watermarks in a DynamoDB table whose hash key is "pk" (a string).
// Days are stored as YYYY-MM-DD, which orders as text the way it orders as dates.
type DynamoWatermarks struct {
	client *dynamodb.Client
	table  string
	now    func() time.Time // lease expiry; tests may move it
}

// NewDynamoWatermarks uses an existing table.
func NewDynamoWatermarks(client *dynamodb.Client, table string) *DynamoWatermarks {
	return &DynamoWatermarks{client: client, table: table, now: time.Now}
}

// Get reads one watermark with a strongly consistent read.
func (d *DynamoWatermarks) Get(ctx context.Context, key WatermarkKey) (Watermark, bool, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(d.table),
		Key:            map[string]types.AttributeValue{WatermarkTableKey: &types.AttributeValueMemberS{Value: key.String()}},
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
func (d *DynamoWatermarks) Advance(ctx context.Context, key WatermarkKey, w Watermark) (bool, error) {
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(d.table),
		Key:                 map[string]types.AttributeValue{WatermarkTableKey: &types.AttributeValueMemberS{Value: key.String()}},
		UpdateExpression:    aws.String("SET #day = :day, #run = :run, #at = :at"),
		ConditionExpression: aws.String("attribute_not_exists(#day) OR #day < :day"),
		ExpressionAttributeNames: map[string]string{
			"#day": "day", "#run": "run_id", "#at": "updated_at",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":day": &types.AttributeValueMemberS{Value: dates.Format(w.Day)},
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
func (d *DynamoWatermarks) Close() error { return nil }

func (d *DynamoWatermarks) fail(op string, key WatermarkKey, err error) error {
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
	WatermarkTableKey          = "pk"
	WatermarkTableTTLAttribute = "expires"
)

// EnsureWatermarkTable creates the table if it is missing and waits until it is ACTIVE: for
// dev and tests (production tables come from deploy/).
func EnsureWatermarkTable(ctx context.Context, client *dynamodb.Client, table string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(WatermarkTableKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(WatermarkTableKey), KeyType: types.KeyTypeHash}},
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
