package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/marketing-data/wistia-pipeline/csvsafe"
)

// formats are the output formats of status and query.
var formats = []string{"table", "csv", "json"}

// writeRows writes rows in a format: an aligned table for people, CSV for spreadsheets, or
// JSON lines, one object per row, for programs.
func writeRows(out io.Writer, format string, cols []string, rows [][]any) error {
	switch format {
	case "json":
		enc := json.NewEncoder(out)
		for _, r := range rows {
			obj := make(map[string]any, len(cols))
			for i, c := range cols {
				obj[c] = r[i]
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		return csvsafe.Write(out, cols, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = terminalCell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func cell(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// terminalCell drops control characters (escape sequences, carriage returns, tabs) from text
// that came from the API, so a media title cannot move the cursor or recolour the terminal.
func terminalCell(v any) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, cell(v))
}
