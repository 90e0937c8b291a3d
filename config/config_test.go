package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type sample struct {
	Workers  int           `envconfig:"TEST_WORKERS" default:"4"`
	Interval time.Duration `envconfig:"TEST_INTERVAL" default:"1s"`
	APIToken Secret        `envconfig:"TEST_API_TOKEN"`
	Mode     string        `envconfig:"TEST_MODE" default:"fast"`
}

func (s sample) Validate() []error {
	var errs []error
	if s.Workers < 1 {
		errs = append(errs, Invalid("TEST_WORKERS", s.Workers, "1 or more"))
	}
	if s.Mode != "fast" && s.Mode != "safe" {
		errs = append(errs, Invalid("TEST_MODE", s.Mode, "fast or safe"))
	}
	return errs
}

type other struct {
	Port int `envconfig:"TEST_PORT" default:"80"`
}

func TestLoadDefaults(t *testing.T) {
	var s sample
	require.NoError(t, Load(&s))
	assert.Equal(t, sample{Workers: 4, Interval: time.Second, Mode: "fast"}, s)
}

func TestLoadReportsEveryBadValue(t *testing.T) {
	t.Setenv("TEST_WORKERS", "0")
	t.Setenv("TEST_MODE", "turbo")
	t.Setenv("TEST_PORT", "eighty")
	var s sample
	var o other
	err := Load(&s, &o)
	require.Error(t, err)
	var cfgErr *Error
	require.ErrorAs(t, err, &cfgErr)
	assert.Len(t, cfgErr.Problems, 3)
	msg := err.Error()
	assert.Contains(t, msg, `TEST_WORKERS="0": 1 or more`)
	assert.Contains(t, msg, `TEST_MODE="turbo": fast or safe`)
	assert.Contains(t, msg, `TEST_PORT="eighty": not a valid int`)
}

func TestSecretsNeverPrint(t *testing.T) {
	const value = "tok_live_abcdefghijklmnop"
	t.Setenv("TEST_API_TOKEN", value)
	var s sample
	require.NoError(t, Load(&s))
	assert.Equal(t, value, s.APIToken.Reveal())

	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", s, "token", s.APIToken)
	js, err := json.Marshal(s)
	require.NoError(t, err)
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", s), "%+v": fmt.Sprintf("%+v", s), "%#v": fmt.Sprintf("%#v", s),
		"Sprint": fmt.Sprint(s.APIToken), "json": string(js), "slog": logged.String(),
	} {
		assert.NotContains(t, out, value, name)
	}
	assert.Contains(t, string(js), "[redacted]")
}

func TestParseErrorsOfSecretsHideTheValue(t *testing.T) {
	type withSecretNumber struct {
		Key int `envconfig:"TEST_SECRET_NUMBER"`
	}
	t.Setenv("TEST_SECRET_NUMBER", "hunter2")
	err := Load(&withSecretNumber{})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Contains(t, err.Error(), "TEST_SECRET_NUMBER")
}
