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
  AND d.deptype = 'n' AND v.relname IN ('pipeline deps', 'pipeline dep_agg')
UNION
SELECT v.relname, pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
FROM pg_depend d JOIN pg_class v ON d.classid = 'pg_class'::regclass AND d.objid = v.oid
WHERE v.relnamespace = '_arroyo_stream'::regnamespace AND d.deptype = 'n'
  AND v.relname IN ('pipeline deps', 'pipeline dep_agg')
ORDER BY 1, 2;
SELECT c.relname, c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS owned_by_creator
FROM pg_class c
WHERE c.relnamespace = '_arroyo_stream'::regnamespace AND c.relkind = 'v'
  AND c.relname IN ('pipeline deps', 'pipeline dep_agg') ORDER BY 1;

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
SELECT name, query FROM stream_pipelines WHERE name IN ('deps', 'dep_agg') ORDER BY name;
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
SELECT name FROM stream_pipelines WHERE name IN ('deps', 'dep_agg', 'again', 'endless') ORDER BY name;
DROP AGGREGATE dep_sum(bigint) CASCADE;
SELECT name FROM stream_pipelines WHERE name IN ('deps', 'dep_agg', 'again', 'endless') ORDER BY name;
SELECT relname AS pipeline_views FROM pg_class
WHERE relnamespace = '_arroyo_stream'::regnamespace AND relkind = 'v'
  AND relname IN ('pipeline deps', 'pipeline dep_agg', 'pipeline again') ORDER BY 1;

-- stream_drop drops the view (and its rule) too; afterwards the objects can go freely.
SELECT stream_create('again', 'INSERT INTO dep_result (n) SELECT counter FROM dep_clock');
SELECT relname AS pipeline_views FROM pg_class
WHERE relnamespace = '_arroyo_stream'::regnamespace AND relkind = 'v'
  AND relname IN ('pipeline deps', 'pipeline dep_agg', 'pipeline again') ORDER BY 1;
SELECT stream_drop('again');
SELECT relname AS pipeline_views FROM pg_class
WHERE relnamespace = '_arroyo_stream'::regnamespace AND relkind = 'v'
  AND relname IN ('pipeline deps', 'pipeline dep_agg', 'pipeline again') ORDER BY 1;
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
SELECT name FROM stream_pipelines WHERE name IN ('deps', 'dep_agg', 'again', 'endless') ORDER BY name;
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

-- A regular table read through change data capture: renamed columns and tables are
-- followed; a running CDC pipeline dropped by CASCADE frees its replication slot.
CREATE TABLE dep_orders (id int PRIMARY KEY, amount int NOT NULL);
INSERT INTO dep_orders VALUES (1, 10), (2, 20), (3, 5);
CREATE TABLE dep_by_amount (amount int PRIMARY KEY, orders bigint);
SELECT stream_create('cdc_dep',
  'INSERT INTO dep_by_amount SELECT amount, count(*) FROM dep_orders GROUP BY amount');
ALTER TABLE dep_orders RENAME COLUMN amount TO total;
ALTER TABLE dep_orders RENAME TO dep_orders2;
-- Its changes must keep identifying the old rows.
ALTER TABLE dep_orders2 DROP CONSTRAINT dep_orders_pkey;
ALTER TABLE dep_orders2 REPLICA IDENTITY NOTHING;
SELECT query FROM stream_pipelines WHERE name = 'cdc_dep';
SELECT stream_start('cdc_dep');
CREATE TEMP TABLE cdc_id AS SELECT id FROM _arroyo_stream.pipelines WHERE name = 'cdc_dep';
DO $$
BEGIN
  WHILE (SELECT count(*) FROM dep_by_amount) < 3 LOOP PERFORM pg_sleep(0.01); END LOOP;
END $$;
SELECT * FROM dep_by_amount ORDER BY amount;
SELECT count(*) AS slots FROM pg_replication_slots
WHERE slot_name LIKE 'arroyo\_%\_' || (SELECT id FROM cdc_id);
DROP TABLE dep_orders2 CASCADE;
SELECT name FROM stream_pipelines WHERE name = 'cdc_dep';
DO $$
BEGIN
  WHILE EXISTS (SELECT FROM pg_replication_slots
                WHERE slot_name LIKE 'arroyo\_%\_' || (SELECT id FROM cdc_id)) LOOP
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT count(*) AS slots_left FROM pg_replication_slots
WHERE slot_name LIKE 'arroyo\_%\_' || (SELECT id FROM cdc_id);
DROP TABLE dep_by_amount;

-- Connectors find a foreign table's columns by name (a JSON field here): renaming a column
-- a pipeline reads is refused, naming the pipeline; one it does not read can be renamed.
CREATE SERVER dep_files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE dep_json (a int, b text, c text) SERVER dep_files
  OPTIONS (path '/nonexistent/dep.json', type 'source', format 'json');
CREATE TABLE dep_ab (a int, b text);
SELECT stream_create('json_dep', 'INSERT INTO dep_ab SELECT a, b FROM dep_json');
ALTER FOREIGN TABLE dep_json RENAME COLUMN b TO bee;
ALTER FOREIGN TABLE dep_json RENAME COLUMN c TO sea;

