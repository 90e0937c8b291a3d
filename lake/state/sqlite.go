package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"

	_ "modernc.org/sqlite" // pure-Go driver: no cgo in the embedded default
)

// SQLite keeps watermarks in a sqlite file: the embedded default.
type SQLite struct {
	db   *sql.DB
	path string
	now  func() time.Time // lease expiry; tests may move it
}

// OpenSQLite opens (creating if needed) the sqlite file at path.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
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
	return &SQLite{db: db, path: path, now: time.Now}, nil
}

// Get reads one watermark.
func (s *SQLite) Get(ctx context.Context, key WatermarkKey) (Watermark, bool, error) {
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
func (s *SQLite) Advance(ctx context.Context, key WatermarkKey, w Watermark) (bool, error) {
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO watermarks (key, day, run_id, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET day = excluded.day, run_id = excluded.run_id, updated_at = excluded.updated_at
		WHERE excluded.day > watermarks.day`,
		key.String(), w.Day.String(), w.RunID, w.UpdatedAt.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return false, fmt.Errorf("advance watermark %s in %s: %w", key, s.path, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

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

// MarkPending upserts every day in one statement, so the call is atomic as a whole.
func (s *SQLite) MarkPending(ctx context.Context, account string, days []dates.Date) error {
	ds := pendingDays(days)
	if len(ds) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(ds))
	for _, d := range ds {
		args = append(args, account, d)
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?, 1), ", len(ds)), ", ")
	_, err := s.db.ExecContext(ctx, `INSERT INTO pending (account, day, seq) VALUES `+values+`
		ON CONFLICT (account, day) DO UPDATE SET seq = seq + 1`, args...)
	if err != nil {
		return fmt.Errorf("mark pending %s in %s: %w", account, s.path, err)
	}
	return nil
}

// Pending reads the account's pending days.
func (s *SQLite) Pending(ctx context.Context, account string) ([]PendingDay, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT day, seq FROM pending WHERE account = ? ORDER BY day`, account)
	if err != nil {
		return nil, fmt.Errorf("read pending %s in %s: %w", account, s.path, err)
	}
	defer rows.Close()
	var out []PendingDay
	for rows.Next() {
		var (
			day string
			seq int64
		)
		if err := rows.Scan(&day, &seq); err != nil {
			return nil, fmt.Errorf("read pending %s in %s: %w", account, s.path, err)
		}
		d, err := dates.Parse(day)
		if err != nil {
			return nil, fmt.Errorf("read pending %s in %s: stored day: %w", account, s.path, err)
		}
		out = append(out, PendingDay{Day: d, Seq: seq})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pending %s in %s: %w", account, s.path, err)
	}
	return out, nil
}

// ClearPending deletes the days whose seq is unchanged in one statement.
func (s *SQLite) ClearPending(ctx context.Context, account string, days []PendingDay) (int, error) {
	if len(days) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 1+2*len(days))
	args = append(args, account)
	for _, d := range days {
		args = append(args, d.Day.String(), d.Seq)
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?), ", len(days)), ", ")
	res, err := s.db.ExecContext(ctx, `DELETE FROM pending WHERE account = ? AND (day, seq) IN (VALUES `+values+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("clear pending %s in %s: %w", account, s.path, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("clear pending %s in %s: %w", account, s.path, err)
	}
	return int(n), nil
}

// AcquireLease inserts the lease, or takes it over in the same statement when it is owner's or
// expired. expires is in unix milliseconds.
func (s *SQLite) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	now := s.now()
	res, err := s.db.ExecContext(ctx, `INSERT INTO leases (name, owner, expires) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE leases.owner = excluded.owner OR leases.expires < ?`,
		name, owner, now.Add(ttl).UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("acquire lease %s for %s in %s: %w", name, owner, s.path, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire lease %s for %s in %s: %w", name, owner, s.path, err)
	}
	return n == 1, nil
}

// ReleaseLease deletes the lease if owner holds it.
func (s *SQLite) ReleaseLease(ctx context.Context, name, owner string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND owner = ?`, name, owner); err != nil {
		return fmt.Errorf("release lease %s for %s in %s: %w", name, owner, s.path, err)
	}
	return nil
}

func (s *SQLite) IncrementBelow(ctx context.Context, key string, limit int, expires time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO request_budget (key, n, expires) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET n = n + 1 WHERE n < ?`, key, expires.Unix(), limit)
	if err != nil {
		return false, fmt.Errorf("request budget in %s: %w", s.path, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	if n == 1 && rand.IntN(1000) == 0 { // now and then, drop slots long past
		_, _ = s.db.ExecContext(ctx, `DELETE FROM request_budget WHERE expires < ?`, time.Now().Unix())
	}
	return n == 1, nil
}
