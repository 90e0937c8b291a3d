package lake

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
)

// s3Config points the storage settings at a versitygw server, with credentials through the
// default chain as in production.
func s3Config(t testing.TB, srv *testenv.S3, bucket string) Config {
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	return Config{DataDir: t.TempDir(), Account: "acct", AWSRegion: srv.Region,
		BronzeURL: "s3://" + bucket + "/warehouse", S3Endpoint: srv.Endpoint, S3PathStyle: true}
}

func openS3Store(t testing.TB, srv *testenv.S3, bucket string) *bronze.S3Store {
	t.Helper()
	store, err := s3Config(t, srv, bucket).OpenStore(context.Background())
	require.NoError(t, err)
	s3store := store.(*bronze.S3Store)
	require.NoError(t, s3store.EnsureBucket(context.Background()))
	return s3store
}