-- A source option that a pipeline's checkpoint refers to cannot change while the checkpoint
-- exists; other options can.
CREATE TABLE dep_counts (n bigint);
SELECT stream_create('ticked', 'INSERT INTO dep_counts SELECT counter FROM dep_clock');
SELECT stream_start('ticked');
SELECT stream_wait('ticked');
SELECT count(*) FROM dep_counts;
ALTER FOREIGN TABLE dep_clock OPTIONS (ADD start_time '2026-01-01 00:00:00+00',
                                       ADD event_time_interval '1 second');
ALTER FOREIGN TABLE dep_clock OPTIONS (SET message_count '20');
SELECT stream_start('ticked');
SELECT stream_wait('ticked');
SELECT count(*), count(DISTINCT n), max(n) FROM dep_counts;
-- Without a checkpoint (dropped and created again) the change is allowed.
SELECT stream_drop('ticked');
ALTER FOREIGN TABLE dep_clock OPTIONS (ADD start_time '2026-01-01 00:00:00+00',
                                       ADD event_time_interval '1 second');
-- Options are validated by ALTER as by CREATE: start_time needs event_time_interval.
ALTER FOREIGN TABLE dep_clock OPTIONS (DROP event_time_interval);
CREATE FOREIGN TABLE dep_bad (counter bigint) SERVER dep_imp
  OPTIONS (event_rate '0', start_time '2026-01-01 00:00:00+00');

-- Targets. A temporary table: the worker cannot see it.
CREATE TEMP TABLE dep_tmp (n bigint);
SELECT stream_create('tmp', 'INSERT INTO dep_tmp SELECT counter FROM dep_clock');
-- Nor read one through change data capture.
CREATE TEMP TABLE dep_tmp_src (id int PRIMARY KEY);
SELECT stream_create('tmp_src', 'INSERT INTO dep_counts SELECT id FROM dep_tmp_src');
-- An unlogged table works.
CREATE UNLOGGED TABLE dep_unlogged (n bigint);
SELECT stream_create('unlogged', 'INSERT INTO dep_unlogged SELECT counter FROM dep_clock');
SELECT stream_start('unlogged');
SELECT stream_wait('unlogged');
SELECT count(*), min(n), max(n) FROM dep_unlogged;
SELECT stream_drop('unlogged');
-- A partitioned table: appended rows are routed to their partitions (each with its own
-- column order and triggers); a row no partition accepts fails the pipeline with
-- PostgreSQL's error; updating results are refused.
CREATE TABLE dep_parts (n bigint, tag text) PARTITION BY RANGE (n);
CREATE TABLE dep_parts_low PARTITION OF dep_parts FOR VALUES FROM (0) TO (10);
CREATE TABLE dep_parts_high (tag text, extra int DEFAULT 7, n bigint);
ALTER TABLE dep_parts_high DROP COLUMN extra;
ALTER TABLE dep_parts ATTACH PARTITION dep_parts_high FOR VALUES FROM (10) TO (15);
CREATE FUNCTION dep_tag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.tag := TG_TABLE_NAME; RETURN NEW; END $$;
CREATE TRIGGER tag BEFORE INSERT ON dep_parts FOR EACH ROW EXECUTE FUNCTION dep_tag();
SELECT stream_create('parts', 'INSERT INTO dep_parts (n) SELECT counter FROM dep_clock
                               WHERE counter < 15');
SELECT stream_start('parts');
SELECT stream_wait('parts');
SELECT tableoid::regclass, count(*), min(n), max(n), min(tag) FROM dep_parts GROUP BY 1 ORDER BY 1;
SELECT stream_create('parts_all', 'INSERT INTO dep_parts (n) SELECT counter FROM dep_clock');
SELECT stream_start('parts_all');
SELECT stream_wait('parts_all');
SELECT state, last_error FROM stream_pipelines WHERE name = 'parts_all';
SELECT stream_create('parts_updating',
  'INSERT INTO dep_parts (n) SELECT count(*) FROM dep_clock');
SELECT stream_drop('parts'), stream_drop('parts_all');
-- Row-level security that applies to the pipeline's owner is refused (the pipeline would
-- write without applying the policies); its owner, to whom it does not apply, may write.
CREATE ROLE dep_writer LOGIN;
CREATE TABLE dep_rls (n bigint, who text DEFAULT current_user);
ALTER TABLE dep_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY small ON dep_rls USING (n < 5);
GRANT SELECT, INSERT ON dep_rls TO dep_writer;
GRANT USAGE ON FOREIGN SERVER dep_imp TO dep_writer;
GRANT SELECT ON dep_clock TO dep_writer;
SET ROLE dep_writer;
SELECT stream_create('rls', 'INSERT INTO dep_rls (n) SELECT counter FROM dep_clock');
RESET ROLE;
ALTER TABLE dep_rls OWNER TO dep_writer;
SET ROLE dep_writer;
SELECT stream_create('rls', 'INSERT INTO dep_rls (n) SELECT counter FROM dep_clock');
RESET ROLE;
SELECT stream_start('rls');
SELECT stream_wait('rls');
SELECT count(*), max(n), min(who) FROM dep_rls;
-- The pipeline's view belongs to its owner: DROP OWNED drops the pipeline.
SELECT name, owner FROM stream_pipelines WHERE name = 'rls';
DROP OWNED BY dep_writer;
SELECT name FROM stream_pipelines WHERE name = 'rls';
DROP ROLE dep_writer;
-- The owner cannot be dropped while it owns a pipeline; REASSIGN OWNED moves the pipeline to
-- the new owner, whose role its worker then runs as.
CREATE ROLE dep_old LOGIN;
CREATE ROLE dep_new LOGIN;
GRANT USAGE ON FOREIGN SERVER dep_imp TO dep_old, dep_new;
GRANT SELECT ON dep_clock TO dep_old, dep_new;
CREATE TABLE dep_moved (n bigint, who text DEFAULT current_user);
GRANT INSERT ON dep_moved TO dep_old, dep_new;
SET ROLE dep_old;
SELECT stream_create('moved', 'INSERT INTO dep_moved (n) SELECT counter FROM dep_clock');
RESET ROLE;
REVOKE ALL ON dep_moved FROM dep_old;
REVOKE ALL ON dep_clock FROM dep_old;
REVOKE ALL ON FOREIGN SERVER dep_imp FROM dep_old;
DROP ROLE dep_old;
REASSIGN OWNED BY dep_old TO dep_new;
SELECT name, owner FROM stream_pipelines WHERE name = 'moved';
DROP ROLE dep_old;
SELECT stream_start('moved');
SELECT stream_wait('moved');
SELECT count(*), min(who) FROM dep_moved;
SELECT stream_drop('moved');
DROP TABLE dep_moved;
DROP OWNED BY dep_new;
DROP ROLE dep_new;
-- Triggers and generated columns of the target apply as for any INSERT (sql/table_sink.sql).
-- A foreign table of another wrapper (postgres_fdw into this same database): append-only
-- results go in through the wrapper; updating ones are refused.
CREATE EXTENSION postgres_fdw;
DO $$
BEGIN
  EXECUTE format('CREATE SERVER dep_loop FOREIGN DATA WRAPPER postgres_fdw
                  OPTIONS (host %L, port %L, dbname %L)',
                 split_part(current_setting('unix_socket_directories'), ',', 1),
                 current_setting('port'), current_database());
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER dep_loop;
CREATE TABLE dep_remote (n bigint, doubled bigint GENERATED ALWAYS AS (n * 2) STORED);
CREATE FOREIGN TABLE dep_remote_ft (n bigint) SERVER dep_loop
  OPTIONS (table_name 'dep_remote');
