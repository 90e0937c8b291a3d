-- wistia_gold.top_media: each media's plays, hours watched and play rate per ISO week, ranked.
--
-- Answers "which videos were played most last week, on which channel, and how well do they
-- turn loads into plays?".
-- Grain: one row per ISO week (Monday to Sunday) and media; plays_rank is the media's rank by
-- plays among all media that week (1 = most played; ties share a rank).
-- Source: fact_media_daily (Wistia's by_date stats per media and day) for the metrics;
-- dim_media for title, url, channel and project (fact_media_daily carries only media_id).
-- A media without a dim_media row keeps its metrics, with channel 'unknown'.
-- Metrics, as docs/metrics.md defines them, rolled up as ratios of sums:
--   play_count    = sum(play_count)                          plays
--   hours_watched = sum(hours_watched)                       hours watched (Wistia's own, in hours)
--   play_rate     = sum(play_count) / sum(load_count), 0 without loads (never an average of daily rates)
-- For a longer period, sum load_count, play_count and hours_watched over its weeks and divide
-- again; do not average play_rate.
CREATE OR REPLACE VIEW wistia_gold.top_media AS
SELECT
    date_trunc('week', f."date") AS week_start,
    format('%d-W%02d', year_of_week(date_trunc('week', f."date")), week(date_trunc('week', f."date"))) AS iso_week,
    rank() OVER (PARTITION BY date_trunc('week', f."date") ORDER BY sum(f.play_count) DESC) AS plays_rank,
    f.media_id AS media_id,
    m.title AS title,
    m.url AS url,
    COALESCE(m.channel, 'unknown') AS channel,
    m.project AS project,
    sum(f.load_count) AS load_count,
    sum(f.play_count) AS play_count,
    sum(f.hours_watched) AS hours_watched,
    COALESCE(CAST(sum(f.play_count) AS double) / NULLIF(sum(f.load_count), 0), 0) AS play_rate
FROM wistia_gold.fact_media_daily f
LEFT JOIN wistia_gold.dim_media m ON m.media_id = f.media_id
GROUP BY date_trunc('week', f."date"), f.media_id, m.title, m.url, m.channel, m.project
