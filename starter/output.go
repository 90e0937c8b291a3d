package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
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
		w := csv.NewWriter(out)
		_ = w.Write(cols)
		for _, r := range rows {
			cells := make([]string, len(r))
			for i, v := range r {
				cells[i] = csvCell(v)
			}
			_ = w.Write(cells)
		}
		w.Flush()
		return w.Error()
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

// csvCell neutralises text a spreadsheet would run as a formula (=, +, -, @, and tab or
// carriage return before them) by putting a quote in front; numbers are left as they are.
func csvCell(v any) string {
	s, isText := v.(string)
	if !isText {
		return cell(v)
	}
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
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