SELECT stream_create('fdw', 'INSERT INTO dep_remote_ft SELECT counter FROM dep_clock');
SELECT stream_start('fdw');
SELECT stream_wait('fdw');
SELECT count(*), sum(n), sum(doubled) FROM dep_remote;
SELECT stream_create('fdw_updating',
  'INSERT INTO dep_remote_ft SELECT count(*) FROM dep_clock');
-- It is no source.
SELECT stream_create('fdw_source', 'INSERT INTO dep_counts SELECT n FROM dep_remote_ft');
SELECT stream_drop('fdw');
DROP FOREIGN TABLE dep_remote_ft;
DROP SERVER dep_loop CASCADE;
DROP EXTENSION postgres_fdw;

-- Error messages. Querying a sink names what it is.
CREATE SERVER dep_hole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE dep_void (n bigint) SERVER dep_hole;
SELECT * FROM dep_void;
-- Keys: an int grouping key into a bigint key column, and the other way round.
CREATE TABLE dep_key_big (k bigint PRIMARY KEY, c bigint);
CREATE TABLE dep_key_int (k int PRIMARY KEY, c bigint);
SELECT stream_create('key_big', 'INSERT INTO dep_key_big SELECT subtask_index, count(*) FROM dep_clock GROUP BY 1');
SELECT stream_create('key_int', 'INSERT INTO dep_key_int SELECT counter, count(*) FROM dep_clock GROUP BY 1');
SELECT stream_create('key_text', 'INSERT INTO dep_key_int SELECT counter::text, count(*) FROM dep_clock GROUP BY 1');
SELECT stream_start('key_big'), stream_start('key_int');
SELECT stream_wait('key_big'), stream_wait('key_int');
SELECT name, state, last_error FROM stream_pipelines WHERE name LIKE 'key%' ORDER BY 1;
-- A bigint key out of an integer key column's range: the failure says which key and column.
SELECT stream_create('key_range',
  'INSERT INTO dep_key_int SELECT counter + 3000000000, count(*) FROM dep_clock GROUP BY 1');
SELECT stream_start('key_range');
SELECT stream_wait('key_range');
SELECT state, last_error FROM stream_pipelines WHERE name = 'key_range';

-- The view's name must fit: pipeline names are at most 54 bytes.
SELECT stream_create(repeat('x', 55), 'INSERT INTO dep_keep SELECT counter FROM dep_clock');
