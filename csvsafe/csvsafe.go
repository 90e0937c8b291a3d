// Package csvsafe writes rows as CSV that a spreadsheet opens as data: a text cell that would
// start a formula (=, +, -, @, or a tab or carriage return before one) gets a quote in front,
// so a media title from the API cannot run in the marketing team's spreadsheet. `starter
// query --format csv` and the dashboard's downloads write through it.
package csvsafe

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
)

// Write writes a header of cols, then rows, each value through Cell.
func Write(out io.Writer, cols []string, rows [][]any) error {
	w := csv.NewWriter(out)
	if err := w.Write(cols); err != nil {
		return err
	}
	cells := make([]string, len(cols))
	for _, r := range rows {
		cells = cells[:0]
		for _, v := range r {
			cells = append(cells, Cell(v))
		}
		if err := w.Write(cells); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// Cell is v as a CSV cell: nil is empty, numbers and booleans as Go prints them, and text
// that would start a formula with a quote in front.
func Cell(v any) string {
	if v == nil {
		return ""
	}
	s, isText := v.(string)
	if !isText {
		return fmt.Sprint(v)
	}
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
