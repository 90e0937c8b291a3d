package dates

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAndRange(t *testing.T) {
	d, err := Parse("2024-02-28")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2024, 2, 28, 0, 0, 0, 0, time.UTC), d.Time())
	assert.Equal(t, d, DateOf(time.Date(2024, 2, 28, 23, 59, 59, 0, time.UTC)))
	days := Range(d, DateOf(time.Date(2024, 3, 1, 23, 0, 0, 0, time.UTC)))
	assert.Equal(t, []string{"2024-02-28", "2024-02-29", "2024-03-01"}, Strings(days), "inclusive, through a leap day")
	assert.Nil(t, Range(d, d.AddDays(-1)))
	assert.Equal(t, 2, days[2].DaysSince(d))
	assert.Equal(t, "1969-12-31", DateOf(time.Date(1969, 12, 31, 12, 0, 0, 0, time.UTC)).String(), "days before 1970 count down")

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
	assert.Equal(t, "2027-03-13", ny.Day(at).String())
	assert.Equal(t, "2027-03-14", kolkata.Day(at).String(), "09:00 in Kolkata")
	assert.Equal(t, "2027-03-14", UTC.Day(at).String())
	assert.Equal(t, "2027-03-12", ny.LastEnded(at).String())

	// New York's day of 14 March 2027 has 23 hours: clocks go forward at 02:00.
	d, _ := Parse("2027-03-14")
	assert.Equal(t, time.Date(2027, 3, 14, 5, 0, 0, 0, time.UTC), ny.Start(d).UTC())
	assert.Equal(t, 23*time.Hour, ny.Start(d.AddDays(1)).Sub(ny.Start(d)))
	assert.Equal(t, time.Date(2027, 3, 13, 18, 30, 0, 0, time.UTC), kolkata.Start(d).UTC())

	assert.Equal(t, "UTC-05:00", ny.Offset(ny.Start(d)))
	assert.Equal(t, "UTC-04:00", ny.Offset(ny.Start(d.AddDays(1))))
	assert.Equal(t, "UTC+05:30", kolkata.Offset(at))
	assert.Equal(t, "UTC", UTC.Offset(at))
	assert.Equal(t, "UTC+13:45", FormatOffset(13*time.Hour+45*time.Minute))
}

// A Date travels as the string it replaced: payloads recorded with "YYYY-MM-DD" strings read
// back, and an empty string is no day.
func TestDateText(t *testing.T) {
	type payload struct {
		Day  Date   `json:"day"`
		Days []Date `json:"days"`
		None Date   `json:"none"`
	}
	var p payload
	require.NoError(t, json.Unmarshal([]byte(`{"day":"2026-12-04","days":["2026-12-03","2026-12-04"],"none":""}`), &p))
	want, _ := Parse("2026-12-04")
	assert.Equal(t, payload{Day: want, Days: []Date{want.AddDays(-1), want}}, p)
	assert.True(t, p.None.IsZero())
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.JSONEq(t, `{"day":"2026-12-04","days":["2026-12-03","2026-12-04"],"none":""}`, string(b))
	assert.ErrorContains(t, json.Unmarshal([]byte(`{"day":"04/12/2026"}`), &p), `"04/12/2026"`)
}
