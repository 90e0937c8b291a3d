package wistia

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Sentinels for errors.Is on an *APIError, by what the caller must do about them.
var (
	ErrUnauthorized   = errors.New("unauthorized")        // 401: the token is wrong or revoked
	ErrForbidden      = errors.New("forbidden")           // 403: the token lacks a permission
	ErrNotFound       = errors.New("not found")           // 404: the media or visitor does not exist
	ErrInvalidRequest = errors.New("invalid request")     // 422: bad parameters, such as dates
	ErrRateLimited    = errors.New("rate limited")        // 429, or 503 with Retry-After
	ErrServer         = errors.New("server error")        // other 5xx
	ErrMalformedBody  = errors.New("malformed JSON body") // a 200 whose body is not the JSON promised
)

// APIError is an HTTP answer from Wistia other than success. It carries the endpoint (path and
// query; the token is never part of either) and Wistia's own code and message.
type APIError struct {
	Status     int
	Endpoint   string
	Code       string // Wistia's "code" field, when the body has one
	Message    string // Wistia's "error" field, when the body has one
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("wistia GET %s: %d %s", e.Endpoint, e.Status, http.StatusText(e.Status))
	switch {
	case e.Code != "" && e.Message != "":
		msg += fmt.Sprintf(" (%s: %s)", e.Code, e.Message)
	case e.Message != "":
		msg += fmt.Sprintf(" (%s)", e.Message)
	case e.Code != "":
		msg += fmt.Sprintf(" (%s)", e.Code)
	}
	return msg
}

// Is maps the status to the package's sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrInvalidRequest:
		return e.Status == http.StatusUnprocessableEntity || e.Status == http.StatusBadRequest
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable
	case ErrServer:
		return e.Status >= 500
	}
	return false
}

// Retryable reports whether trying the same request again can succeed.
func (e *APIError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// newAPIError reads Wistia's error body, which may be JSON with "code" and "error", plain text,
// or empty (stats 404s).
func newAPIError(status int, endpoint string, body []byte, retryAfter time.Duration) *APIError {
	e := &APIError{Status: status, Endpoint: endpoint, RetryAfter: retryAfter}
	var fields struct {
		Code  json.RawMessage `json:"code"`
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &fields) == nil {
		e.Code = scalarText(fields.Code)
		e.Message = scalarText(fields.Error)
	}
	return e
}

// scalarText renders a JSON string or number as text, and anything else as empty.
func scalarText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// Retryable reports whether err, returned by one attempt of a request, is worth another try:
// throttling, 5xx, timeouts, dropped connections and truncated or malformed bodies.
// Cancellation by the caller and 4xx answers are not.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Retryable()
	}
	if errors.Is(err, ErrMalformedBody) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return false // a host that does not exist will not appear by retrying
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}
