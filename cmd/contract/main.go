// Command contract checks the live Wistia Data API against Wistia's published OpenAPI spec: a
// handful of read-only requests through the pipeline's own client (its retry policy and rate
// limiter), each answer validated against the spec and typed by the tolerant decoder. It spends
// well under 1% of the account's hourly request budget and says how much. `make contract-live`
// runs it; CI runs that nightly.
//
//	contract [--per-page N] [--days N] [--media HASHED_ID] [--visitor KEY]
//
// It reads WISTIA_API_TOKEN, which it needs, and the other WISTIA_* settings as the worker does
// (WISTIA_BASE_URL defaults to https://api.wistia.com/v1). Exit status: 0 when every answer keeps
// the contract, 1 when one does not, 2 for a bad command line or configuration.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/wistia"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// maxDays bounds --days: the check asks about a short range.
const maxDays = 31

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], time.Now(), os.Stdout, os.Stderr))
}

// run is the command at now: the stats and events asked for are of the closed days before now.
func run(ctx context.Context, args []string, now time.Time, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("contract", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t target
	perPage := fs.Int("per-page", 5, fmt.Sprintf("records per list page, 1 to %d", wistia.MaxPerPage))
	days := fs.Int("days", 7, fmt.Sprintf("closed days, ending yesterday (UTC), of stats and events asked for; 1 to %d", maxDays))
	fs.StringVar(&t.media, "media", "", "hashed ID of the media to ask about; empty: the first one listed")
	fs.StringVar(&t.visitor, "visitor", "", "visitor key to ask about; empty: the first one in the events page")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "contract: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *perPage < 1 || *perPage > wistia.MaxPerPage:
		fmt.Fprintf(stderr, "contract: --per-page %d: want 1 to %d\n", *perPage, wistia.MaxPerPage)
		return 2
	case *days < 1 || *days > maxDays:
		fmt.Fprintf(stderr, "contract: --days %d: want 1 to %d\n", *days, maxDays)
		return 2
	}
	t.end = dates.UTC.LastEnded(now)
	t.start = t.end.AddDays(1 - *days)

	var cfg wistia.Config
	loadErr := config.Load(&cfg)
	if loadErr != nil {
		fmt.Fprintln(stderr, "contract:", loadErr)
	}
	if !cfg.APIToken.IsSet() {
		fmt.Fprintln(stderr, "contract: WISTIA_API_TOKEN is not set: this check calls the live Wistia API and needs an API token (a read-only one will do)")
		return 2
	}
	if loadErr != nil {
		return 2
	}
	cfg.PerPage = *perPage

	spec, err := loadContract(wistiasim.OpenAPISpec())
	if err != nil {
		fmt.Fprintln(stderr, "contract:", err)
		return 1
	}
	tap, err := newTap(cfg.BaseURL)
	if err != nil {
		fmt.Fprintln(stderr, "contract:", err)
		return 2
	}
	client, err := wistia.New(cfg, wistia.WithHTTPClient(tap.client()))
	if err != nil {
		fmt.Fprintln(stderr, "contract:", err)
		return 2
	}
	if !check(ctx, client, tap, spec, t, stdout) {
		return 1
	}
	return 0
}
