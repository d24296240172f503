-- Rescaling (stream_rescale, issue 21): running and stopped pipelines move between 1, 2 and 3
-- workers while their input changes; each keyed operator's state is redistributed by key
-- group, and every result equals the batch query after each move.
\set VERBOSITY default
CREATE TABLE rs_src (id int PRIMARY KEY, k int NOT NULL, v int);
INSERT INTO rs_src SELECT i, i % 97, i FROM generate_series(1, 4000) i;
CREATE TABLE rs_dim (k int PRIMARY KEY, name text);
INSERT INTO rs_dim SELECT i, 'k' || i FROM generate_series(0, 120, 2) i;
CREATE TABLE rs_agg (k int PRIMARY KEY, n bigint, s bigint);
CREATE TABLE rs_gen (k int PRIMARY KEY, lo int, hi int, d bigint);
CREATE TABLE rs_join (k int PRIMARY KEY, n bigint, named bigint);
CREATE TABLE rs_top (k int, id int, rn bigint);
CREATE VIEW rs_batch AS
  SELECT 'rs_agg' AS pipeline, format('SELECT k, count(*), sum(v) FROM rs_src GROUP BY k') AS q
  UNION ALL SELECT 'rs_gen', 'SELECT k, min(v), max(v), count(DISTINCT v % 7) FROM rs_src GROUP BY k'
  UNION ALL SELECT 'rs_join', 'SELECT s.k, count(*), count(d.name) FROM rs_src s LEFT JOIN rs_dim d ON d.k = s.k GROUP BY s.k'
  UNION ALL SELECT 'rs_top', 'SELECT k, id, rn FROM (SELECT k, id, row_number() OVER (PARTITION BY k ORDER BY v DESC, id) AS rn FROM rs_src) x WHERE rn <= 2';
-- Whether a target equals its batch query, waiting at most 60 s for it.
CREATE FUNCTION rs_wait_same(target text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE batch text; differ bigint; n bigint;
BEGIN
  SELECT q INTO batch FROM rs_batch WHERE pipeline = target;
  FOR i IN 1 .. 1200 LOOP
    EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %s)) d',
                   target, batch, batch, target) INTO differ;
    EXIT WHEN differ = 0;
    PERFORM pg_sleep(0.05);
  END LOOP;
  EXECUTE format('SELECT count(*) FROM %s', target) INTO n;
  RETURN format('%s rows, %s differing', n, differ);
END $$;
-- Each pipeline: its state, its workers, and the workers its checkpoint holds entries of.
CREATE VIEW rs_status AS
  SELECT p.name, p.state, p.parallelism, p.last_error,
         (SELECT string_agg(DISTINCT (s.node / 1048576)::text, ',')
          FROM _arroyo_stream.state s JOIN _arroyo_stream.pipelines c ON c.id = s.pipeline_id
          WHERE c.name = p.name AND s.node >= 0) AS workers_with_state
  FROM stream_pipelines p WHERE p.name LIKE 'rs\_%' ORDER BY p.name;

SELECT stream_create('rs_agg', $$SET parallelism = 2;
  INSERT INTO rs_agg SELECT k, count(*), sum(v) FROM rs_src GROUP BY k$$);
SELECT stream_create('rs_gen', $$SET parallelism = 2;
  INSERT INTO rs_gen SELECT k, min(v), max(v), count(DISTINCT v % 7) FROM rs_src GROUP BY k$$);
SELECT stream_create('rs_join', $$SET parallelism = 2; INSERT INTO rs_join
  SELECT s.k, count(*), count(d.name) FROM rs_src s LEFT JOIN rs_dim d ON d.k = s.k GROUP BY s.k$$);
SELECT stream_create('rs_top', $$SET parallelism = 2; INSERT INTO rs_top SELECT k, id, rn FROM (
  SELECT k, id, row_number() OVER (PARTITION BY k ORDER BY v DESC, id) AS rn FROM rs_src) x
  WHERE rn <= 2$$);
SELECT stream_start(n) FROM unnest('{rs_agg,rs_gen,rs_join,rs_top}'::text[]) n;
SELECT n, rs_wait_same(n) FROM unnest('{rs_agg,rs_gen,rs_join,rs_top}'::text[]) n;
SELECT * FROM rs_status;

-- Running, 2 -> 3 workers, then more changes.
SELECT stream_rescale(n, 3) FROM unnest('{rs_agg,rs_gen,rs_join,rs_top}'::text[]) n;
UPDATE rs_src SET v = v + 1 WHERE id % 7 = 0;
DELETE FROM rs_src WHERE id % 11 = 0;
INSERT INTO rs_src SELECT i, i % 131, i FROM generate_series(4001, 6000) i;
INSERT INTO rs_dim SELECT i, 'k' || i FROM generate_series(121, 130) i;
SELECT n, rs_wait_same(n) FROM unnest('{rs_agg,rs_gen,rs_join,rs_top}'::text[]) n;
SELECT * FROM rs_status;
SELECT query FROM stream_pipelines WHERE name = 'rs_agg';

-- Running, 3 -> 1 worker: the workers the pipeline no longer has leave no entries.
SELECT stream_rescale(n, 1) FROM unnest('{rs_agg,rs_gen,rs_join,rs_top}'::text[]) n;
UPDATE rs_src SET v = v * 2, k = k + 1 WHERE id % 5 = 0;
DELETE FROM rs_src WHERE id % 13 = 0;
DELETE FROM rs_dim WHERE k % 4 = 0;
SELECT n, rs_wait_same(n) FROM unnest('{rs_agg,rs_gen,rs_join,rs_top}'::text[]) n;
SELECT * FROM rs_status;
SELECT query FROM stream_pipelines WHERE name = 'rs_agg';

