// Command demo runs the whole pipeline on this machine (make demo), or keeps the stack up for
// exploring it (make dev, or demo --dev). See the README.
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	dev := flag.Bool("dev", false, "keep the stack running until Ctrl-C")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Demo(ctx, *dev, os.Stdout, os.Stderr))
}
