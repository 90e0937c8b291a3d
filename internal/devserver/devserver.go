// Package devserver runs the Temporal dev server (`temporal server start-dev`) the way the
// pipeline needs it: on loopback, with the WistiaDate search attribute, ready when its
// namespace answers. The demo and the tests both start it here.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Options say which binary to run and where.
type Options struct {
	CLI       string // path of the temporal CLI
	Port      int    // frontend gRPC port
	UIPort    int    // Web UI port
	Namespace string // created at start; "default" when empty
	DBFile    string // persistent state; in memory when empty
	LogLevel  string // "warn" when empty
	Log       io.Writer
}

// ErrExited is a dev server that ended before its namespace answered (its log says why).
var ErrExited = errors.New("the dev server exited while starting")

// Server is a running dev server.
type Server struct {
	Address   string // gRPC host:port
	UI        string // Web UI base URL
	Namespace string
	cmd       *exec.Cmd
	exited    chan struct{}
}

// Start runs the dev server and waits up to a minute until its namespace answers.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	s := &Server{Address: fmt.Sprintf("127.0.0.1:%d", o.Port), UI: fmt.Sprintf("http://127.0.0.1:%d", o.UIPort),
		Namespace: o.Namespace, exited: make(chan struct{})}
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(o.Port), "--ui-port", strconv.Itoa(o.UIPort),
		"--namespace", o.Namespace, "--search-attribute", "WistiaDate=Keyword", "--log-level", o.LogLevel}
	if o.DBFile != "" {
		args = append(args, "--db-filename", o.DBFile)
	}
	s.cmd = exec.Command(o.CLI, args...)
	s.cmd.Stdout, s.cmd.Stderr = o.Log, o.Log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Stop reaches its children too
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.CLI, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(time.Minute)
	for {
		check := exec.CommandContext(ctx, o.CLI, "operator", "namespace", "describe", "--namespace", o.Namespace, "--address", s.Address)
		if check.Run() == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%w (is port %d or %d taken?)", ErrExited, o.Port, o.UIPort)
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.Stop()
			return nil, fmt.Errorf("the dev server did not answer on %s within a minute", s.Address)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop ends the server (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (s *Server) Stop() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}
