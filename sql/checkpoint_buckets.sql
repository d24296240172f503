-- Updating aggregates checkpoint their groups in buckets (one state row of about 1 KiB per
-- bucket, a power-of-two number of them); checkpoints written before buckets (one row per
-- group, part 0) are still read and replaced by buckets at the next checkpoint. count/sum
-- aggregates keep compact state (integers inline), whose buckets begin with a format number
-- (-1: format 1) before the group count; the previous version's buckets of the same query
-- (PostgreSQL's transition states, no format number) are still read.
SET client_min_messages = warning;
\set VERBOSITY terse
CREATE SERVER cb_imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE cb_ticks (counter bigint) SERVER cb_imp
  OPTIONS (event_rate '0', message_count '30000');
CREATE TABLE cb_keys (k bigint PRIMARY KEY, n bigint, total numeric);
SELECT stream_create('cb_keys', $$INSERT INTO cb_keys
  SELECT counter % 10000, count(*), sum(counter) FROM cb_ticks GROUP BY 1$$);
-- A little-endian int8 of a checkpoint entry at byte offset o.
CREATE FUNCTION cb_int8(b bytea, o int) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT sum(get_byte(b, o + i)::bigint << (8 * i))::bigint FROM generate_series(0, 7) i $$;
-- The updating aggregate's entries (the node whose entries have part >= 0 besides the
-- watermark's, part -2^63), found after the first run.
CREATE TABLE cb_node (node int);
CREATE VIEW cb_buckets AS
  SELECT s.ctid AS at, s.*
  FROM _arroyo_stream.state s JOIN _arroyo_stream.pipelines p ON p.id = s.pipeline_id
  WHERE p.name = 'cb_keys' AND s.part >= 0 AND s.node IN (SELECT node FROM cb_node);
-- Replaces the updating aggregate's entries of pipeline p (node nd) by those in cb_generic,
-- buckets the previous version wrote (per_group false), or, rewritten as a checkpoint before
-- buckets had them, one entry per group in part 0 (per_group true).
CREATE TABLE cb_generic (part bigint, key bytea, value bytea);
CREATE FUNCTION cb_load_generic(p text, nd int, per_group bool) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  pid int := (SELECT id FROM _arroyo_stream.pipelines WHERE name = p);
  r record;
  o int;
  kl int;
  vl int;
  total bigint := 0;
BEGIN
  DELETE FROM _arroyo_stream.state WHERE pipeline_id = pid AND node = nd AND part >= 0;
  IF NOT per_group THEN
    INSERT INTO _arroyo_stream.state (pipeline_id, node, part, key, value)
    SELECT pid, nd, part, key, value FROM cb_generic;
    RETURN (SELECT sum(cb_int8(value, 0)) FROM cb_generic);
  END IF;
  FOR r IN SELECT * FROM cb_generic LOOP
    o := 8;
    FOR i IN 1 .. cb_int8(r.value, 0) LOOP
      kl := cb_int8(r.value, o);
      vl := cb_int8(r.value, o + 8 + kl);
      INSERT INTO _arroyo_stream.state (pipeline_id, node, part, key, value)
      VALUES (pid, nd, 0, substring(r.value FROM o + 9 FOR kl),
              substring(r.value FROM o + 17 + kl FOR vl));
      o := o + 16 + kl + vl;
      total := total + 1;
    END LOOP;
    IF o <> length(r.value) THEN RAISE 'bucket not read to its end'; END IF;
  END LOOP;
  RETURN total;
END $$;
SELECT stream_start('cb_keys');
SELECT stream_wait('cb_keys');
INSERT INTO cb_node SELECT DISTINCT s.node
FROM _arroyo_stream.state s JOIN _arroyo_stream.pipelines p ON p.id = s.pipeline_id
WHERE p.name = 'cb_keys' AND s.part > 0;
SELECT count(*) AS nodes_with_buckets FROM cb_node;
-- 10 000 groups in one generation of buckets: a power of two of them, each below the size at
-- which PostgreSQL would compress it, far fewer rows than groups; all in format 1.
SELECT count(DISTINCT part) AS generations, min(part) & (min(part) - 1) = 0 AS power_of_two,
       count(*) <= min(part) AS within_generation, count(*) < 10000 / 4 AS few_rows,
       max(length(value)) < 2032 AS small, bool_and(cb_int8(value, 0) = -1) AS format_1,
       sum(cb_int8(value, 8)) AS groups
FROM cb_buckets;
SELECT count(*), sum(n), sum(total) FROM cb_keys;
-- The counts go on from where the checkpoint stopped.
ALTER FOREIGN TABLE cb_ticks OPTIONS (SET message_count '60000');
SELECT stream_start('cb_keys');
SELECT stream_wait('cb_keys');
SELECT count(*) FILTER (WHERE part = 0) AS legacy, count(DISTINCT part) AS generations,
       sum(cb_int8(value, 8)) AS groups
FROM cb_buckets;
-- The same as the batch query over all 60 000 events.
SELECT count(*) AS differences FROM (
  (SELECT * FROM cb_keys
   EXCEPT SELECT c % 10000, count(*), sum(c) FROM generate_series(0::bigint, 59999) c GROUP BY 1)
  UNION ALL
  (SELECT c % 10000, count(*), sum(c) FROM generate_series(0::bigint, 59999) c GROUP BY 1
   EXCEPT SELECT * FROM cb_keys)) d;
-- A damaged bucket (its number beyond the generation's count, 1024 or 2048 buckets here)
-- fails the pipeline clearly.
UPDATE _arroyo_stream.state SET key = '\x3f420f0000000000'
WHERE ctid = (SELECT at FROM cb_buckets WHERE part > 0 LIMIT 1);
ALTER FOREIGN TABLE cb_ticks OPTIONS (SET message_count '60001');
SELECT stream_start('cb_keys');
SELECT stream_wait('cb_keys');
SELECT state, regexp_replace(last_error, ' of [0-9]+ does', ' of N does') AS last_error
FROM stream_pipelines WHERE name = 'cb_keys';
SELECT stream_drop('cb_keys');
-- The previous version's checkpoints. test/data/updating_generic_state.csv holds the buckets
-- it (commit 5c56415) wrote for cb_old after 3000 events: count(*), count(x), sum(bigint)
-- with a group whose inputs are all NULL and sums beyond bigint's range, sum(int) and a
-- filtered sum(smallint) NULL in some groups, as PostgreSQL's transition states. cb_old runs
-- the same 3000 events here, its state is replaced by those buckets (or by one entry per
-- group, part 0, from before buckets), and it goes on to 6000: the result must be the batch
-- query's over 6000, so the old states were read exactly.
\getenv abs_srcdir PG_ABS_SRCDIR
\set generic_state :abs_srcdir '/data/updating_generic_state.csv'
COPY cb_generic FROM :'generic_state' (FORMAT csv);
SELECT count(*) AS buckets, bool_and(cb_int8(value, 0) >= 0) AS no_format_number,
       sum(cb_int8(value, 0)) AS groups
FROM cb_generic;
CREATE FOREIGN TABLE cb_old_ticks (counter bigint) SERVER cb_imp
  OPTIONS (event_rate '0', message_count '3000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second');
CREATE TABLE cb_old (k bigint PRIMARY KEY, n bigint, nx bigint, s numeric, big numeric,
                     s4 bigint, s2 bigint);
CREATE VIEW cb_old_batch AS
  SELECT counter % 200 AS k, count(*) AS n, count(nullif(counter % 3, 0)) AS nx,
         sum(nullif(counter % 200, 5)) AS s, sum((counter % 2000 + 1) * 4000000000000000) AS big,
         sum((counter % 100)::int) AS s4,
         sum((counter % 10)::smallint) FILTER (WHERE counter % 4 = 0) AS s2
  FROM generate_series(0::bigint, 5999) counter GROUP BY 1;
CREATE TABLE cb_old_node (node int);  -- the updating aggregate's, found after the first run
CREATE VIEW cb_old_state AS
  SELECT s.* FROM _arroyo_stream.state s JOIN _arroyo_stream.pipelines p ON p.id = s.pipeline_id
  WHERE p.name = 'cb_old' AND s.part >= 0 AND s.node IN (SELECT node FROM cb_old_node);
-- One round: the first 3000 events, the old state in place of what they left, 3000 more.
-- (Steps in separate statements: the worker sees only committed catalog rows.)
\set cb_old_create 'SELECT stream_create(''cb_old'', $q$INSERT INTO cb_old SELECT counter % 200, count(*), count(nullif(counter % 3, 0)), sum(nullif(counter % 200, 5)), sum((counter % 2000 + 1) * 4000000000000000), sum((counter % 100)::int), sum((counter % 10)::smallint) FILTER (WHERE counter % 4 = 0) FROM cb_old_ticks GROUP BY 1$q$)'
\set cb_old_check 'SELECT count(*) FILTER (WHERE part = 0) AS legacy, bool_and(cb_int8(value, 0) = -1) FILTER (WHERE part > 0) AS format_1, sum(CASE WHEN cb_int8(value, 0) = -1 THEN cb_int8(value, 8) ELSE cb_int8(value, 0) END) FILTER (WHERE part > 0) AS groups FROM cb_old_state'
\set cb_old_compare 'SELECT count(*) AS differences, (SELECT s FROM cb_old WHERE k = 5) AS all_null_sum, (SELECT big FROM cb_old WHERE k = 199) AS above_bigint FROM ((SELECT * FROM cb_old EXCEPT SELECT * FROM cb_old_batch) UNION ALL (SELECT * FROM cb_old_batch EXCEPT SELECT * FROM cb_old)) d'
-- The previous version's buckets.
:cb_old_create;
SELECT stream_start('cb_old');
SELECT stream_wait('cb_old');
INSERT INTO cb_old_node SELECT DISTINCT s.node
FROM _arroyo_stream.state s JOIN _arroyo_stream.pipelines p ON p.id = s.pipeline_id
WHERE p.name = 'cb_old' AND s.part > 0;
:cb_old_check;
SELECT cb_load_generic('cb_old', (SELECT node FROM cb_old_node), false) AS loaded;
:cb_old_check;
ALTER FOREIGN TABLE cb_old_ticks OPTIONS (SET message_count '6000');
SELECT stream_start('cb_old');
SELECT stream_wait('cb_old');
:cb_old_check;
:cb_old_compare;
-- One entry per group (part 0), from before buckets.
SELECT stream_drop('cb_old');
TRUNCATE cb_old;
ALTER FOREIGN TABLE cb_old_ticks OPTIONS (SET message_count '3000');
:cb_old_create;
SELECT stream_start('cb_old');
SELECT stream_wait('cb_old');
SELECT cb_load_generic('cb_old', (SELECT node FROM cb_old_node), true) AS loaded;
:cb_old_check;
ALTER FOREIGN TABLE cb_old_ticks OPTIONS (SET message_count '6000');
SELECT stream_start('cb_old');
SELECT stream_wait('cb_old');
:cb_old_check;
:cb_old_compare;
-- And on from the compact state's own checkpoint (sums beyond bigint's range included).
ALTER FOREIGN TABLE cb_old_ticks OPTIONS (SET message_count '9000');
CREATE OR REPLACE VIEW cb_old_batch AS
  SELECT counter % 200 AS k, count(*) AS n, count(nullif(counter % 3, 0)) AS nx,
         sum(nullif(counter % 200, 5)) AS s, sum((counter % 2000 + 1) * 4000000000000000) AS big,
         sum((counter % 100)::int) AS s4,
         sum((counter % 10)::smallint) FILTER (WHERE counter % 4 = 0) AS s2
  FROM generate_series(0::bigint, 8999) counter GROUP BY 1;
SELECT stream_start('cb_old');
SELECT stream_wait('cb_old');
:cb_old_compare;
SELECT stream_drop('cb_old');
DROP VIEW cb_buckets, cb_old_state, cb_old_batch;
DROP FUNCTION cb_load_generic(text, int, bool), cb_int8(bytea, int);
DROP TABLE cb_keys, cb_node, cb_generic, cb_old, cb_old_node;
DROP SERVER cb_imp CASCADE;
