package bronze

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/internal/testenv"
)

// TestStoreContract runs the same suite against every Store implementation.
func TestStoreContract(t *testing.T) {
	ctx := context.Background()
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("put then get", func(t *testing.T) {
				require.NoError(t, store.PutIfAbsent(ctx, "a/b/one.bin", []byte("first")))
				got, err := store.Get(ctx, "a/b/one.bin")
				require.NoError(t, err)
				assert.Equal(t, []byte("first"), got)
			})
			t.Run("a retried identical write is a no-op", func(t *testing.T) {
				require.NoError(t, store.PutIfAbsent(ctx, "a/b/two.bin", []byte("same")))
				require.NoError(t, store.PutIfAbsent(ctx, "a/b/two.bin", []byte("same")))
				got, err := store.Get(ctx, "a/b/two.bin")
				require.NoError(t, err)
				assert.Equal(t, []byte("same"), got)
			})
			t.Run("a conflicting write is refused and nothing is overwritten", func(t *testing.T) {
				require.NoError(t, store.PutIfAbsent(ctx, "a/b/three.bin", []byte("original")))
				err := store.PutIfAbsent(ctx, "a/b/three.bin", []byte("replacement"))
				require.ErrorIs(t, err, ErrConflict)
				assert.False(t, IsRetryable(err))
				assert.Contains(t, err.Error(), "a/b/three.bin")
				got, err := store.Get(ctx, "a/b/three.bin")
				require.NoError(t, err)
				assert.Equal(t, []byte("original"), got)
			})
			t.Run("racing writers: one wins, the rest are refused", func(t *testing.T) {
				var wg sync.WaitGroup
				errs := make([]error, 8)
				for i := range errs {
					wg.Go(func() { errs[i] = store.PutIfAbsent(ctx, "race/obj", []byte(fmt.Sprint("writer ", i))) })
				}
				wg.Wait()
				winners := 0
				for _, err := range errs {
					if err == nil {
						winners++
					} else {
						assert.ErrorIs(t, err, ErrConflict)
					}
				}
				assert.Equal(t, 1, winners)
			})
			t.Run("missing key", func(t *testing.T) {
				_, err := store.Get(ctx, "no/such/key")
				assert.ErrorIs(t, err, ErrNotExist)
			})
			t.Run("list", func(t *testing.T) {
				for _, k := range []string{"l/x/2", "l/x/1", "l/y/1", "lz"} {
					require.NoError(t, store.PutIfAbsent(ctx, k, []byte(k)))
				}
				keys, err := store.List(ctx, "l/x/")
				require.NoError(t, err)
				assert.Equal(t, []string{"l/x/1", "l/x/2"}, keys)
				all, err := store.List(ctx, "")
				require.NoError(t, err)
				assert.Contains(t, all, "lz")
				for _, k := range all {
					assert.NotContains(t, k, "..", "listing stays inside the store")
				}
				keys, err = store.List(ctx, "nothing/here/")
				require.NoError(t, err)
				assert.Empty(t, keys)
			})
		})
	}
}

func TestS3ErrorsAreClassified(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartS3(t)

	missing := openS3Store(t, srv, "exists")
	missing.bucket = "no-such-bucket"
	err := missing.PutIfAbsent(ctx, "k/1", []byte("x"))
	require.Error(t, err)
	assert.False(t, IsRetryable(err), "a missing bucket will not appear by retrying: %v", err)
	assert.Contains(t, err.Error(), "no-such-bucket")
	assert.Contains(t, err.Error(), "k/1")

	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret") // after openS3Store, which sets the right one
	denied := s3StoreAt(t, srv, "exists")
	err = denied.PutIfAbsent(ctx, "k/2", []byte("x"))
	require.Error(t, err)
	assert.False(t, IsRetryable(err), "bad credentials: %v", err)

	srv.Stop()
	store := s3StoreAt(t, srv, "exists")
	err = store.PutIfAbsent(ctx, "k/3", []byte("x"))
	require.Error(t, err)
	assert.True(t, IsRetryable(err), "an unreachable server may come back: %v", err)
}

// s3StoreAt is a store on the bucket of a versitygw server, with an S3 client made as in
// production: credentials through the default chain (the environment here).
func s3StoreAt(t testing.TB, srv *testenv.S3, bucket string) *S3Store {
	t.Helper()
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(srv.Region))
	require.NoError(t, err)
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.Endpoint)
		o.UsePathStyle = true
	})
	return NewS3Store(client, bucket, "warehouse")
}

func openS3Store(t testing.TB, srv *testenv.S3, bucket string) *S3Store {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	store := s3StoreAt(t, srv, bucket)
	require.NoError(t, store.EnsureBucket(context.Background()))
	return store
}

// stores returns one of each Store implementation, backed by real servers.
func stores(t *testing.T) map[string]Store {
	t.Helper()
	local, err := NewLocalStore(t.TempDir())
	require.NoError(t, err)
	return map[string]Store{
		"local": local,
		"s3":    openS3Store(t, testenv.StartS3(t), "bronze-test"),
	}
}
