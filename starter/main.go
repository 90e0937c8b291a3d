// Command starter is the operator CLI: it manages the wistia-daily schedule, starts runs and
// backfills, reports progress, and reads the silver and gold tables.
//
//	starter schedule create|update|describe|pause|unpause|delete [--cron EXPR]
//	starter run --date YYYY-MM-DD [--wait]
//	starter backfill --from YYYY-MM-DD --to YYYY-MM-DD [--parallelism N] [--wait]
//	starter status [--date YYYY-MM-DD]
//	starter replay [--last N]
//	starter query TABLE [--from D --to D] [--format table|csv|json] [--limit N]
//
// Configuration comes from the same environment as the worker (see the README).
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/marketing-data/wistia-pipeline/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(app.Starter(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
