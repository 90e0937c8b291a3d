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
	first, last := ServedDays(now)
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
		if err := CheckRunDay(d, now); c.err == "" {
			assert.NoError(t, err, c.day)
		} else {
			assert.EqualError(t, err, c.err)
		}
	}
	old, _ := dates.Parse("2020-01-01")
	assert.NoError(t, CheckEndedDay(old, now), "bronze is kept for good: a transform may read any ended day")
	tomorrow, _ := dates.Parse("2026-11-27")
	assert.EqualError(t, CheckEndedDay(tomorrow, now), "date 2026-11-27 has not ended yet: pick a day up to 2026-11-25 (UTC)")
}
