package wistia

import "time"

// AccountRateLimit requests per AccountRatePeriod is Wistia's published budget for an account,
// shared by every client of that account; WISTIA_RATE_LIMIT and WISTIA_RATE_PERIOD default to it.
const (
	AccountRateLimit  = 600
	AccountRatePeriod = time.Minute
)
