package lake

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/internal/dates"
)

func TestCheckRunDay(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC) // half an hour into the 26th
	first, last := ServedDays(dates.UTC, now)
	assert.Equal(t, "2024-11-27", dates.Format(first), "two years back, plus one day the API may have cut")
	assert.Equal(t, "2026-11-25", dates.Format(last), "yesterday: the last day that has ended")
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
	assert.Equal(t, "2026-11-24", dates.Format(last))
	_, last = ServedDays(tokyo, now)
	assert.Equal(t, "2026-11-25", dates.Format(last))
	d25, _ := dates.Parse("2026-11-25")
	assert.EqualError(t, CheckRunDay(la, d25, now), "date 2026-11-25 has not ended yet: pick a day from 2024-11-26 to 2026-11-24 (America/Los_Angeles)")
	assert.NoError(t, CheckRunDay(tokyo, d25, now))
}
