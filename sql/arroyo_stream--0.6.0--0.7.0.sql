-- arroyo_stream 0.6.0 -> 0.7.0 (also how 0.7.0 installs: CREATE EXTENSION runs 0.3.0's script,
-- then each upgrade script up to this one). Each feature's SQL objects follow, in sections.
\echo Use "ALTER EXTENSION arroyo_stream UPDATE TO '0.7.0'" to load this file. \quit

-- ==== Rescaling (issue 21) ====

-- Runs a pipeline as `parallelism` workers from now on: its SET parallelism is replaced; a
-- running pipeline stops with a final checkpoint and starts again, its state redistributed by
-- key group.
CREATE FUNCTION @extschema@.stream_rescale(name text, parallelism int) RETURNS void
  AS 'MODULE_PATHNAME', 'arroyo_stream_rescale' LANGUAGE C STRICT;
