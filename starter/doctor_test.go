package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/internal/app"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// localStack is every server the worker talks to, on loopback, with the environment a worker
// of it reads.
type localStack struct {
	env     map[string]string
	tc      client.Client
	s3      *testenv.S3
	sns     *testenv.SNS
	secrets []string // what must never be printed
}

func startLocalStack(t *testing.T) *localStack {
	t.Helper()
	s3 := testenv.StartS3(t)
	dynamo := testenv.StartDynamoDB(t)
	sns := testenv.StartSNS(t)
	tp := testenv.StartTemporal(t)
	sim, err := wistiasim.New(wistiasim.Options{Seed: 7, Medias: 3, Now: testenv.Today(t)})
	require.NoError(t, err)
	api := httptest.NewServer(sim.Handler())
	t.Cleanup(api.Close)

	s := &localStack{s3: s3, sns: sns, secrets: []string{sim.Token(), s3.SecretKey}}
	s.env = map[string]string{
		"TEMPORAL_ADDRESS": tp.Address, "TEMPORAL_NAMESPACE": "default", "TEMPORAL_TASK_QUEUE": "doctor-test",
		"TEMPORAL_SCHEDULE_ID": "wistia-daily-test", "SCHEDULE_CRON": "15 4 * * *",
		"WISTIA_ACCOUNT": "acct", "WISTIA_STATS_TIMEZONE": "Asia/Tokyo", "MAX_CONCURRENCY": "7", "MERGE_SPREAD": "3",
		"WISTIA_BASE_URL": api.URL + wistiasim.BasePath, "WISTIA_API_TOKEN": sim.Token(), "WISTIA_MAX_ATTEMPTS": "2",
		"AWS_ACCESS_KEY_ID": s3.AccessKey, "AWS_SECRET_ACCESS_KEY": s3.SecretKey, "AWS_REGION": s3.Region,
		"S3_ENDPOINT": s3.Endpoint, "S3_FORCE_PATH_STYLE": "true",
		"BRONZE_URL": "s3://bronze/bronze", "ICEBERG_WAREHOUSE": "s3://warehouse/warehouse", "DATA_DIR": t.TempDir(),
		"WATERMARKS_URL": "dynamodb://wistia-state", "DYNAMODB_ENDPOINT": dynamo.Endpoint, "DYNAMODB_CREATE_TABLE": "true",
		"ALERT_SNS_TOPIC_ARN": sns.TopicARN, "ALERT_SNS_ENDPOINT": sns.Endpoint,
	}
	s.setenv(t)

	// What a deploy makes: the buckets, the table, the tables' namespaces, the schedule.
	ctx := context.Background()
	cfg, err := app.LoadConfig()
	require.NoError(t, err)
	for _, bucket := range []string{"bronze", "warehouse"} {
		c := cfg.Lake
		c.BronzeURL = "s3://" + bucket
		store, err := c.OpenStore(ctx)
		require.NoError(t, err)
		require.NoError(t, store.(*bronze.S3Store).EnsureBucket(ctx))
	}
	marks, err := cfg.Lake.OpenState(ctx)
	require.NoError(t, err)
	require.NoError(t, marks.Close())
	lh, err := cfg.Lake.OpenLakehouse(ctx)
	require.NoError(t, err)
	require.NoError(t, lh.EnsureTables(ctx))
	require.NoError(t, lh.Close())
	s.tc, err = client.Dial(client.Options{HostPort: tp.Address})
	require.NoError(t, err)
	t.Cleanup(s.tc.Close)
	code, out, errOut := starter(t, s.applyArgs()...)
	require.Equal(t, 0, code, out+errOut)
	return s
}

// applyArgs is `starter schedule apply` with the stack's settings, as the deploy runs it.
func (s *localStack) applyArgs() []string {
	return []string{"schedule", "apply", "--schedule-id", s.env["TEMPORAL_SCHEDULE_ID"], "--task-queue", s.env["TEMPORAL_TASK_QUEUE"],
		"--account", s.env["WISTIA_ACCOUNT"], "--stats-timezone", s.env["WISTIA_STATS_TIMEZONE"],
		"--max-concurrency", s.env["MAX_CONCURRENCY"], "--merge-spread", s.env["MERGE_SPREAD"], "--cron", s.env["SCHEDULE_CRON"]}
}

func (s *localStack) setenv(t *testing.T, overrides ...string) {
	t.Helper()
	for k, v := range s.env {
		t.Setenv(k, v)
	}
	for i := 0; i+1 < len(overrides); i += 2 {
		t.Setenv(overrides[i], overrides[i+1])
	}
}

// doctorLines runs `starter doctor` and returns its exit status and its lines by check name.
func (s *localStack) doctor(t *testing.T, args ...string) (int, map[string]string, string) {
	t.Helper()
	code, out, errOut := starter(t, append([]string{"doctor"}, args...)...)
	all := out + errOut
	for _, secret := range s.secrets {
		assert.NotContains(t, all, secret, "a secret is printed")
	}
	lines := map[string]string{}
	// Columns: the status in 4, two spaces, the check's name in 20, two spaces, the detail.
	var last string
	for _, line := range strings.Split(out, "\n") {
		if len(line) < 28 {
			continue
		}
		if status := strings.TrimSpace(line[:4]); status != "" {
			last = strings.TrimSpace(line[6:26])
			lines[last] = status + " " + line[28:]
		} else if strings.Contains(line, "fix: ") && last != "" {
			lines[last] += "\n" + strings.TrimSpace(line)
		}
	}
	return code, lines, all
}

