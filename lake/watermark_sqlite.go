package lake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/marketing-data/wistia-pipeline/internal/dates"

	_ "modernc.org/sqlite" // pure-Go driver: no cgo in the embedded default
)

// SQLiteWatermarks keeps watermarks in a sqlite file: the embedded default.
type SQLiteWatermarks struct {
	db   *sql.DB
	path string
	now  func() time.Time // lease expiry; tests may move it
}

// OpenSQLiteWatermarks opens (creating if needed) the sqlite file at path.
func OpenSQLiteWatermarks(ctx context.Context, path string) (*SQLiteWatermarks, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("watermarks %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, fmt.Errorf("watermarks %s: %w", path, err)
	}
	_, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS watermarks (
		key        TEXT PRIMARY KEY,
		day        TEXT NOT NULL,
		run_id     TEXT NOT NULL,
		updated_at TEXT NOT NULL);
		CREATE TABLE IF NOT EXISTS request_budget (
		key     TEXT PRIMARY KEY,
		n       INTEGER NOT NULL,
		expires INTEGER NOT NULL);
		CREATE TABLE IF NOT EXISTS pending (
		account TEXT,
		day     TEXT,
		seq     INTEGER NOT NULL,
		PRIMARY KEY (account, day));
		CREATE TABLE IF NOT EXISTS leases (
		name    TEXT PRIMARY KEY,
		owner   TEXT NOT NULL,
		expires INTEGER NOT NULL -- unix milliseconds
		)`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("watermarks %s: create tables: %w", path, err)
	}
	return &SQLiteWatermarks{db: db, path: path, now: time.Now}, nil
}

// Get reads one watermark.
func (s *SQLiteWatermarks) Get(ctx context.Context, key WatermarkKey) (Watermark, bool, error) {
	var day, runID, updated string
	err := s.db.QueryRowContext(ctx, `SELECT day, run_id, updated_at FROM watermarks WHERE key = ?`, key.String()).Scan(&day, &runID, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Watermark{}, false, nil
	}
	if err != nil {
		return Watermark{}, false, fmt.Errorf("watermark %s in %s: %w", key, s.path, err)
	}
	return parseWatermark(key, day, runID, updated)
}

// Advance upserts the watermark where the stored day is earlier, in one statement.
func (s *SQLiteWatermarks) Advance(ctx context.Context, key WatermarkKey, w Watermark) (bool, error) {
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO watermarks (key, day, run_id, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET day = excluded.day, run_id = excluded.run_id, updated_at = excluded.updated_at
		WHERE excluded.day > watermarks.day`,
		key.String(), dates.Format(w.Day), w.RunID, w.UpdatedAt.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return false, fmt.Errorf("advance watermark %s in %s: %w", key, s.path, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Close closes the database.
func (s *SQLiteWatermarks) Close() error { return s.db.Close() }

func parseWatermark(key WatermarkKey, day, runID, updated string) (Watermark, bool, error) {
	d, err := dates.Parse(day)
	if err != nil {
		return Watermark{}, false, fmt.Errorf("watermark %s: stored day: %w", key, err)
	}
	at, err := time.Parse(time.RFC3339Nano, updated)
	if err != nil {
		return Watermark{}, false, fmt.Errorf("watermark %s: stored time %q: %w", key, updated, err)
	}
	return Watermark{Day: d, RunID: runID, UpdatedAt: at}, true, nil
}
