package wistia

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRetryPolicyDelay(t *testing.T) {
	policy := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, MaxRetryAfter: time.Minute}

	t.Run("full jitter spans zero to the exponential ceiling", func(t *testing.T) {
		cases := []struct {
			retry   int
			jitter  float64
			want    time.Duration
			comment string
		}{
			{1, 0, 0, "lowest draw waits nothing"},
			{1, 0.5, 50 * time.Millisecond, "half of base"},
			{2, 0.5, 100 * time.Millisecond, "ceiling doubled to 200ms"},
			{3, 0.999, 399600 * time.Microsecond, "ceiling 400ms"},
			{5, 0.5, 500 * time.Millisecond, "1.6s capped at 1s"},
			{80, 0.5, 500 * time.Millisecond, "huge shift does not overflow"},
			{62, 0.5, 500 * time.Millisecond, "a shift that would wrap around stays capped"},
		}
		for _, c := range cases {
			p := policy
			p.jitter = func() float64 { return c.jitter }
			got, ok := p.Delay(c.retry, 0)
			assert.True(t, ok)
			assert.Equal(t, c.want, got, c.comment)
		}
	})

	t.Run("Retry-After wins over backoff", func(t *testing.T) {
		p := policy
		p.jitter = func() float64 { return 0.9 }
		got, ok := p.Delay(1, 7*time.Second)
		assert.True(t, ok)
		assert.Equal(t, 7*time.Second, got)
	})

	t.Run("Retry-After beyond the cap gives up", func(t *testing.T) {
		_, ok := policy.Delay(1, 2*time.Minute)
		assert.False(t, ok)
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 120 ":                         2 * time.Minute,
		"0.5":                           500 * time.Millisecond,
		"-1":                            0,
		"soon":                          0,
		"Wed, 25 Nov 2026 12:00:30 GMT": 30 * time.Second,
		"Wed, 25 Nov 2026 11:59:00 GMT": 0, // in the past
		"NaN":                           0,
		"1e12":                          math.MaxInt64, // beyond any cap, so the request gives up
	}
	for header, want := range cases {
		assert.Equal(t, want, ParseRetryAfter(header, now), "Retry-After %q", header)
	}
}
