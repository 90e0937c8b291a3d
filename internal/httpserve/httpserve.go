// Package httpserve is the one way the binaries serve HTTP (the simulator, the dashboard, the
// worker's metrics): until their context ends, then with a graceful shutdown.
package httpserve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// shutdownGrace is how long requests in flight get to finish once ctx ends.
const shutdownGrace = 5 * time.Second

// Serve serves h on ln until ctx ends, then stops accepting and lets requests in flight finish
// for a few seconds. It returns nil after a shutdown, or why serving stopped.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// Background serves h on ln in a goroutine until ctx ends (see Serve); the returned channel
// yields Serve's result.
func Background(ctx context.Context, ln net.Listener, h http.Handler) <-chan error {
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h) }()
	return done
}
