package wistiasim

import (
	"time"

	"github.com/marketing-data/wistia-pipeline/config"
)

// Config is the standalone simulator's settings, read by config.Load.
type Config struct {
	Addr             string        `envconfig:"SIM_ADDR" default:"127.0.0.1:8089"`
	Seed             int64         `envconfig:"SIM_SEED" default:"1"`
	Medias           int           `envconfig:"SIM_MEDIAS" default:"20"`
	Visitors         int           `envconfig:"SIM_VISITORS" default:"0"`
	HistoryDays      int           `envconfig:"SIM_HISTORY_DAYS" default:"30"`
	MeanEventsPerDay float64       `envconfig:"SIM_EVENTS_PER_DAY" default:"20"`
	Now              string        `envconfig:"SIM_NOW"`
	TimeZone         string        `envconfig:"SIM_TIMEZONE" default:"UTC"` // the zone of the API's stats days
	LateShare        float64       `envconfig:"SIM_LATE_SHARE" default:"0.05"`
	QuirkShare       float64       `envconfig:"SIM_QUIRK_SHARE" default:"0.05"`
	CorruptShare     float64       `envconfig:"SIM_CORRUPT_SHARE" default:"0"`
	DuplicateShare   float64       `envconfig:"SIM_DUPLICATE_SHARE" default:"0.01"`
	Token            string        `envconfig:"SIM_TOKEN" default:"sim-token"`
	RateLimit        int           `envconfig:"SIM_RATE_LIMIT" default:"600"`
	RatePeriod       time.Duration `envconfig:"SIM_RATE_PERIOD" default:"1m"`
	ErrorRate        float64       `envconfig:"SIM_ERROR_RATE" default:"0"`
	ResetRate        float64       `envconfig:"SIM_RESET_RATE" default:"0"`
	TruncateRate     float64       `envconfig:"SIM_TRUNCATE_RATE" default:"0"`
	InsertRate       float64       `envconfig:"SIM_INSERT_RATE" default:"0"`
	Latency          time.Duration `envconfig:"SIM_LATENCY" default:"0s"`
}

// Validate reports every bad value.
func (c Config) Validate() []error {
	var errs []error
	if c.Now != "" {
		if _, err := time.Parse(time.RFC3339, c.Now); err != nil {
			errs = append(errs, config.Invalid("SIM_NOW", c.Now, "an RFC 3339 time such as 2026-11-25T06:00:00Z, or empty for the real clock"))
		}
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		errs = append(errs, config.Invalid("SIM_TIMEZONE", c.TimeZone, "an IANA time zone such as UTC or America/Los_Angeles"))
	}
	if c.Medias < 0 {
		errs = append(errs, config.Invalid("SIM_MEDIAS", c.Medias, "0 or more"))
	}
	for name, v := range map[string]float64{
		"SIM_LATE_SHARE": c.LateShare, "SIM_QUIRK_SHARE": c.QuirkShare, "SIM_CORRUPT_SHARE": c.CorruptShare,
		"SIM_DUPLICATE_SHARE": c.DuplicateShare, "SIM_ERROR_RATE": c.ErrorRate, "SIM_RESET_RATE": c.ResetRate,
		"SIM_TRUNCATE_RATE": c.TruncateRate, "SIM_INSERT_RATE": c.InsertRate,
	} {
		if v < 0 || v > 1 {
			errs = append(errs, config.Invalid(name, v, "a share between 0 and 1"))
		}
	}
	return errs
}

// Options turns the settings into dataset options.
func (c Config) Options() Options {
	var now time.Time
	if c.Now != "" {
		now, _ = time.Parse(time.RFC3339, c.Now)
	}
	zone, _ := time.LoadLocation(c.TimeZone)
	rate := c.RateLimit
	if rate == 0 {
		rate = -1 // SIM_RATE_LIMIT=0 turns the limit off
	}
	return Options{
		Seed: c.Seed, Medias: c.Medias, Visitors: c.Visitors, HistoryDays: c.HistoryDays,
		MeanEventsPerDay: c.MeanEventsPerDay, Now: now, LateShare: c.LateShare, QuirkShare: c.QuirkShare,
		CorruptShare: c.CorruptShare, DuplicateShare: c.DuplicateShare, Token: c.Token,
		RateLimit: rate, RatePeriod: c.RatePeriod, Zone: zone,
	}
}

// Faults turns the settings into injected faults.
func (c Config) Faults() Faults {
	return Faults{ErrorRate: c.ErrorRate, ResetRate: c.ResetRate, TruncateRate: c.TruncateRate, InsertRate: c.InsertRate, Latency: c.Latency}
}
