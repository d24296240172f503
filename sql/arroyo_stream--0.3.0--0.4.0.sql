-- arroyo_stream 0.3.0 -> 0.4.0 (also how 0.4.0 installs: CREATE EXTENSION runs 0.3.0's script,
-- then this one). Each feature's SQL objects follow, in sections.
\echo Use "ALTER EXTENSION arroyo_stream UPDATE TO '0.4.0'" to load this file. \quit
