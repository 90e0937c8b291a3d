//go:build duckdb

package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver
)

// runDuckDB does the transform's work in DuckDB SQL on the same bronze objects: type the events,
// dedupe them latest-wins on event_key, write silver as day-partitioned Parquet, and roll gold's
// fact_media_engagement up from that silver into Parquet. DuckDB runs in memory with its
// default memory limit and as many threads as our side has (GOMAXPROCS = the CPUs); the clock
// runs around the SQL only.
func runDuckDB(ctx context.Context, bronze, out string) (result, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return result{}, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx) // one connection: settings are per connection
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET threads = %d", runtime.NumCPU())); err != nil {
		return result{}, err
	}

	silver, gold := filepath.Join(out, "silver", "events"), filepath.Join(out, "gold", "fact_media_engagement")
	for _, dir := range []string{silver, gold} {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil { // COPY makes the last folder only
			return result{}, err
		}
	}
	start := time.Now()
	events, err := copyRows(ctx, conn, silverSQL(bronze, silver))
	if err != nil {
		return result{}, fmt.Errorf("silver events: %w", err)
	}
	engagement, err := copyRows(ctx, conn, engagementSQL(bronze, silver, gold))
	if err != nil {
		return result{}, fmt.Errorf("engagement: %w", err)
	}
	return result{Events: events, Engagement: engagement, Seconds: time.Since(start).Seconds()}, nil
}

