package bronze

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LocalStore keeps objects as files under a folder: the embedded default.
type LocalStore struct {
	root string
}

// NewLocalStore uses root, creating it if needed.
func NewLocalStore(root string) (*LocalStore, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, &StoreError{Op: "create", Location: root, Err: err}
	}
	return &LocalStore{root: root}, nil
}

// Location is the folder.
func (s *LocalStore) Location() string { return "file://" + s.root }

func (s *LocalStore) path(key string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(key))
	if key == "" || filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") {
		return "", errors.New("key must be a relative path inside the store")
	}
	return filepath.Join(s.root, clean), nil
}

// PutIfAbsent writes the file through a temporary name and a hard link, which fails when the
// name exists: a create-if-absent that leaves no partial file visible.
func (s *LocalStore) PutIfAbsent(_ context.Context, key string, body []byte) error {
	fail := func(err error) error { return &StoreError{Op: "put", Location: s.Location(), Key: key, Err: err} }
	path, err := s.path(key)
	if err != nil {
		return fail(err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return fail(err)
		}
		existing, err := os.ReadFile(path)
		if err != nil {
			return fail(err)
		}
		if !bytes.Equal(existing, body) {
			return fail(ErrConflict)
		}
		return nil
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the new name durable
		d.Close()
	}
	return nil
}

// Get reads one object.
func (s *LocalStore) Get(_ context.Context, key string) ([]byte, error) {
	path, err := s.path(key)
	if err == nil {
		var body []byte
		if body, err = os.ReadFile(path); err == nil {
			return body, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			err = ErrNotExist
		}
	}
	return nil, &StoreError{Op: "get", Location: s.Location(), Key: key, Err: err}
}

// List walks the folder for keys under prefix.
func (s *LocalStore) List(_ context.Context, prefix string) ([]string, error) {
	var keys []string
	start := filepath.Join(s.root, filepath.FromSlash(prefix))
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		start = filepath.Dir(start)
	}
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(s.root, path)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) && !strings.HasPrefix(key, "../") {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, &StoreError{Op: "list", Location: s.Location(), Key: prefix, Err: err}
	}
	slices.Sort(keys)
	return keys, nil
}
