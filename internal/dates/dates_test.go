package dates

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAndRange(t *testing.T) {
	d, err := Parse("2024-02-28")
	require.NoError(t, err)
	days := Range(d, time.Date(2024, 3, 1, 23, 0, 0, 0, time.UTC))
	var got []string
	for _, day := range days {
		got = append(got, Format(day))
	}
	assert.Equal(t, []string{"2024-02-28", "2024-02-29", "2024-03-01"}, got, "inclusive, through a leap day")
	assert.Nil(t, Range(d, AddDays(d, -1)))

	_, err = Parse("28/02/2024")
	assert.ErrorContains(t, err, `"28/02/2024"`)
}

func TestZoneDays(t *testing.T) {
	ny, err := LoadZone("America/New_York")
	require.NoError(t, err)
	kolkata, err := LoadZone("Asia/Kolkata")
	require.NoError(t, err)
	utc, err := LoadZone("")
	require.NoError(t, err)
	assert.Equal(t, UTC, utc)
	_, err = LoadZone("Mars/Olympus")
	assert.ErrorContains(t, err, `"Mars/Olympus"`)

	at := time.Date(2027, 3, 14, 3, 30, 0, 0, time.UTC) // 23:30 on the 13th in New York (EST)
	assert.Equal(t, "2027-03-13", Format(ny.Day(at)))
	assert.Equal(t, "2027-03-14", Format(kolkata.Day(at)), "09:00 in Kolkata")
	assert.Equal(t, "2027-03-14", Format(UTC.Day(at)))
	assert.Equal(t, "2027-03-12", Format(ny.LastEnded(at)))

	// New York's day of 14 March 2027 has 23 hours: clocks go forward at 02:00.
	d, _ := Parse("2027-03-14")
	assert.Equal(t, time.Date(2027, 3, 14, 5, 0, 0, 0, time.UTC), ny.Start(d).UTC())
	assert.Equal(t, 23*time.Hour, ny.Start(AddDays(d, 1)).Sub(ny.Start(d)))
	assert.Equal(t, time.Date(2027, 3, 13, 18, 30, 0, 0, time.UTC), kolkata.Start(d).UTC())

	assert.Equal(t, "UTC-05:00", ny.Offset(ny.Start(d)))
	assert.Equal(t, "UTC-04:00", ny.Offset(ny.Start(AddDays(d, 1))))
	assert.Equal(t, "UTC+05:30", kolkata.Offset(at))
	assert.Equal(t, "UTC", UTC.Offset(at))
	assert.Equal(t, "UTC+13:45", FormatOffset(13*time.Hour+45*time.Minute))
}