var doctorChecks = []string{"temporal namespace", "temporal attribute", "temporal schedule", "bronze write", "bronze missing key",
	"warehouse", "catalog", "dynamodb", "alerts", "wistia", "dashboard sign-in"}

// The post-deploy smoke test passes on a stack as deployed, and each way a deploy goes wrong
// fails the check it names, with a fix, exit status 1, and no secret in the output.
func TestDoctorProvesTheStackAndNamesEachCause(t *testing.T) {
	s := startLocalStack(t)

	code, lines, out := s.doctor(t)
	require.Equal(t, 0, code, out)
	for _, name := range doctorChecks {
		assert.True(t, strings.HasPrefix(lines[name], "ok "), "%s: %q\n%s", name, lines[name], out)
	}
	assert.Contains(t, out, "all 11 checks passed")
	assert.Contains(t, lines["bronze missing key"], "not found")
	assert.Empty(t, s.sns.Receive(t), "the topic is only reached")

	code, lines, out = s.doctor(t, "--send-test-alert")
	require.Equal(t, 0, code, out)
	assert.Contains(t, lines["alerts"], "sent a test message")
	sent := s.sns.Receive(t)
	require.Len(t, sent, 1)
	assert.Contains(t, sent[0], "Test alert from starter doctor")

	fails := func(t *testing.T, name, want string, env ...string) {
		t.Helper()
		s.setenv(t, env...)
		code, lines, out := s.doctor(t)
		assert.Equal(t, 1, code, out)
		assert.True(t, strings.HasPrefix(lines[name], "FAIL "), "%s: %q\n%s", name, lines[name], out)
		assert.Contains(t, lines[name], want, out)
		assert.Contains(t, lines[name], "fix: ", out)
		assert.Contains(t, out, "checks failed")
		t.Logf("starter doctor with %v:\n%s", env, out)
	}
	t.Run("missing bucket", func(t *testing.T) {
		fails(t, "bronze write", "does not exist", "BRONZE_URL", "s3://no-such-bucket/bronze")
	})
	t.Run("denied caller", func(t *testing.T) {
		s.s3.AddUser(t, "denieduser", "denied-secret-0001")
		s.secrets = append(s.secrets, "denied-secret-0001")
		fails(t, "bronze write", "denied", "AWS_ACCESS_KEY_ID", "denieduser", "AWS_SECRET_ACCESS_KEY", "denied-secret-0001")
		fails(t, "warehouse", "denied", "AWS_ACCESS_KEY_ID", "denieduser", "AWS_SECRET_ACCESS_KEY", "denied-secret-0001")
		fails(t, "bronze missing key", "no s3:prefix condition", "AWS_ACCESS_KEY_ID", "denieduser", "AWS_SECRET_ACCESS_KEY", "denied-secret-0001")
	})
	t.Run("wrong token", func(t *testing.T) {
		s.secrets = append(s.secrets, "not-the-token-42")
		fails(t, "wistia", "refused", "WISTIA_API_TOKEN", "not-the-token-42")
	})
	t.Run("drifted schedule", func(t *testing.T) {
		// The schedule was applied with other runs' settings than the worker's...
		fails(t, "temporal schedule", "its runs' options", "MAX_CONCURRENCY", "8")
		// ...or someone moved its time by hand.
		require.Equal(t, 0, first(starter(t, "schedule", "update", "--cron", "45 5 * * *")))
		fails(t, "temporal schedule", "its next fires")
		code, out, errOut := starter(t, s.applyArgs()...)
		require.Equal(t, 0, code, out+errOut)
		code, lines, out := s.doctor(t)
		assert.Equal(t, 0, code, out)
		assert.True(t, strings.HasPrefix(lines["temporal schedule"], "ok "), out)
	})
	t.Run("missing search attribute", func(t *testing.T) {
		_, err := s.tc.OperatorService().RemoveSearchAttributes(context.Background(), &operatorservice.RemoveSearchAttributesRequest{
			Namespace: "default", SearchAttributes: []string{workflows.DateAttribute.GetName()}})
		require.NoError(t, err)
		fails(t, "temporal attribute", "is not registered")
		// apply registers it again, and a second apply changes nothing.
		for range 2 {
			code, out, errOut := starter(t, s.applyArgs()...)
			require.Equal(t, 0, code, out+errOut)
		}
		code, _, out := s.doctor(t)
		assert.Equal(t, 0, code, out)
	})
	t.Run("missing schedule", func(t *testing.T) {
		s.setenv(t, "TEMPORAL_SCHEDULE_ID", "wistia-daily-nobody-made")
		code, lines, out := s.doctor(t)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, lines["temporal schedule"], "does not exist", out)
		assert.Contains(t, lines["temporal schedule"], "starter schedule apply --schedule-id wistia-daily-nobody-made", out)
	})
}

func first(code int, _, _ string) int { return code }
