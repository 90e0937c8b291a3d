package bronze

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3Store keeps objects in an S3 bucket under a prefix. It works with AWS and with
// S3-compatible servers that support conditional puts (If-None-Match: *).
type S3Store struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending in "/"
}

// NewS3Store uses bucket and an optional key prefix.
func NewS3Store(client *s3.Client, bucket, prefix string) *S3Store {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &S3Store{client: client, bucket: bucket, prefix: prefix}
}

// Location is the bucket URL.
func (s *S3Store) Location() string {
	return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

// PutIfAbsent sends a conditional put; when the key exists it compares the stored bytes.
func (s *S3Store) PutIfAbsent(ctx context.Context, key string, body []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.prefix + key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		IfNoneMatch:   aws.String("*"),
	})
	if err == nil {
		return nil
	}
	if apiCode(err) != "PreconditionFailed" && httpStatus(err) != http.StatusPreconditionFailed {
		return s.fail("put", key, err)
	}
	existing, err := s.written(ctx, key)
	if err != nil {
		return err
	}
	if !bytes.Equal(existing, body) {
		return &StoreError{Op: "put", Location: s.Location(), Key: key, Err: ErrConflict}
	}
	return nil
}

// writtenReads and writtenWait bound how long written waits for the object a refused put
// found: about a second in all.
const (
	writtenReads = 10
	writtenWait  = 100 * time.Millisecond
)

// written reads the object a conditional put was refused for. The refusal means another
// writer's object holds the key, but while that write completes it may not be readable yet
// (versitygw answered 412, then 404 to the read, to writers racing on one key), so a missing
// object is read again; one still missing after that is a retryable error, never a conflict.
func (s *S3Store) written(ctx context.Context, key string) ([]byte, error) {
	for range writtenReads {
		existing, err := s.Get(ctx, key)
		if !errors.Is(err, ErrNotExist) {
			return existing, err
		}
		select {
		case <-ctx.Done():
			return nil, s.fail("put", key, context.Cause(ctx))
		case <-time.After(writtenWait):
		}
	}
	return nil, &StoreError{Op: "put", Location: s.Location(), Key: key, Retryable: true,
		Err: fmt.Errorf("a conditional put was refused, and the object at the key is still not readable: %w", ErrNotExist)}
}

// Get reads one object.
func (s *S3Store) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		if code := apiCode(err); code == "NoSuchKey" || code == "NotFound" {
			return nil, &StoreError{Op: "get", Location: s.Location(), Key: key, Err: ErrNotExist}
		}
		return nil, s.fail("get", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	return body, nil
}

// List pages through the keys under prefix.
func (s *S3Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	pager := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix),
	})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, s.fail("list", prefix, err)
		}
		for _, obj := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(obj.Key), s.prefix))
		}
	}
	return keys, nil
}

// EnsureBucket creates the bucket if it does not exist, for dev and tests.
func (s *S3Store) EnsureBucket(ctx context.Context) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.bucket)})
	if code := apiCode(err); err == nil || code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		return nil
	}
	return s.fail("create bucket", "", err)
}

func (s *S3Store) fail(op, key string, err error) error {
	return &StoreError{Op: op, Location: s.Location(), Key: key, Retryable: retryableAWS(err), Err: err}
}

// retryableAWS classifies an AWS error after the SDK's own retries: a server-side or
// throttling failure, or a transport failure with no answer at all, may pass; a client error
// (missing bucket, access denied, bad credentials) will not.
func retryableAWS(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch apiCode(err) {
	case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
		"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
		"ConditionalRequestConflict", "OperationAborted":
		return true
	}
	if status := httpStatus(err); status != 0 {
		return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusConflict
	}
	var apiErr smithy.APIError
	return !errors.As(err, &apiErr)
}

func apiCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}
