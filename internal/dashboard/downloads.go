package dashboard

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/marketing-data/wistia-pipeline/csvsafe"
)

// A table a page shows downloads as CSV from the API it was drawn from: the same query with
// format=csv (and, for a media's page, table=days or table=countries) gives the same rows,
// one header line first, text guarded against spreadsheet formulas (csvsafe).

// downloadTable is the table of a report as rows, and the file name a download saves it as.
func downloadTable(v any, table string) (file string, cols []string, rows [][]any, err error) {
	totals := func(t Totals) []any { return []any{t.Plays, t.Loads, t.HoursWatched, t.PlayRate} }
	totalCols := []string{"plays", "loads", "hours_watched", "play_rate"}
	switch rep := v.(type) {
	case ChannelsReport:
		for _, c := range rep.Channels {
			rows = append(rows, append([]any{c.Channel}, totals(c.Total)...))
		}
		return fileName("channels", rep.Range), append([]string{"channel"}, totalCols...), rows, nil
	case TopMediaReport:
		for i, m := range rep.Media {
			rows = append(rows, append([]any{i + 1, m.MediaID, m.Title, m.Channel}, totals(m.Totals)...))
		}
		return fileName("top-media", rep.Range), append([]string{"rank", "media_id", "title", "channel"}, totalCols...), rows, nil
	case MediaReport:
		switch table {
		case "", "days":
			for _, d := range rep.Days {
				rows = append(rows, append([]any{d.Start}, totals(d.Totals)...))
			}
			return fileName("media-"+rep.Media.MediaID+"-days", rep.Range), append([]string{"date"}, totalCols...), rows, nil
		case "countries":
			for _, c := range rep.Countries {
				rows = append(rows, []any{c.Country, c.Plays, c.Visitors})
			}
			return fileName("media-"+rep.Media.MediaID+"-countries", rep.Range), []string{"country", "plays", "visitors"}, rows, nil
		}
		return "", nil, nil, badRequest{fmt.Sprintf("table %q: want days or countries", table)}
	}
	return "", nil, nil, badRequest{"format csv: this report has no table to download"}
}

// fileName is a download's file name: what it is and its range. Media ids are letters and
// digits; anything else is dropped so the name is always safe in a header.
func fileName(what string, r Range) string {
	name := strings.Map(func(c rune) rune {
		if c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return c
		}
		return -1
	}, what+"_"+r.From+"_"+r.To)
	return name + ".csv"
}

// writeDownload answers a format=csv request with the report's table.
func writeDownload(w http.ResponseWriter, req *http.Request, v any) error {
	file, cols, rows, err := downloadTable(v, req.URL.Query().Get("table"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+file+`"`)
	w.Header().Set("Cache-Control", "no-store")
	return csvsafe.Write(w, cols, rows)
}
