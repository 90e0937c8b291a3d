package wistia

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAPIErrorClassification(t *testing.T) {
	cases := []struct {
		status    int
		sentinel  error
		retryable bool
	}{
		{401, ErrUnauthorized, false},
		{403, ErrForbidden, false},
		{404, ErrNotFound, false},
		{422, ErrInvalidRequest, false},
		{400, ErrInvalidRequest, false},
		{429, ErrRateLimited, true},
		{503, ErrRateLimited, true},
		{500, ErrServer, true},
		{502, ErrServer, true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.status), func(t *testing.T) {
			err := error(newAPIError(c.status, "/stats/events.json?media_id=abc", nil, 0))
			assert.ErrorIs(t, err, c.sentinel)
			assert.Equal(t, c.retryable, Retryable(err))
			assert.Equal(t, c.retryable, Retryable(fmt.Errorf("wrapped: %w", err)))
		})
	}
}

func TestAPIErrorCarriesWistiaFields(t *testing.T) {
	err := newAPIError(401, "/medias.json?page=1&per_page=100", []byte(`{"code":"unauthorized","error":"Invalid credentials."}`), 0)
	assert.Equal(t, "unauthorized", err.Code)
	assert.Equal(t, "Invalid credentials.", err.Message)
	assert.Equal(t, "wistia GET /medias.json?page=1&per_page=100: 401 Unauthorized (unauthorized: Invalid credentials.)", err.Error())

	empty := newAPIError(404, "/stats/medias/x/by_date.json", nil, 0)
	assert.Equal(t, "wistia GET /stats/medias/x/by_date.json: 404 Not Found", empty.Error())

	text := newAPIError(429, "/medias.json", []byte("Rate limit exceeded"), 0)
	assert.Empty(t, text.Code)
	assert.Empty(t, text.Message)

	numeric := newAPIError(422, "/stats/events.json", []byte(`{"code":42,"error":{"start_date":["bad"]}}`), 0)
	assert.Equal(t, "42", numeric.Code)
	assert.Empty(t, numeric.Message)
}

func TestRetryableTransportErrors(t *testing.T) {
	retryable := map[string]error{
		"reset":         &url.Error{Op: "Get", URL: "http://x", Err: syscall.ECONNRESET},
		"refused":       &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED},
		"truncated":     fmt.Errorf("read body: %w", io.ErrUnexpectedEOF),
		"malformed":     fmt.Errorf("page 2: %w", ErrMalformedBody),
		"timeout":       fmt.Errorf("attempt: %w", context.DeadlineExceeded),
		"closed by end": &url.Error{Op: "Get", URL: "http://x", Err: io.EOF},
	}
	for name, err := range retryable {
		assert.True(t, Retryable(err), name)
	}
	final := map[string]error{
		"nil":       nil,
		"cancelled": fmt.Errorf("stop: %w", context.Canceled),
		"other":     errors.New("something else"),
	}
	for name, err := range final {
		assert.False(t, Retryable(err), name)
	}
}
