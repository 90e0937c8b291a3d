package lake

import (
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

	"github.com/marketing-data/wistia-pipeline/internal/dates"
)

// PendingDay is a bronze day that landed and is not yet merged and checked. Seq grows each time
// more bronze lands for that day, so a clear can tell whether bronze arrived after the pending
// list was read.
type PendingDay struct {
	Day string `json:"day"` // YYYY-MM-DD
	Seq int64  `json:"seq"`
}

// Ledger records, per account, the bronze days waiting to be merged, and holds the leases that
// keep two merges of one account from running at once. Both watermark stores implement it.
type Ledger interface {
	// MarkPending records that bronze landed for the days (adds 1 to each day's Seq, creating it
	// at 1). Atomic per day. A day given twice in one call counts once.
	MarkPending(ctx context.Context, account string, days []time.Time) error
	// Pending returns the account's pending days, sorted by day. Strongly consistent read.
	Pending(ctx context.Context, account string) ([]PendingDay, error)
	// ClearPending removes each given day whose stored Seq still equals the given Seq (a day
	// whose bronze landed again since stays pending). It returns how many it removed.
	ClearPending(ctx context.Context, account string, days []PendingDay) (int, error)
	// AcquireLease takes the named lease for owner until now+ttl if it is free, expired, or
	// already owner's (then it renews it). It reports whether owner holds it now.
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// ReleaseLease frees the lease if owner holds it; releasing a lease one does not hold is
	// not an error.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// pendingDays formats days as YYYY-MM-DD, sorted and without repeats: one day counts once per
// call, and DynamoDB refuses an update naming one attribute twice.
func pendingDays(days []time.Time) []string {
	out := make([]string, 0, len(days))
	for _, d := range days {
		out = append(out, dates.Format(d))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// MarkPending upserts every day in one statement, so the call is atomic as a whole.
func (s *SQLiteWatermarks) MarkPending(ctx context.Context, account string, days []time.Time) error {
	ds := pendingDays(days)
	if len(ds) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(ds))
	for _, d := range ds {
		args = append(args, account, d)
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?, 1), ", len(ds)), ", ")
	_, err := s.db.ExecContext(ctx, `INSERT INTO pending (account, day, seq) VALUES `+values+`
		ON CONFLICT (account, day) DO UPDATE SET seq = seq + 1`, args...)
	if err != nil {
		return fmt.Errorf("mark pending %s in %s: %w", account, s.path, err)
	}
	return nil
}

// Pending reads the account's pending days.
func (s *SQLiteWatermarks) Pending(ctx context.Context, account string) ([]PendingDay, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT day, seq FROM pending WHERE account = ? ORDER BY day`, account)
	if err != nil {
		return nil, fmt.Errorf("read pending %s in %s: %w", account, s.path, err)
	}
	defer rows.Close()
	var out []PendingDay
	for rows.Next() {
		var p PendingDay
		if err := rows.Scan(&p.Day, &p.Seq); err != nil {
			return nil, fmt.Errorf("read pending %s in %s: %w", account, s.path, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pending %s in %s: %w", account, s.path, err)
	}
	return out, nil
}

// ClearPending deletes the days whose seq is unchanged in one statement.
func (s *SQLiteWatermarks) ClearPending(ctx context.Context, account string, days []PendingDay) (int, error) {
	if len(days) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 1+2*len(days))
	args = append(args, account)
	for _, d := range days {
		args = append(args, d.Day, d.Seq)
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?), ", len(days)), ", ")
	res, err := s.db.ExecContext(ctx, `DELETE FROM pending WHERE account = ? AND (day, seq) IN (VALUES `+values+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("clear pending %s in %s: %w", account, s.path, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("clear pending %s in %s: %w", account, s.path, err)
	}
	return int(n), nil
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
	return map[string]types.AttributeValue{WatermarkTableKey: &types.AttributeValueMemberS{Value: account + pendingKeySuffix}}
}

// MarkPending adds 1 to each day's attribute, a hundred days per update.
func (d *DynamoWatermarks) MarkPending(ctx context.Context, account string, days []time.Time) error {
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
func (d *DynamoWatermarks) Pending(ctx context.Context, account string) ([]PendingDay, error) {
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
		days = append(days, PendingDay{Day: day, Seq: seq})
	}
	slices.SortFunc(days, func(a, b PendingDay) int { return strings.Compare(a.Day, b.Day) })
	return days, nil
}

// ClearPending removes each day's attribute in its own conditional update: a failed condition
// means bronze landed again (or the day was already cleared), and the day is skipped.
func (d *DynamoWatermarks) ClearPending(ctx context.Context, account string, days []PendingDay) (int, error) {
	removed := 0
	for _, day := range days {
		_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(d.table),
			Key:                      pendingKey(account),
			UpdateExpression:         aws.String("REMOVE #d"),
			ConditionExpression:      aws.String("#d = :seq"),
			ExpressionAttributeNames: map[string]string{"#d": pendingAttrPrefix + day.Day},
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
