package app

import (
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// Docker does not run here, so docker-compose.yml is checked against the code: the worker's
// environment names only settings the worker reads, sets every one it needs, passes the
// worker's own validation, and points at services the file defines.
func TestDockerComposeMatchesTheWorkerConfig(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Build       any               `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			Entrypoint  []string          `yaml:"entrypoint"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &compose))
	worker, ok := compose.Services["worker"]
	require.True(t, ok, "a worker service")
	assert.NotNil(t, worker.Build, "the worker is built from the Dockerfile")

	known := map[string]bool{"AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true} // read by the AWS SDK
	collectEnvNames(reflect.TypeOf(Config{}), known)
	for name := range worker.Environment {
		assert.True(t, known[name], "worker setting %s is not read by the worker (typo?)", name)
	}
	for _, name := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_TASK_QUEUE", "WISTIA_API_TOKEN", "WISTIA_BASE_URL",
		"BRONZE_URL", "WATERMARKS_URL", "ICEBERG_WAREHOUSE", "S3_ENDPOINT", "DYNAMODB_ENDPOINT"} {
		assert.NotEmpty(t, worker.Environment[name], "worker sets %s", name)
	}

	// ${VAR:-default} takes its default, as docker compose does without VAR set.
	defaults := regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)
	env := map[string]string{}
	for k, v := range worker.Environment {
		env[k] = defaults.ReplaceAllString(v, "$1")
		t.Setenv(k, env[k])
	}
	cfg, err := LoadConfig()
	require.NoError(t, err, "the worker accepts the file's settings")

	// Every address points at a service of the file, on a port it serves.
	for name, addr := range map[string]string{"TEMPORAL_ADDRESS": "http://" + cfg.Temporal.Address, "S3_ENDPOINT": cfg.Lake.S3Endpoint,
		"DYNAMODB_ENDPOINT": cfg.Lake.DynamoDBEndpoint, "WISTIA_BASE_URL": cfg.Wistia.BaseURL} {
		u, err := url.Parse(addr)
		require.NoError(t, err, name)
		host, port, _ := net.SplitHostPort(u.Host)
		svc, ok := compose.Services[host]
		if !assert.True(t, ok, "%s points at service %q, which the file defines", name, host) {
			continue
		}
		serves := false
		for _, p := range svc.Ports {
			serves = serves || strings.HasSuffix(p, ":"+port)
		}
		assert.True(t, serves, "%s: service %s serves port %s", name, host, port)
	}
	assert.True(t, strings.HasPrefix(cfg.Lake.BronzeURL, "s3://wistia-lake/"), "bronze in the bucket minio-bucket creates")
	assert.True(t, strings.HasPrefix(cfg.Lake.Warehouse, "s3://wistia-lake/"), "warehouse in the bucket minio-bucket creates")
	assert.Contains(t, strings.Join(compose.Services["minio-bucket"].Entrypoint, " "), "lake/wistia-lake")
	assert.Equal(t, compose.Services["starter"].Environment, worker.Environment, "the CLI sees what the worker sees")
}

// collectEnvNames gathers the envconfig variable names of a settings struct, recursively.
func collectEnvNames(t reflect.Type, into map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name := f.Tag.Get("envconfig"); name != "" {
			into[name] = true
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			collectEnvNames(f.Type, into)
		}
	}
}
