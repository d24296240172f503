-- arroyo_stream 0.4.0 -> 0.5.0 (also how 0.5.0 installs: CREATE EXTENSION runs 0.3.0's script,
-- then 0.3.0--0.4.0, then this one). Each feature's SQL objects follow, in sections.
\echo Use "ALTER EXTENSION arroyo_stream UPDATE TO '0.5.0'" to load this file. \quit

-- ==== Preview (issue 20) ====

-- A query's rows as a temporary pipeline produces them (in a background worker), without
-- creating anything: until max_rows rows (NULL: no limit), the timeout (NULL: none), the end of
-- its sources, or a cancel.
CREATE FUNCTION @extschema@.stream_preview(query text, max_rows integer DEFAULT 100,
                                           timeout interval DEFAULT '10 seconds')
  RETURNS TABLE (op text, window_start timestamptz, window_end timestamptz, "row" json)
  AS 'MODULE_PATHNAME', 'arroyo_stream_preview' LANGUAGE C VOLATILE;
