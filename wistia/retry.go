package wistia

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy is the project's one HTTP retry policy. 429 and 503 wait for Retry-After;
// other 5xx, timeouts, resets and malformed bodies back off exponentially with full jitter.
type RetryPolicy struct {
	// MaxAttempts bounds the tries of one request, the first included.
	MaxAttempts int
	// BaseDelay is the backoff ceiling of the first retry; it doubles per retry up to MaxDelay.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxRetryAfter caps how long a Retry-After may make us wait before one retry; a server
	// asking for longer fails the request instead of stalling a worker for hours.
	MaxRetryAfter time.Duration
	// jitter returns a float in [0, 1); nil means math/rand. Tests make it deterministic.
	jitter func() float64
}

// Delay is how long to wait before retry number retry (1 for the first retry) after an answer
// that asked for retryAfter (zero when it did not). ok is false when the wait the server asks
// for exceeds MaxRetryAfter.
func (p RetryPolicy) Delay(retry int, retryAfter time.Duration) (d time.Duration, ok bool) {
	if retryAfter > 0 {
		return retryAfter, retryAfter <= p.MaxRetryAfter
	}
	jitter := p.jitter
	if jitter == nil {
		jitter = rand.Float64
	}
	// Full jitter: uniform in [0, ceiling) spreads retries of many clients apart.
	return time.Duration(jitter() * float64(p.Ceiling(retry))), true
}

// Ceiling is the longest backoff before retry number retry (1 for the first retry): BaseDelay
// doubled per retry, up to MaxDelay.
func (p RetryPolicy) Ceiling(retry int) time.Duration {
	if shift := retry - 1; shift < 62 && p.BaseDelay <= p.MaxDelay>>shift {
		return p.BaseDelay << shift
	}
	return p.MaxDelay
}

// ParseRetryAfter reads a Retry-After header in either of its HTTP forms: delay-seconds or an
// HTTP-date (relative to now). It returns 0 when the header is absent or unreadable.
func ParseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(value, 64); err == nil {
		switch {
		case math.IsNaN(secs) || secs <= 0:
			return 0
		case secs >= float64(math.MaxInt64)/float64(time.Second):
			return math.MaxInt64 // longer than any cap: the request gives up
		}
		return time.Duration(secs * float64(time.Second))
	}
	if at, err := http.ParseTime(value); err == nil {
		if d := at.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