-- Stopped, 1 -> 2 workers: the next start resumes as two.
SELECT stream_stop(n) FROM unnest('{rs_agg,rs_gen,rs_join,rs_top}'::text[]) n;
SELECT stream_rescale(n, 2) FROM unnest('{rs_agg,rs_gen,rs_join,rs_top}'::text[]) n;
SELECT name, state, parallelism FROM rs_status;
UPDATE rs_src SET v = v - 3 WHERE id % 3 = 0;
INSERT INTO rs_src SELECT i, i % 17, i FROM generate_series(6001, 6500) i;
SELECT stream_start(n) FROM unnest('{rs_agg,rs_gen,rs_join,rs_top}'::text[]) n;
SELECT n, rs_wait_same(n) FROM unnest('{rs_agg,rs_gen,rs_join,rs_top}'::text[]) n;
SELECT * FROM rs_status;
SELECT count(*) AS prepared_left FROM pg_prepared_xacts;

-- Event time over a generator that splits: window functions per key and a tumbling window (in
-- two phases at several workers), rescaled 2 -> 3 -> 1 workers while the impulse source runs,
-- stopped and started at 3 (each counter once, the windows and the rows before each row moved
-- with their keys).
CREATE SERVER rs_imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE rs_ticks (counter bigint, k bigint GENERATED ALWAYS AS (counter % 7) STORED,
  ts timestamptz GENERATED ALWAYS AS (to_timestamp(1767225600 + counter / 1000.0)) STORED)
  SERVER rs_imp OPTIONS (event_rate '2000', message_count '8000', event_time_field 'ts');
CREATE TABLE rs_over (k bigint, counter bigint, prev bigint, s numeric);
CREATE TABLE rs_win (w tstzrange, k bigint, n bigint, s numeric, PRIMARY KEY (w, k));
SELECT stream_create('rs_over', $$SET parallelism = 2; INSERT INTO rs_over
  SELECT k, counter, lag(counter) OVER (PARTITION BY k ORDER BY ts),
         sum(counter) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
  FROM rs_ticks$$);
SELECT stream_create('rs_win', $$SET parallelism = 2; INSERT INTO rs_win
  SELECT tumble(interval '1 second'), k, count(*), sum(counter) FROM rs_ticks GROUP BY 1, 2$$);
SELECT stream_start('rs_over'), stream_start('rs_win');
SELECT pg_sleep(1.2);
SELECT stream_rescale('rs_over', 3), stream_rescale('rs_win', 3);
SELECT pg_sleep(0.6);
-- A plain stop and start at 3 workers, from the first checkpoints after the rescale.
SELECT stream_stop('rs_over'), stream_stop('rs_win');
SELECT stream_start('rs_over'), stream_start('rs_win');
SELECT pg_sleep(0.6);
SELECT stream_rescale('rs_over', 1), stream_rescale('rs_win', 1);
SELECT stream_wait('rs_over', '120 s') AS rs_over, stream_wait('rs_win', '120 s') AS rs_win;
SELECT name, state, parallelism, last_error FROM rs_status WHERE name IN ('rs_over', 'rs_win');
SELECT count(*) AS differing FROM (
  (TABLE rs_over EXCEPT ALL
   SELECT k, c, lag(c) OVER w, sum(c) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
   FROM (SELECT c, c % 7 AS k FROM generate_series(0::bigint, 7999) c) x
   WINDOW w AS (PARTITION BY k ORDER BY c))
  UNION ALL
  (SELECT k, c, lag(c) OVER w, sum(c) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
   FROM (SELECT c, c % 7 AS k FROM generate_series(0::bigint, 7999) c) x
   WINDOW w AS (PARTITION BY k ORDER BY c)
   EXCEPT ALL TABLE rs_over)) d;
SELECT count(*) AS differing FROM (
  (TABLE rs_win EXCEPT ALL
   SELECT tstzrange(to_timestamp(1767225600 + c / 1000), to_timestamp(1767225600 + c / 1000 + 1)),
          c % 7, count(*), sum(c)
   FROM generate_series(0::bigint, 7999) c GROUP BY 1, 2)
  UNION ALL
  (SELECT tstzrange(to_timestamp(1767225600 + c / 1000), to_timestamp(1767225600 + c / 1000 + 1)),
          c % 7, count(*), sum(c)
   FROM generate_series(0::bigint, 7999) c GROUP BY 1, 2
   EXCEPT ALL TABLE rs_win)) d;

-- Refusals.
SELECT stream_rescale('rs_nope', 2);
SELECT stream_rescale('rs_agg', 0);
SELECT stream_rescale('rs_agg', 33);
CREATE ROLE rs_other;
SET ROLE rs_other;
SELECT stream_rescale('rs_agg', 3);
RESET ROLE;
DROP ROLE rs_other;
SELECT name, state, parallelism FROM rs_status WHERE name = 'rs_agg';

SELECT stream_drop(n) FROM unnest('{rs_agg,rs_gen,rs_join,rs_top,rs_over,rs_win}'::text[]) n;
DROP SERVER rs_imp CASCADE;
DROP VIEW rs_status, rs_batch;
DROP FUNCTION rs_wait_same;
DROP TABLE rs_src, rs_dim, rs_agg, rs_gen, rs_join, rs_top;
