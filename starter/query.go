package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/lake"
)

func queryCmd(c *cli) *cobra.Command {
	var (
		from, to, format string
		limit            int
	)
	cmd := &cobra.Command{
		Use:   "query TABLE",
		Short: "Print a silver or gold table's rows",
		Long: `query reads a table of the lakehouse (DATA_DIR or the configured catalog) and prints its rows;
--from and --to keep the days between them on day-partitioned tables. The tables are:
  ` + strings.Join(lake.TableNames(), "\n  "),
		Example: `  starter query gold.fact_media_daily --from 2026-11-01 --to 2026-11-07
  starter query gold.dim_media --format csv > media.csv
  starter query silver.events --limit 20 --format json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("query needs one table")
			}
			if !slices.Contains(lake.TableNames(), args[0]) {
				return usagef("unknown table %q: the tables are %s", args[0], strings.Join(lake.TableNames(), ", "))
			}
			return nil
		},
		ValidArgs: lake.TableNames(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("format", format, formats...); err != nil {
				return err
			}
			if limit < 0 {
				return usagef("--limit must be 0 (all rows) or more")
			}
			var f, t dates.Date
			if from != "" || to != "" {
				var err error
				if f, err = dates.Parse(from); err != nil {
					return usagef("--from %q: want YYYY-MM-DD", from)
				}
				if t, err = dates.Parse(to); err != nil {
					return usagef("--to %q: want YYYY-MM-DD", to)
				}
			}
			lh, err := c.lakehouse(cmd.Context())
			if err != nil {
				return err
			}
			defer lh.Close()
			res, err := lh.Read(cmd.Context(), args[0], f, t, limit)
			if err != nil {
				return fmt.Errorf("query %s: %w", args[0], err)
			}
			return writeRows(c.stdout, format, res.Columns, res.Rows)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the first day, YYYY-MM-DD (with --to)")
	cmd.Flags().StringVar(&to, "to", "", "the last day, YYYY-MM-DD (with --from)")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, csv or json (one object per line)")
	cmd.Flags().IntVar(&limit, "limit", 0, "stop after this many rows; 0 reads all")
	return cmd
}
