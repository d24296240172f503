-- Updating results written a batch at a time (TableSinkOperator::upsert_batch): into a target
-- without row triggers whose key columns are integers, dates, timestamps or booleans, each
-- batch's rows whose key has a row update or delete it in place and the others go in together
-- at the end of the batch (table_multi_insert). Rows the pipeline did not write are found and
-- updated like its own; a batch holding one key twice (an updating source changing a row
-- several times in one transaction) goes row by row, each row seeing the one before it; NULL
-- keys. Every result equals the batch query's.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE FUNCTION us_same(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE differences bigint;
BEGIN
  FOR i IN 1..600 LOOP
    EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) d',
                   a, b, b, a) INTO differences;
    IF differences = 0 THEN RETURN true; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;

-- An aggregate into a table already holding rows for some of its keys, and one it never writes.
CREATE SERVER us_imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE us_events (counter bigint) SERVER us_imp
  OPTIONS (event_rate '0', message_count '5000');
CREATE TABLE us_out (k bigint PRIMARY KEY, n bigint, total numeric);
INSERT INTO us_out SELECT g * 100, -1, -1 FROM generate_series(0, 9) g;
INSERT INTO us_out VALUES (5000, 7, 7);
SELECT stream_create('us_agg', $$INSERT INTO us_out
  SELECT counter % 1000, count(*), sum(counter) FROM us_events GROUP BY counter % 1000$$);
SELECT stream_start('us_agg');
SELECT stream_wait('us_agg');
SELECT state, last_error FROM stream_pipelines WHERE name = 'us_agg';
SELECT count(*), sum(n), sum(total) FROM us_out;
SELECT * FROM us_out WHERE k IN (0, 1, 100, 999, 5000) ORDER BY k;
SELECT us_same('SELECT * FROM us_out WHERE k <> 5000',
               'SELECT g % 1000, count(*), sum(g) FROM generate_series(0, 4999) g GROUP BY 1')
  AS agg_matches;

-- NULL and date keys (a nullable unique key): the NULL group is one row, found again.
CREATE TABLE us_days (d date UNIQUE, n bigint, s numeric);
SELECT stream_create('us_days', $$INSERT INTO us_days
  SELECT CASE WHEN counter % 4 = 0 THEN NULL ELSE date '2026-01-01' + (counter % 3)::int END,
         count(*), sum(counter)
  FROM us_events GROUP BY 1$$);
SELECT stream_start('us_days');
SELECT stream_wait('us_days');
SELECT * FROM us_days ORDER BY d NULLS FIRST;
SELECT us_same('SELECT * FROM us_days',
  $$SELECT CASE WHEN g % 4 = 0 THEN NULL ELSE date '2026-01-01' + (g % 3)::int END, count(*),
           sum(g) FROM generate_series(0, 4999) g GROUP BY 1$$) AS days_match;

-- Change data capture straight into a table: one transaction inserts, updates twice, deletes
-- and inserts again the same keys, so batches hold a key several times.
CREATE TABLE us_src (id int PRIMARY KEY, v text);
CREATE TABLE us_copy (id int PRIMARY KEY, v text);
SELECT stream_create('us_cdc', 'INSERT INTO us_copy SELECT id, v FROM us_src');
SELECT stream_start('us_cdc');
BEGIN;
INSERT INTO us_src SELECT g, 'a' || g FROM generate_series(1, 300) g;
UPDATE us_src SET v = v || 'b' WHERE id <= 100;
UPDATE us_src SET v = v || 'c' WHERE id <= 50;
DELETE FROM us_src WHERE id BETWEEN 41 AND 60;
INSERT INTO us_src VALUES (45, 'again');
COMMIT;
SELECT us_same('SELECT * FROM us_copy', 'SELECT * FROM us_src') AS cdc_matches;
-- Then rows changed once per transaction (batches without a repeated key).
UPDATE us_src SET v = v || 'd' WHERE id % 3 = 0;
DELETE FROM us_src WHERE id > 250;
INSERT INTO us_src SELECT g, 'new' || g FROM generate_series(301, 400) g;
SELECT us_same('SELECT * FROM us_copy', 'SELECT * FROM us_src') AS cdc_changes_match;
SELECT state, last_error FROM stream_pipelines WHERE name = 'us_cdc';
SELECT count(*), count(*) FILTER (WHERE v LIKE 'a%bc') AS twice, min(id), max(id) FROM us_copy;

SELECT stream_drop(name) FROM stream_pipelines ORDER BY name;
DROP SERVER us_imp CASCADE;
DROP TABLE us_out, us_days, us_src, us_copy;
DROP FUNCTION us_same;
