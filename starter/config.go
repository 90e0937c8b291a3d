package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/internal/app"
	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/lake"
)

// temporalConfig reads the Temporal settings, with the flags over the environment: a flag
// stands in for its variable, so it is checked like one.
func (c *cli) temporalConfig() (app.TemporalConfig, error) {
	for name, v := range map[string]string{"TEMPORAL_ADDRESS": c.address, "TEMPORAL_NAMESPACE": c.namespace} {
		if v != "" {
			if err := os.Setenv(name, v); err != nil {
				return app.TemporalConfig{}, err
			}
		}
	}
	var t app.TemporalConfig
	return t, config.Load(&t)
}

// dial connects to Temporal.
func (c *cli) dial(ctx context.Context) (client.Client, app.TemporalConfig, error) {
	t, err := c.temporalConfig()
	if err != nil {
		return nil, t, err
	}
	tc, err := t.Dial(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	return tc, t, err
}

// pipeline connects to Temporal and reads the settings runs are started with.
func (c *cli) pipeline(ctx context.Context) (operate.Pipeline, app.Config, func(), error) {
	var cfg app.Config
	if err := config.Load(&cfg.Schedule, &cfg.Worker, &cfg.Lake); err != nil {
		return operate.Pipeline{}, cfg, nil, err
	}
	tc, t, err := c.dial(ctx)
	if err != nil {
		return operate.Pipeline{}, cfg, nil, err
	}
	cfg.Temporal = t
	return cfg.Pipeline(tc), cfg, tc.Close, nil
}

// scheduleID is the schedule the environment names (TEMPORAL_SCHEDULE_ID).
func (c *cli) scheduleID() (string, error) {
	var s app.ScheduleConfig
	return s.ID, config.Load(&s)
}

// lakehouse opens the lakehouse from the lake settings alone.
func (c *cli) lakehouse(ctx context.Context) (*lake.Lakehouse, error) {
	var lc lake.Config
	if err := config.Load(&lc); err != nil {
		return nil, err
	}
	return lc.OpenLakehouse(ctx)
}

// withClient runs fn with a Temporal client, closed after.
func (c *cli) withClient(ctx context.Context, fn func(client.Client) error) error {
	tc, _, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	return fn(tc)
}
