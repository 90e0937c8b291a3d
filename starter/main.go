// Command starter is the operator CLI: it manages the wistia-daily schedule, starts runs,
// backfills and transforms (or attaches to the one in flight), reports their status, replays
// recent histories against this build, and reads the silver and gold tables. `starter help`
// lists the commands; every command has --help with an example.
//
// Configuration comes from the same environment as the worker (see the README); each command
// reads only the settings it needs, and --address and --namespace override the environment.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	"github.com/marketing-data/wistia-pipeline/config"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // the operation failed
	exitUsage  = 2 // a bad command line or configuration
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(execute(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stderr)))
}

// isTerminal reports whether f is a terminal (a character device), for drawing progress bars.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// failure is an operation that ran and failed: exit status 1.
type failure struct{ err error }

func (f failure) Error() string { return f.err.Error() }
func (f failure) Unwrap() error { return f.err }

// execute runs the CLI and returns its exit status.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer, terminal bool) int {
	root := newRoot(&cli{stdout: stdout, stderr: stderr, terminal: terminal})
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var (
		ue usageError
		ce *config.Error
		fe failure
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		fmt.Fprintln(stderr, "starter:", err)
		return exitUsage
	case errors.As(err, &fe) && !errors.As(err, &ue):
		fmt.Fprintln(stderr, "starter:", err)
		return exitFailed
	default: // ours or cobra's: unknown command, bad flag, missing argument
		fmt.Fprintf(stderr, "starter: %s\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return exitUsage
	}
}

// cli is what every command shares: where output goes, and the flags over the environment.
type cli struct {
	stdout, stderr io.Writer
	terminal       bool // stderr is a terminal: progress draws a bar
	address        string
	namespace      string
}

func newRoot(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:   "starter",
		Short: "Operate the Wistia analytics pipeline",
		Long: `starter operates the Wistia analytics pipeline through Temporal: the wistia-daily
schedule, runs of a date, backfills and transforms, their status, and the lakehouse tables.
It reads the worker's environment (see the README); --address and --namespace override it.`,
		Example: `  starter schedule create
  starter backfill --from 2026-11-01 --to 2026-11-07 --wait
  starter query gold.fact_media_daily --from 2026-11-01 --to 2026-11-07 --format csv`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().StringVar(&c.address, "address", "", "Temporal frontend host:port (default $TEMPORAL_ADDRESS, else localhost:7233)")
	root.PersistentFlags().StringVar(&c.namespace, "namespace", "", "Temporal namespace (default $TEMPORAL_NAMESPACE, else default)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	root.AddCommand(scheduleCmd(c), runCmd(c), backfillCmd(c), transformCmd(c), statusCmd(c), doctorCmd(c), replayCmd(c), queryCmd(c), dashboardCmd(c), versionCmd(c))
	for _, cmd := range root.Commands() {
		wrapRun(cmd)
	}
	return root
}

// wrapRun marks the errors of a command's run (and its subcommands') as failures, unless
// they are usage or configuration errors, so execute can tell them from cobra's own.
func wrapRun(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			err := run(cmd, args)
			var (
				ue usageError
				ce *config.Error
			)
			if err == nil || errors.As(err, &ue) || errors.As(err, &ce) {
				return err
			}
			return failure{err}
		}
	}
	for _, sub := range cmd.Commands() {
		wrapRun(sub)
	}
}

// oneOf checks a flag value against the allowed ones.
func oneOf(flag, value string, allowed ...string) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return usagef("--%s %q: want %s", flag, value, strings.Join(allowed, ", "))
}
