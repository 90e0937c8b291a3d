// Command healthcheck is the container health probe of the project's image, which is distroless:
// no shell, curl or wget. It sends one GET to a URL and exits 0 when the answer has the expected
// status, 1 otherwise (Docker reserves exit code 2).
//
//	healthcheck [-status 200] [-timeout 3s] URL
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	status := fs.Int("status", http.StatusOK, "the HTTP status a healthy server answers")
	timeout := fs.Duration("timeout", 3*time.Second, "bound on the whole request")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: healthcheck [-status 200] [-timeout 3s] URL")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one URL, got %d arguments", fs.NArg())
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fs.Arg(0), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != *status {
		return fmt.Errorf("GET %s: status %d, want %d", fs.Arg(0), resp.StatusCode, *status)
	}
	return nil
}
