-- Pipelines as catalog citizens: a pipeline owns the view _arroyo_stream."pipeline <name>"
-- over its SELECT and that view's rule "writes" into its target, so PostgreSQL's dependency
-- machinery protects everything the pipeline uses. DROP without CASCADE fails naming the
-- pipeline's view, renames are followed, DDL that would break it is refused, and CASCADE drops
-- the pipeline (stopping its worker and freeing its replication slot).
CREATE SERVER dep_imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE dep_ticks (counter bigint, subtask_index int) SERVER dep_imp
  OPTIONS (event_rate '0', message_count '10');
CREATE SCHEMA dep_s;
CREATE TYPE dep_s.mood AS ENUM ('ok', 'meh');
CREATE FUNCTION dep_label(bigint) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT 'n' || $1 $$;
CREATE FUNCTION dep_plus(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
  AS $$ SELECT $1 + $2 $$;
CREATE OPERATOR ### (leftarg = bigint, rightarg = bigint, function = dep_plus);
CREATE AGGREGATE dep_sum(bigint) (sfunc = int8pl, stype = bigint, initcond = '0');
CREATE TABLE dep_out (n bigint, label text, doubled bigint, mood text);
CREATE TABLE dep_totals (k int PRIMARY KEY, total bigint);
SELECT stream_create('deps', $$SET checkpoint_interval = '1 s';
  INSERT INTO dep_out (n, label, doubled, mood)
  SELECT counter, dep_label(counter), counter ### counter, 'ok'::dep_s.mood::text
  FROM dep_ticks WHERE counter < 5$$);
SELECT stream_create('dep_agg',
  'INSERT INTO dep_totals SELECT subtask_index, dep_sum(counter) FROM dep_ticks GROUP BY 1');
-- What the pipelines' views and rules depend on.
SELECT DISTINCT v.relname AS pipeline_view,
       pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) AS depends_on
FROM pg_depend d
JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
JOIN pg_class v ON v.oid = r.ev_class
WHERE v.relnamespace = '_arroyo_stream'::regnamespace AND d.refobjid <> v.oid
  AND d.deptype = 'n'
UNION
SELECT v.relname, pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
FROM pg_depend d JOIN pg_class v ON d.classid = 'pg_class'::regclass AND d.objid = v.oid
WHERE v.relnamespace = '_arroyo_stream'::regnamespace AND d.deptype = 'n'
ORDER BY 1, 2;
SELECT c.relname, c.relowner::regrole FROM pg_class c
WHERE c.relnamespace = '_arroyo_stream'::regnamespace AND c.relkind = 'v' ORDER BY 1;

-- DROP of anything a pipeline uses fails without CASCADE, naming the pipeline.
DROP FOREIGN TABLE dep_ticks;
DROP TABLE dep_out;
DROP TABLE dep_totals;
ALTER TABLE dep_out DROP COLUMN label;
ALTER TABLE dep_out DROP COLUMN doubled;
DROP FUNCTION dep_label(bigint);
DROP FUNCTION dep_plus(bigint, bigint);
DROP OPERATOR ### (bigint, bigint);
DROP AGGREGATE dep_sum(bigint);
DROP TYPE dep_s.mood;
DROP SCHEMA dep_s;
DROP SERVER dep_imp;
-- Retyping a column a pipeline reads or writes is refused too.
ALTER TABLE dep_out ALTER COLUMN doubled TYPE numeric;
ALTER FOREIGN TABLE dep_ticks ALTER COLUMN subtask_index TYPE bigint;
-- A column it does not use can go.
ALTER TABLE dep_out ADD COLUMN spare int;
ALTER TABLE dep_out DROP COLUMN spare;

-- Renames are followed: the pipeline runs (and stream_pipelines shows) the query as it
-- reads now; until something is renamed, the text as written.
SELECT name, query FROM stream_pipelines WHERE name = 'deps';
ALTER TABLE dep_out RENAME COLUMN doubled TO twice;
ALTER TABLE dep_out RENAME TO dep_result;
ALTER FUNCTION dep_label(bigint) RENAME TO dep_name;
ALTER SCHEMA dep_s RENAME TO dep_t;
ALTER TYPE dep_t.mood RENAME TO feeling;
ALTER FOREIGN TABLE dep_ticks RENAME TO dep_clock;
ALTER FOREIGN TABLE dep_clock RENAME COLUMN subtask_index TO subtask;
SELECT name, query FROM stream_pipelines ORDER BY name;
SELECT stream_start('deps');
SELECT stream_wait('deps');
SELECT * FROM dep_result ORDER BY n;
SELECT stream_start('dep_agg');
SELECT stream_wait('dep_agg');
SELECT * FROM dep_totals;

