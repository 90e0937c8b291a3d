-- wistia_gold.channel_weekly: plays, hours watched and play rate per channel and ISO week.
--
-- Answers "how did each channel (Facebook, YouTube, …) do week by week?".
-- Grain: one row per ISO week (Monday to Sunday) and channel.
-- Source: fact_media_daily (Wistia's by_date stats per media and day). That table has no
-- channel, so it is taken from dim_media; a media without a dim_media row is counted under
-- 'unknown', like media that no channel rule matches.
-- Metrics, as docs/metrics.md defines them, rolled up as ratios of sums:
--   play_count    = sum(play_count)                          plays
--   hours_watched = sum(hours_watched)                       hours watched (Wistia's own, in hours)
--   play_rate     = sum(play_count) / sum(load_count), 0 without loads (never an average of daily rates)
-- Days are the account's stats days (WISTIA_STATS_TIMEZONE), as by_date counts them.
-- days_reported < 7 marks a partial week: the current week, or the edge of the loaded data.
CREATE OR REPLACE VIEW wistia_gold.channel_weekly AS
SELECT
    date_trunc('week', f."date") AS week_start,
    format('%d-W%02d', year_of_week(date_trunc('week', f."date")), week(date_trunc('week', f."date"))) AS iso_week,
    COALESCE(m.channel, 'unknown') AS channel,
    count(DISTINCT f.media_id) AS media_count,
    count(DISTINCT f."date") AS days_reported,
    sum(f.load_count) AS load_count,
    sum(f.play_count) AS play_count,
    sum(f.hours_watched) AS hours_watched,
    COALESCE(CAST(sum(f.play_count) AS double) / NULLIF(sum(f.load_count), 0), 0) AS play_rate
FROM wistia_gold.fact_media_daily f
LEFT JOIN wistia_gold.dim_media m ON m.media_id = f.media_id
GROUP BY date_trunc('week', f."date"), COALESCE(m.channel, 'unknown')
