package wistia

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
)

func TestCheckRunDay(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC) // half an hour into the 26th
	first, last := ServedDays(dates.UTC, now)
	assert.Equal(t, "2024-11-27", first.String(), "two years back, plus one day the API may have cut")
	assert.Equal(t, "2026-11-25", last.String(), "yesterday: the last day that has ended")
	for _, c := range []struct {
		day, err string
	}{
		{"2026-11-25", ""},
		{"2024-11-27", ""},
		{"2026-11-26", "date 2026-11-26 has not ended yet: pick a day from 2024-11-27 to 2026-11-25 (UTC)"},
		{"2026-12-20", "date 2026-12-20 has not ended yet: pick a day from 2024-11-27 to 2026-11-25 (UTC)"},
		{"2024-11-26", "date 2024-11-26 is past the API's 2-year retention: pick a day from 2024-11-27 to 2026-11-25 (UTC)"},
	} {
		d, err := dates.Parse(c.day)
		require.NoError(t, err)
		if err := CheckRunDay(dates.UTC, d, now); c.err == "" {
			assert.NoError(t, err, c.day)
		} else {
			assert.EqualError(t, err, c.err)
		}
	}
	old, _ := dates.Parse("2020-01-01")
	assert.NoError(t, CheckEndedDay(dates.UTC, old, now), "bronze is kept for good: a transform may read any ended day")
	tomorrow, _ := dates.Parse("2026-11-27")
	assert.EqualError(t, CheckEndedDay(dates.UTC, tomorrow, now), "date 2026-11-27 has not ended yet: pick a day up to 2026-11-25 (UTC)")
}

// In the account's zone, a day ends at its own midnight: at 03:00 UTC on the 26th, Los
// Angeles' 25th has 5 hours to go and Tokyo's 26th is half over.
func TestCheckRunDayInTheAccountsZone(t *testing.T) {
	now := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	la, err := dates.LoadZone("America/Los_Angeles")
	require.NoError(t, err)
	tokyo, err := dates.LoadZone("Asia/Tokyo")
	require.NoError(t, err)
	_, last := ServedDays(la, now)
	assert.Equal(t, "2026-11-24", last.String())
	_, last = ServedDays(tokyo, now)
	assert.Equal(t, "2026-11-25", last.String())
	d25, _ := dates.Parse("2026-11-25")
	assert.EqualError(t, CheckRunDay(la, d25, now), "date 2026-11-25 has not ended yet: pick a day from 2024-11-26 to 2026-11-24 (America/Los_Angeles)")
	assert.NoError(t, CheckRunDay(tokyo, d25, now))
}

func TestCatchUpPolicyRange(t *testing.T) {
	now := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	target := dates.DateOf(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
	d := func(s string) dates.Date { t, _ := dates.Parse(s); return t }
	ptr := func(t dates.Date) *dates.Date { return &t }
	cases := []struct {
		name       string
		policy     CatchUpPolicy
		mark       *dates.Date
		start, end string
		ok         bool
	}{
		{"watermark minus lookback", CatchUpPolicy{LookbackDays: 2}, ptr(d("2026-11-23")), "2026-11-21", "2026-11-24", true},
		{"caught up still re-reads the lookback", CatchUpPolicy{LookbackDays: 2}, ptr(d("2026-11-24")), "2026-11-22", "2026-11-24", true},
		{"no lookback", CatchUpPolicy{}, ptr(d("2026-11-20")), "2026-11-20", "2026-11-24", true},
		{"no watermark: configured first day", CatchUpPolicy{LookbackDays: 2, FirstDay: d("2026-10-01")}, nil, "2026-10-01", "2026-11-24", true},
		{"no watermark, no first day: 30 days", CatchUpPolicy{LookbackDays: 2}, nil, "2026-10-25", "2026-11-24", true},
		{"clamped to the 2-year retention", CatchUpPolicy{FirstDay: d("2020-01-01")}, nil, "2024-11-26", "2026-11-24", true},
		{"watermark ahead of the target", CatchUpPolicy{LookbackDays: 2}, ptr(d("2026-11-30")), "2026-11-28", "2026-11-24", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mark dates.Date
			if c.mark != nil {
				mark = *c.mark
			}
			start, end, ok := c.policy.Range(mark, c.mark != nil, target, now)
			assert.Equal(t, c.start, start.String())
			assert.Equal(t, c.end, end.String())
			assert.Equal(t, c.ok, ok)
		})
	}
}