-- An impulse table's columns have fixed names: a rename CREATE would reject is rejected.
ALTER FOREIGN TABLE dep_clock RENAME COLUMN counter TO cnt;
-- Options are validated by ALTER as by CREATE.
ALTER FOREIGN TABLE dep_clock OPTIONS (ADD start_time '2026-01-01 00:00:00+00');

-- CASCADE drops the pipeline with its view.
DROP FUNCTION dep_name(bigint) CASCADE;
SELECT name FROM stream_pipelines ORDER BY name;
DROP AGGREGATE dep_sum(bigint) CASCADE;
SELECT name FROM stream_pipelines ORDER BY name;
SELECT count(*) AS pipeline_views FROM pg_class
WHERE relnamespace = '_arroyo_stream'::regnamespace AND relkind = 'v';

-- stream_drop drops the view (and its rule) too; afterwards the objects can go freely.
SELECT stream_create('again', 'INSERT INTO dep_result (n) SELECT counter FROM dep_clock');
SELECT count(*) AS pipeline_views FROM pg_class
WHERE relnamespace = '_arroyo_stream'::regnamespace AND relkind = 'v';
SELECT stream_drop('again');
SELECT count(*) AS pipeline_views FROM pg_class
WHERE relnamespace = '_arroyo_stream'::regnamespace AND relkind = 'v';
DROP TABLE dep_result;
DROP TABLE dep_totals;

-- A running pipeline's target dropped with CASCADE: the pipeline is dropped, its worker
-- stopped (at commit) and its checkpoints removed.
CREATE FOREIGN TABLE dep_endless (counter bigint) SERVER dep_imp OPTIONS (event_rate '200');
CREATE TABLE dep_sink (n bigint);
SELECT stream_create('endless', 'INSERT INTO dep_sink SELECT counter FROM dep_endless');
SELECT stream_start('endless');
CREATE TEMP TABLE endless_id AS SELECT id FROM _arroyo_stream.pipelines WHERE name = 'endless';
DO $$
BEGIN
  -- Until it has committed rows and a checkpoint.
  WHILE NOT EXISTS (SELECT FROM _arroyo_stream.checkpoints
                    WHERE pipeline_id = (SELECT id FROM endless_id)) LOOP
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT count(*) > 0 AS wrote FROM dep_sink;
DROP TABLE dep_sink;
DROP TABLE dep_sink CASCADE;
SELECT name FROM stream_pipelines ORDER BY name;
DO $$
BEGIN
  WHILE EXISTS (SELECT FROM _arroyo_stream.live_status()
                WHERE pipeline_id = (SELECT id FROM endless_id) AND state = 'running') LOOP
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT count(*) AS checkpoints_left FROM _arroyo_stream.checkpoints
WHERE pipeline_id = (SELECT id FROM endless_id);
SELECT count(*) AS state_left FROM _arroyo_stream.state
WHERE pipeline_id = (SELECT id FROM endless_id);
DROP FOREIGN TABLE dep_endless;

-- A rolled-back DROP … CASCADE leaves the pipeline as it was.
CREATE TABLE dep_keep (n bigint);
SELECT stream_create('kept', 'INSERT INTO dep_keep SELECT counter FROM dep_clock');
BEGIN;
DROP TABLE dep_keep CASCADE;
SELECT name FROM stream_pipelines WHERE name = 'kept';
ROLLBACK;
SELECT name, state FROM stream_pipelines WHERE name = 'kept';
SELECT stream_start('kept');
SELECT stream_wait('kept');
SELECT count(*) FROM dep_keep;
SELECT stream_drop('kept');
DROP TABLE dep_keep;

-- The view's name must fit: pipeline names are at most 54 bytes.
SELECT stream_create(repeat('x', 55), 'INSERT INTO dep_keep SELECT counter FROM dep_clock');