// copyRows runs one COPY and returns the rows it wrote.
func copyRows(ctx context.Context, conn *sql.Conn, query string) (int64, error) {
	res, err := conn.ExecContext(ctx, query)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// parquetOptions are those of both COPYs: the codec of our tables (iceberg-go's default, zstd),
// one folder per day as date=YYYY-MM-DD.
const parquetOptions = "FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date)"

// readBronze reads the gzip JSONL objects of a bronze stream with the given columns; filename
// is the object's path, and key its key in the store (as in our _source, without the line).
func readBronze(bronze, stream, columns string) string {
	glob := filepath.Join(bronze, "bronze", "wistia", stream, "dt=*", "media=*", "run=*", "part-*.jsonl.gz")
	return fmt.Sprintf(`(SELECT *, substr(filename, %d) AS key FROM read_json(%s, format = 'newline_delimited',
		compression = 'gzip', hive_partitioning = false, filename = true, columns = {%s}))`, len(bronze)+2, quote(glob), columns)
}

// silverSQL writes silver.events: every events line typed to the columns of our silver.events,
// one row per event_key, partitioned by the UTC day of received_at.
//
// Which version is "latest" follows our merge (lake/engine/merge.go Latest, lake/silver/tables.go
// EventsTable): a key's versions are ordered by the bronze line's _ingested_at, then by its
// _source (object key, then line), and the greatest wins. read_json gives no line number, so
// here two listings of an event in one object tie, and either may win. That changes nothing but the lineage: the data set lists an event twice
// as the same line, and our merge too keeps the older row when a newer version has the same
// content (the `same` rule), so the rows' values agree either way.
func silverSQL(bronze, silver string) string {
	events := readBronze(bronze, "events", `_ingested_at: 'TIMESTAMP', _run_id: 'VARCHAR', event_key: 'VARCHAR',
		received_at: 'TIMESTAMP', media_id: 'VARCHAR', visitor_key: 'VARCHAR', percent_viewed: 'DOUBLE',
		embed_url: 'VARCHAR', ip: 'VARCHAR', country: 'VARCHAR', region: 'VARCHAR', city: 'VARCHAR',
		org: 'VARCHAR', conversion_type: 'VARCHAR'`)
	return fmt.Sprintf(`COPY (
	SELECT event_key, CAST(received_at AS DATE) AS date, received_at, media_id, visitor_key, percent_viewed,
		embed_url, ip, country, region, city, org, conversion_type, _ingested_at, _run_id, key AS _source
	FROM %s
	QUALIFY row_number() OVER (PARTITION BY event_key ORDER BY _ingested_at DESC, key DESC) = 1
) TO %s (%s)`, events, quote(silver), parquetOptions)
}

// engagementSQL writes gold.fact_media_engagement as lake/gold/gold.go's engagement does, from
// the silver just written: grain (media, visitor, date); play_count the events; total_watch_time
// the sum of percent_viewed capped at 1, × the media's duration; watched_percent
// total_watch_time / (play_count × duration); play_rate play_count / the media's load_count
// that day. Durations come from the media list and loads from the by_date stats, each the
// latest landed version, as silver.media and silver.media_daily_stats hold them.
func engagementSQL(bronze, silver, gold string) string {
	medias := readBronze(bronze, "medias", `_ingested_at: 'TIMESTAMP', hashed_id: 'VARCHAR', duration: 'DOUBLE'`)
	stats := readBronze(bronze, "media_daily_stats", `_ingested_at: 'TIMESTAMP', date: 'DATE', load_count: 'BIGINT'`)
	events := fmt.Sprintf("read_parquet(%s, hive_partitioning = true)", quote(filepath.Join(silver, "*", "*.parquet")))
	return fmt.Sprintf(`COPY (
	WITH durations AS (
		SELECT hashed_id AS media_id, arg_max(duration, (_ingested_at, key)) AS duration
		FROM %s GROUP BY hashed_id
	), loads AS (
		SELECT regexp_extract(key, '/media=([^/]+)/', 1) AS media_id, date,
			arg_max(load_count, (_ingested_at, key)) AS load_count
		FROM %s GROUP BY ALL
	), plays AS (
		SELECT media_id, visitor_key AS visitor_id, date, count(*) AS play_count,
			sum(least(percent_viewed, 1)) AS percent
		FROM %s GROUP BY ALL
	)
	SELECT p.media_id, p.visitor_id, p.date, p.play_count,
		CASE WHEN l.load_count > 0 THEN p.play_count / l.load_count ELSE 0 END AS play_rate,
		p.percent * coalesce(d.duration, 0) AS total_watch_time,
		CASE WHEN d.duration > 0 THEN p.percent * d.duration / (p.play_count * d.duration) ELSE 0 END AS watched_percent
	FROM plays p LEFT JOIN durations d USING (media_id) LEFT JOIN loads l USING (media_id, date)
) TO %s (%s)`, medias, stats, events, quote(gold), parquetOptions)
}

// quote is a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// silverContent and engagementContent are the columns both sides must agree on, as one
// fingerprint per table: the XOR of a hash of each row. Lineage is left out: for an event
// listed twice with the same content, our merge keeps the first landing and the SQL the last.
// Timestamps are compared as microseconds (ours are timestamptz, DuckDB's timestamp), floats
// rounded to nine places (the sums are taken in different orders), and a missing string as "".
const (
	silverContent = `event_key, date, epoch_us(received_at), coalesce(media_id, ''), coalesce(visitor_key, ''),
		percent_viewed, coalesce(embed_url, ''), coalesce(ip, ''), coalesce(country, ''), coalesce(region, ''),
		coalesce(city, ''), coalesce(org, ''), coalesce(conversion_type, '')`
	engagementContent = `media_id, visitor_id, date, play_count, round(play_rate, 9), round(total_watch_time, 9),
		round(watched_percent, 9)`
)

// checkSameRows fails unless both sides wrote the same silver events and engagement rows,
// column by column. Ours is read from the data files under its warehouse: the lakehouse was
// empty and each table got one commit, so every file there is current.
func checkSameRows(ctx context.Context, ours, duck string) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, t := range []struct {
		name, columns, ours, duck string
	}{
		{"silver.events", silverContent, filepath.Join(ours, "warehouse", "*silver*", "events", "data", "*", "*.parquet"),
			filepath.Join(duck, "silver", "events", "*", "*.parquet")},
		{"gold.fact_media_engagement", engagementContent,
			filepath.Join(ours, "warehouse", "*gold*", "fact_media_engagement", "data", "*", "*.parquet"),
			filepath.Join(duck, "gold", "fact_media_engagement", "*", "*.parquet")},
	} {
		var prints [2]string
		for i, glob := range []string{t.ours, t.duck} {
			q := fmt.Sprintf(`SELECT count(*) || ' rows, ' || coalesce(bit_xor(hash(%s)), 0)
				FROM read_parquet(%s, hive_partitioning = true)`, t.columns, quote(glob))
			if err := db.QueryRowContext(ctx, q).Scan(&prints[i]); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
		if prints[0] != prints[1] {
			return fmt.Errorf("%s differs: ours %s, DuckDB %s", t.name, prints[0], prints[1])
		}
	}
	return nil
}
