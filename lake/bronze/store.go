package bronze

import (
	"context"
	"errors"
	"fmt"
)

// Store holds immutable objects: written once, never overwritten.
type Store interface {
	// PutIfAbsent writes body at key unless an object is already there. The same bytes at an
	// existing key is a retried write and returns nil; other bytes return ErrConflict and leave
	// the existing object untouched.
	PutIfAbsent(ctx context.Context, key string, body []byte) error
	// Get returns the object at key, or an error wrapping ErrNotExist.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the keys under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Location names the store in messages, e.g. s3://bucket/prefix.
	Location() string
}

var (
	// ErrConflict means an object with other bytes already exists at the key.
	ErrConflict = errors.New("a different object already exists at this key")
	// ErrNotExist means there is no object at the key.
	ErrNotExist = errors.New("no object at this key")
)

// StoreError is a failed store operation, with where it happened and whether trying again can
// help (throttling, 5xx, timeouts, dropped connections) or not (missing bucket, access denied).
type StoreError struct {
	Op        string
	Location  string
	Key       string
	Retryable bool
	Err       error
}

func (e *StoreError) Error() string {
	kind := "permanent"
	if e.Retryable {
		kind = "retryable"
	}
	return fmt.Sprintf("%s %s/%s (%s): %v", e.Op, e.Location, e.Key, kind, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// IsRetryable reports whether a store error may go away on a later try.
func IsRetryable(err error) bool {
	var se *StoreError
	return errors.As(err, &se) && se.Retryable
}
