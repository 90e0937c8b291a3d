// Command wistiasim serves the Wistia Data API simulator on its own, for local runs and demos.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/internal/httpserve"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wistiasim:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg wistiasim.Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	sim, err := wistiasim.New(cfg.Options())
	if err != nil {
		return err
	}
	sim.SetFaults(cfg.Faults())
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on SIM_ADDR=%s: %w", cfg.Addr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.Info("wistia simulator serving", "base_url", "http://"+ln.Addr().String()+wistiasim.BasePath,
		"medias", len(sim.MediaIDs()), "seed", cfg.Seed, "now", sim.Now().Format(time.RFC3339))
	if err := httpserve.Serve(ctx, ln, sim.Handler()); err != nil {
		return err
	}
	stats := sim.Stats()
	slog.Info("wistia simulator stopped", "requests", stats.Requests, "over_limit", stats.OverLimit)
	return nil
}
