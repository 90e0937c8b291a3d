package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/marketing-data/wistia-pipeline/internal/app"
	"github.com/marketing-data/wistia-pipeline/internal/doctor"
)

func doctorCmd(c *cli) *cobra.Command {
	var opts doctor.Options
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Prove, with real calls, that everything the worker uses answers and lets it work",
		Long: `doctor reads the worker's configuration (the same environment) and proves each dependency
and permission the worker uses: the Temporal namespace, the WistiaDate search attribute and the
schedule as configured; bronze (a conditional put under doctor/, read back, listed, and a HEAD of
a missing key that must be not-found); the warehouse (put, get, list, delete) and both catalog
namespaces; a conditional update and delete in the state table; the alert destinations; one
Wistia request inside the shared budget; with DASHBOARD_URL set (the stack sets it), that the
dashboard's load balancer sends every unsigned request to the identity provider. One line per check, with what to fix when it fails;
no secret is printed. It exits 1 when any check fails. The deploy runs it as a one-off task
under the worker's role after every deploy.`,
		Example: `  starter doctor
  starter doctor --send-test-alert`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := c.temporalConfig(); err != nil { // --address and --namespace stand in for the environment
				return err
			}
			cfg, err := app.LoadConfig()
			if err != nil {
				return err
			}
			results := doctor.Run(cmd.Context(), cfg, opts, c.stdout)
			if n := doctor.Failed(results); n > 0 {
				return fmt.Errorf("%d of %d checks failed", n, len(results))
			}
			fmt.Fprintf(c.stdout, "all %d checks passed\n", len(results))
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.SendTestAlert, "send-test-alert", false, "send a test message to every alert destination instead of only reaching them")
	return cmd
}
