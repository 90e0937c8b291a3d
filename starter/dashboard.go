package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/internal/dashboard"
	"github.com/marketing-data/wistia-pipeline/internal/httpserve"
	"github.com/marketing-data/wistia-pipeline/lake"
)

func dashboardCmd(c *cli) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve the marketing dashboard: channels over time, top media, a page per media",
		Long: `dashboard serves the marketing team's dashboard and its JSON API (/api/...) from the gold
tables of the lakehouse, until interrupted. Its pages and scripts are built into the binary;
nothing is fetched from elsewhere. It listens on this machine only unless --addr says otherwise.`,
		Example: `  starter dashboard
  starter dashboard --addr 127.0.0.1:9000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return usagef("--addr %q: want host:port", addr)
			}
			lh, err := c.lakehouse(cmd.Context())
			if err != nil {
				return err
			}
			defer lh.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("dashboard: %w", err)
			}
			return serveDashboard(cmd.Context(), ln, lh, c)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", dashboard.DefaultAddr, "host:port to listen on")
	return cmd
}

// serveDashboard serves until ctx ends, then lets requests in flight finish.
// Behind the stack's load balancer (DASHBOARD_ALB_ARN set), every path but the health check
// requires the load balancer's sign-in.
func serveDashboard(ctx context.Context, ln net.Listener, lh *lake.Lakehouse, c *cli) error {
	var auth dashboard.AuthConfig
	if err := config.Load(&auth); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, nil))
	reports := dashboard.NewReports(lh)
	// Gold is read while the server starts listening: the first page is then served from
	// memory (a year of gold takes a second or two to read). A failure is the first request's
	// to report, since it reads again.
	go func() {
		if err := reports.Load(ctx); err != nil {
			logger.Warn("dashboard: reading gold at start failed", "error", err)
		}
	}()
	h := dashboard.Handler(reports, logger)
	if auth.Enabled() {
		h = dashboard.NewALBAuth(auth, time.Now).Wrap(h, logger.Warn)
		fmt.Fprintf(c.stdout, "dashboard: sign-in through %s, for %v\n", auth.ALBARN, auth.AllowedDomains)
	}
	fmt.Fprintf(c.stdout, "dashboard: http://%s/\n", ln.Addr())
	return httpserve.Serve(ctx, ln, h)
}
