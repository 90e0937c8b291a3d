package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// runStatus is what status reports of a date's run.
type runStatus struct {
	WorkflowID string             `json:"workflow_id"`
	RunID      string             `json:"run_id"`
	Status     string             `json:"status"`
	Started    time.Time          `json:"started"`
	Progress   workflows.Progress `json:"progress"`
}

// rows flattens the status into named fields, in order.
func (s runStatus) rows() (cols []string, vals []any) {
	p := s.Progress
	add := func(c string, v any) { cols, vals = append(cols, c), append(vals, v) }
	add("workflow_id", s.WorkflowID)
	add("run_id", s.RunID)
	add("status", s.Status)
	add("started", s.Started.Format(time.RFC3339))
	add("date", p.Date)
	add("zone", p.Zone)
	add("final", finalDay(s.Status, p))
	add("zone_check", zoneCheck(p))
	add("mode", p.Mode)
	add("phase", p.Phase)
	add("medias_done", p.MediasDone)
	add("medias_total", p.MediasTotal)
	add("skipped", p.Skipped)
	add("records", p.Records)
	add("requests", p.Requests)
	add("quarantined", p.Quarantined)
	add("merged", strings.Join(dates.Strings(p.Merged), " "))
	add("error", p.Error)
	return cols, vals
}

// finalDay says which day of the account's zone the run has made final: its date, once it is
// done; nothing while it runs or when it failed.
func finalDay(status string, p workflows.Progress) string {
	if status != "completed" || p.Phase != workflows.PhaseDone {
		return ""
	}
	return p.Date + " (" + cmp.Or(p.Zone, "UTC") + ")"
}

// zoneCheck is "ok", or the windows whose events fit another zone than the configured one.
func zoneCheck(p workflows.Progress) string {
	if len(p.OffZone) == 0 {
		return "ok"
	}
	lines := make([]string, len(p.OffZone))
	for i, w := range p.OffZone {
		lines[i] = w.String()
	}
	return strings.Join(lines, "; ")
}

func statusCmd(c *cli) *cobra.Command {
	var date, format string
	cmd := &cobra.Command{
		Use:   "status [--date YYYY-MM-DD]",
		Short: "Show the progress of a date's run, or of the latest run",
		Example: `  starter status
  starter status --date 2026-11-24 --format json | jq .progress.phase`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := oneOf("format", format, formats...); err != nil {
				return err
			}
			if _, err := dates.Parse(date); date != "" && err != nil {
				return usagef("--date %q: want YYYY-MM-DD", date)
			}
			tc, t, err := c.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer tc.Close()
			query := fmt.Sprintf(`WorkflowType = %q`, workflows.DailyRunType)
			if date != "" {
				query += fmt.Sprintf(` AND %s = %q`, workflows.DateAttribute.GetName(), date)
			}
			resp, err := tc.ListWorkflow(cmd.Context(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: t.Namespace, Query: query, PageSize: 1})
			if err != nil {
				return fmt.Errorf("list runs: %w", err)
			}
			if len(resp.Executions) == 0 {
				if date == "" {
					return errors.New("no run found")
				}
				return fmt.Errorf("no run found for %s", date)
			}
			e := resp.Executions[0]
			st := runStatus{WorkflowID: e.Execution.WorkflowId, RunID: e.Execution.RunId, Started: e.StartTime.AsTime().UTC(),
				Status: strings.ToLower(strings.TrimPrefix(e.Status.String(), "WORKFLOW_EXECUTION_STATUS_"))}
			v, err := tc.QueryWorkflow(cmd.Context(), st.WorkflowID, st.RunID, workflows.ProgressQuery)
			if err != nil {
				return fmt.Errorf("query progress of %s: %w", st.WorkflowID, err)
			}
			if err := v.Get(&st.Progress); err != nil {
				return err
			}
			switch format {
			case "json":
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			case "csv":
				cols, vals := st.rows()
				return writeRows(c.stdout, format, cols, [][]any{vals})
			}
			cols, vals := st.rows()
			rows := make([][]any, len(cols))
			for i := range cols {
				rows[i] = []any{cols[i], vals[i]}
			}
			return writeRows(c.stdout, "table", []string{"field", "value"}, rows)
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "the logical date, YYYY-MM-DD; the latest run when empty")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, csv or json")
	return cmd
}
