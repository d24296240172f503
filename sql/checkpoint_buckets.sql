-- Updating aggregates checkpoint their groups in buckets (one state row of about 1 KiB per
-- bucket, a power-of-two number of them); checkpoints written before buckets (one row per
-- group, part 0) are still read and replaced by buckets at the next checkpoint.
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
-- Rewrites the buckets as a checkpoint before buckets had them: one entry per group, part 0.
CREATE FUNCTION cb_to_legacy() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  r record;
  o int;
  kl int;
  vl int;
  total bigint := 0;
BEGIN
  FOR r IN SELECT * FROM cb_buckets WHERE part > 0 LOOP
    o := 8;
    FOR i IN 1 .. cb_int8(r.value, 0) LOOP
      kl := cb_int8(r.value, o);
      vl := cb_int8(r.value, o + 8 + kl);
      INSERT INTO _arroyo_stream.state (pipeline_id, node, part, key, value)
      VALUES (r.pipeline_id, r.node, 0, substring(r.value FROM o + 9 FOR kl),
              substring(r.value FROM o + 17 + kl FOR vl));
      o := o + 16 + kl + vl;
      total := total + 1;
    END LOOP;
    IF o <> length(r.value) THEN RAISE 'bucket not read to its end'; END IF;
    DELETE FROM _arroyo_stream.state WHERE ctid = r.at;
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
-- which PostgreSQL would compress it, far fewer rows than groups.
SELECT count(DISTINCT part) AS generations, min(part) & (min(part) - 1) = 0 AS power_of_two,
       count(*) <= min(part) AS within_generation, count(*) < 10000 / 4 AS few_rows,
       max(length(value)) < 2032 AS small, sum(cb_int8(value, 0)) AS groups
FROM cb_buckets;
SELECT count(*), sum(n), sum(total) FROM cb_keys;
-- An older checkpoint (one entry per group) is read, and the next checkpoint replaces its
-- entries by buckets; the counts go on from where it stopped.
SELECT cb_to_legacy();
SELECT count(*) FILTER (WHERE part = 0) AS legacy, count(*) FILTER (WHERE part > 0) AS buckets
FROM cb_buckets;
ALTER FOREIGN TABLE cb_ticks OPTIONS (SET message_count '60000');
SELECT stream_start('cb_keys');
SELECT stream_wait('cb_keys');
SELECT count(*) FILTER (WHERE part = 0) AS legacy, count(DISTINCT part) AS generations,
       sum(cb_int8(value, 0)) AS groups
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
DROP VIEW cb_buckets;
DROP FUNCTION cb_to_legacy(), cb_int8(bytea, int);
DROP TABLE cb_keys, cb_node;
DROP SERVER cb_imp CASCADE;
