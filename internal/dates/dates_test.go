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
