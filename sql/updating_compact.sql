-- The compact state of count/sum of integers (src/operators/updating_aggregate_native.*): over
-- an updating input (change data capture) its results stay equal to the batch query's — a
-- sum whose last non-null input is retracted becomes NULL while its group lives on, a group
-- whose rows all go disappears and can come back, sums go beyond bigint's range, FILTER,
-- smallint/integer/bigint sums, a global aggregate — and after a restart from its checkpoint
-- (buckets in format 1), retractions of rows counted before the restart are exact.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE FUNCTION uc_same(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
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
CREATE TABLE uc_src (id int PRIMARY KEY, k text NOT NULL, a smallint, b int, c bigint, f bool);
ALTER TABLE uc_src REPLICA IDENTITY FULL;
INSERT INTO uc_src
SELECT g, 'k' || (g % 5), nullif(g % 7, 0), CASE WHEN g % 3 = 0 THEN NULL ELSE g * 1000 END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE g::bigint * 1000000 END, g % 2 = 0
FROM generate_series(1, 500) g;
CREATE TABLE uc_out (k text PRIMARY KEY, n bigint, nc bigint, sa bigint, sb bigint, sc numeric,
                     sf bigint);
CREATE TABLE uc_grand (n bigint, sc numeric);
CREATE VIEW uc_batch AS
  SELECT k, count(*) AS n, count(c) AS nc, sum(a) AS sa, sum(b) AS sb, sum(c) AS sc,
         sum(b) FILTER (WHERE f) AS sf
  FROM uc_src GROUP BY k;
SELECT stream_create('uc', $$SET update_aggregate_flush_interval = '50 milliseconds';
  INSERT INTO uc_out
  SELECT k, count(*), count(c), sum(a), sum(b), sum(c), sum(b) FILTER (WHERE f)
  FROM uc_src GROUP BY k$$);
SELECT stream_create('uc_grand', $$SET update_aggregate_flush_interval = '50 milliseconds';
  INSERT INTO uc_grand SELECT count(*), sum(c) FROM uc_src$$);
SELECT stream_start('uc');
SELECT stream_start('uc_grand');
SELECT uc_same('SELECT * FROM uc_out', 'SELECT * FROM uc_batch') AS snapshot_matches;
SELECT uc_same('SELECT * FROM uc_grand', 'SELECT count(*), sum(c) FROM uc_src') AS grand_matches;
-- k1's bigint column all NULL: its sum NULL, its count(c) 0, the group still there.
UPDATE uc_src SET c = NULL WHERE k = 'k1';
-- k2's rows all go, then two come back.
DELETE FROM uc_src WHERE k = 'k2';
-- k3's sum beyond bigint's range.
UPDATE uc_src SET c = 9000000000000000000 WHERE k = 'k3';
-- A new key.
INSERT INTO uc_src VALUES (1001, 'k9', NULL, NULL, NULL, true);
SELECT uc_same('SELECT * FROM uc_out', 'SELECT * FROM uc_batch') AS changes_match;
INSERT INTO uc_src VALUES (1002, 'k2', 1, 2, 3, true), (1003, 'k2', NULL, NULL, -4, false);
SELECT uc_same('SELECT * FROM uc_out', 'SELECT * FROM uc_batch') AS key_back_matches;
SELECT * FROM uc_out WHERE k IN ('k1', 'k2', 'k3', 'k9') ORDER BY k;
-- Stopped (a checkpoint), changed meanwhile, resumed from the checkpoint: the retractions of
-- rows counted before the restart bring k3's sum back into bigint's range and k9's count of
-- non-null inputs back to 0 after a value came and went.
UPDATE uc_src SET c = 5 WHERE id = 1001;
SELECT uc_same('SELECT * FROM uc_out', 'SELECT * FROM uc_batch') AS before_stop_matches;
SELECT stream_stop('uc');
SELECT stream_stop('uc_grand');
SELECT count(*) > 0 AS buckets, bool_and(substring(s.value FROM 1 FOR 8) = '\xffffffffffffffff')
       AS all_format_1
FROM _arroyo_stream.state s JOIN _arroyo_stream.pipelines p ON p.id = s.pipeline_id
WHERE p.name IN ('uc', 'uc_grand') AND s.part > 0;
UPDATE uc_src SET c = 1 WHERE k = 'k3' AND id > (SELECT min(id) FROM uc_src WHERE k = 'k3');
UPDATE uc_src SET c = NULL WHERE id = 1001;
DELETE FROM uc_src WHERE k = 'k4' AND id > 100;
SELECT stream_start('uc');
SELECT stream_start('uc_grand');
SELECT uc_same('SELECT * FROM uc_out', 'SELECT * FROM uc_batch') AS resumed_matches;
SELECT uc_same('SELECT * FROM uc_grand', 'SELECT count(*), sum(c) FROM uc_src') AS grand_resumed;
SELECT * FROM uc_out WHERE k IN ('k3', 'k9') ORDER BY k;
SELECT stream_drop('uc');
SELECT stream_drop('uc_grand');
DROP VIEW uc_batch;
DROP TABLE uc_src, uc_out, uc_grand;
DROP FUNCTION uc_same(text, text);
