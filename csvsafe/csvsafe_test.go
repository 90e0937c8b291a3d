package csvsafe

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteNeutralisesFormulas(t *testing.T) {
	var out bytes.Buffer
	rows := [][]any{{"=HYPERLINK(\"http://evil\")", int64(3)}, {"+1", -1.5}, {"-cmd", nil}, {"@SUM(A1)", true},
		{"\t=1+1", 0.25}, {"plain", int64(-2)}}
	require.NoError(t, Write(&out, []string{"title", "n"}, rows))
	got, err := csv.NewReader(&out).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"title", "n"}, {`'=HYPERLINK("http://evil")`, "3"}, {"'+1", "-1.5"}, {"'-cmd", ""},
		{"'@SUM(A1)", "true"}, {"'\t=1+1", "0.25"}, {"plain", "-2"}}, got, "text starting a formula is quoted; numbers stay numbers")
}
