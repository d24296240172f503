-- Subqueries in FROM, views over sources and UNION ALL of sources.
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE a (counter bigint) SERVER imp
  OPTIONS (event_rate '0', message_count '20', start_time '2026-03-01 00:00:00+00', event_time_interval '1 second');
CREATE FOREIGN TABLE b (counter bigint, subtask_index int) SERVER imp
  OPTIONS (event_rate '0', message_count '5', start_time '2026-03-01 12:00:00+00', event_time_interval '1 hour');
CREATE TABLE out (src text, v numeric, t timestamptz);

-- Nested subqueries with filters at each level.
SELECT stream_create('nested', $$
  INSERT INTO out
  SELECT 'nested', doubled + 0.5, row_time()
  FROM (SELECT counter * 2 AS doubled FROM (SELECT counter FROM a WHERE counter % 2 = 1) odd
        WHERE counter > 10) s
  WHERE doubled < 36$$);
SELECT stream_start('nested');
SELECT stream_wait('nested');
SELECT src, v, t AT TIME ZONE 'UTC' FROM out ORDER BY v;
TRUNCATE out;

-- UNION ALL of two sources with different column types (bigint and int), with a view. Table a,
-- read in two branches, is one source feeding both: rows_in counts its 20 rows once (20 + 5).
CREATE VIEW b_hours AS SELECT subtask_index + counter::int AS h FROM b;
SELECT stream_create('both', $$
  INSERT INTO out (src, v, t)
  SELECT 'a', counter, row_time() FROM a WHERE counter >= 18
  UNION ALL
  SELECT 'b', h, row_time() FROM b_hours
  UNION ALL
  SELECT 'c', 1.5, date_trunc('day', row_time()) FROM a WHERE counter = 0$$);
SELECT stream_start('both');
SELECT stream_wait('both');
SELECT name, state, rows_in, rows_out FROM stream_pipelines WHERE name = 'both';
SELECT src, v, t AT TIME ZONE 'UTC' FROM out ORDER BY src, v;

-- Whole-row references and JSON functions work on stream rows.
CREATE TABLE docs (doc jsonb);
SELECT stream_create('docs', $$INSERT INTO docs SELECT to_jsonb(x) || jsonb_build_object('ok', true)
  FROM (SELECT counter, counter::text AS label FROM a WHERE counter < 3) x$$);
SELECT stream_start('docs');
SELECT stream_wait('docs');
SELECT doc, doc->>'label' AS label FROM docs ORDER BY (doc->>'counter')::int;

-- A window over a UNION ALL of one source with itself: the source's rows and watermarks go
-- into both branches, the union's watermark is the lesser of the two, and no row is late.
CREATE TABLE per_window (w tstzrange, n bigint, s numeric);
SELECT stream_create('diamond', $$INSERT INTO per_window
  SELECT tumble(interval '5 seconds') AS w, count(*), sum(v)
  FROM (SELECT counter AS v FROM a UNION ALL SELECT counter * 100 FROM a WHERE counter % 2 = 0) x
  GROUP BY w$$);
SELECT stream_start('diamond');
SELECT stream_wait('diamond');
SELECT name, state, rows_in, rows_out, late_rows FROM stream_pipelines WHERE name = 'diamond';
SELECT lower(w) AT TIME ZONE 'UTC' AS w_start, n, s FROM per_window ORDER BY w;

SELECT stream_drop(name) FROM stream_pipelines ORDER BY name;
DROP VIEW b_hours;
DROP SERVER imp CASCADE;
DROP TABLE out, docs, per_window;
