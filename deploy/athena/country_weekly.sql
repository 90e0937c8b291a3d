-- wistia_gold.country_weekly: plays, watch time and watched percent per viewer country and ISO week.
--
-- Answers "where are our viewers, and how much of the videos do they watch?".
-- Grain: one row per ISO week (Monday to Sunday) and country.
-- Source: fact_media_engagement (events per media, visitor and the account's day). That table has no
-- country: it is the visitor's country in dim_visitor, which holds the country of the
-- visitor's LATEST event (Type 1), so a visitor who moved counts under their latest country
-- in every week. Events without a visitor key, and visitors without a country, are 'unknown'.
-- The media's duration comes from dim_media.
-- Metrics, as docs/metrics.md defines them, rolled up as ratios of sums:
--   play_count       = sum(play_count)                       plays listed as events
--   total_watch_time = sum(total_watch_time)                 total watch time, in seconds
--   watch_time_hours = total_watch_time / 3600               the same, in hours
--   duration_played  = sum(play_count × duration)            seconds the plays could have lasted
--   watched_percent  = total_watch_time / duration_played, 0 to 1; 0 when no duration is known
--                      (never an average of the rows' watched_percent)
-- These are event-based: play_count can be below fact_media_daily's plays (Wistia counts
-- plays it does not list as events) and watch_time_hours differs from by_date's
-- hours_watched, which has no country. Play rate has no per-country form: loads are counted
-- per media and day only. To roll weeks up, sum total_watch_time and duration_played and
-- divide; visitors is distinct per row: do not add it up across weeks.
CREATE OR REPLACE VIEW wistia_gold.country_weekly AS
SELECT
    date_trunc('week', e."date") AS week_start,
    format('%d-W%02d', year_of_week(date_trunc('week', e."date")), week(date_trunc('week', e."date"))) AS iso_week,
    COALESCE(NULLIF(v.country, ''), 'unknown') AS country,
    count(DISTINCT NULLIF(e.visitor_id, '')) AS visitors,
    sum(e.play_count) AS play_count,
    sum(e.total_watch_time) AS total_watch_time,
    sum(e.total_watch_time) / 3600e0 AS watch_time_hours,
    COALESCE(sum(e.play_count * m.duration_seconds), 0) AS duration_played,
    COALESCE(sum(e.total_watch_time) / NULLIF(sum(e.play_count * m.duration_seconds), 0), 0) AS watched_percent
FROM wistia_gold.fact_media_engagement e
LEFT JOIN wistia_gold.dim_visitor v ON v.visitor_id = e.visitor_id AND e.visitor_id <> ''
LEFT JOIN wistia_gold.dim_media m ON m.media_id = e.media_id
GROUP BY date_trunc('week', e."date"), COALESCE(NULLIF(v.country, ''), 'unknown')
