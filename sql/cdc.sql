-- Change data capture: a regular table in FROM is read through logical decoding, first its
-- current rows, then every committed change, and the result stays equal to the batch query.
\set VERBOSITY default
SET timezone = 'UTC';
-- Pipelines run with the database's and owner's settings, not this session's.
SET intervalstyle = 'postgres';
-- Waits (up to 30 s) until two queries return the same rows; returns whether they did.
CREATE FUNCTION wait_same(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
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

CREATE TABLE orders (id serial PRIMARY KEY, k int NOT NULL, v numeric, note text);
INSERT INTO orders (k, v) SELECT g % 7, g FROM generate_series(1, 2000) g;
CREATE TABLE totals (k int PRIMARY KEY, n bigint, s numeric, lo numeric, hi numeric);

-- Requirements, checked at stream_create.
CREATE TABLE nokey (k int, v int);
SELECT stream_create('bad', 'INSERT INTO totals (k, n) SELECT k, count(*) FROM nokey GROUP BY k');
ALTER TABLE orders REPLICA IDENTITY FULL;
SELECT stream_create('bad', 'INSERT INTO orders (k) SELECT count(*) FROM orders');
CREATE TABLE other (k int) ;
ALTER TABLE other REPLICA IDENTITY FULL;
CREATE TABLE parted (k int) PARTITION BY RANGE (k);
SELECT stream_create('bad', 'INSERT INTO totals (k, n) SELECT k, count(*) FROM parted GROUP BY k');
CREATE ROLE regress_cdc_reader LOGIN;
GRANT INSERT ON totals TO regress_cdc_reader;
SET ROLE regress_cdc_reader;
SELECT stream_create('bad', 'INSERT INTO totals (k, n) SELECT k, count(*) FROM orders GROUP BY k');
RESET ROLE;
SELECT count(*) FROM stream_pipelines;

-- The snapshot, then changes: inserts, updates (also of the grouping key), deletes, a
-- rolled-back transaction, a transaction touching many rows.
SELECT stream_create('totals', $$SET update_aggregate_flush_interval = '50 milliseconds';
  INSERT INTO totals SELECT k, count(*), sum(v), min(v), max(v) FROM orders GROUP BY k$$);
SELECT stream_start('totals');
SELECT wait_same('SELECT * FROM totals',
                 'SELECT k, count(*), sum(v), min(v), max(v) FROM orders GROUP BY k') AS snapshot_matches;
SELECT state, rows_in, last_error, slot_lag_bytes IS NOT NULL AS has_slot FROM stream_pipelines;
INSERT INTO orders (k, v) VALUES (1, 1000000), (8, -5);
UPDATE orders SET v = v + 1 WHERE id <= 10;
UPDATE orders SET k = 9 WHERE id BETWEEN 11 AND 13;
DELETE FROM orders WHERE id BETWEEN 20 AND 40;
BEGIN;
INSERT INTO orders (k, v) VALUES (10, 10);
DELETE FROM orders WHERE k = 2;
ROLLBACK;
UPDATE orders SET v = v * 2 WHERE k = 3;
SELECT wait_same('SELECT * FROM totals',
                 'SELECT k, count(*), sum(v), min(v), max(v) FROM orders GROUP BY k') AS changes_match;

-- A randomized workload: thousands of inserts, updates and deletes in many transactions,
-- some rolled back.
SELECT setseed(0.42);
DO $$
DECLARE op float8;
BEGIN
  FOR t IN 1..300 LOOP
    BEGIN
      FOR i IN 1..10 LOOP
        op := random();
        IF op < 0.5 THEN
          INSERT INTO orders (k, v) VALUES ((random() * 12)::int, round((random() * 1000)::numeric, 2));
        ELSIF op < 0.8 THEN
          UPDATE orders SET v = v + 1, k = (random() * 12)::int
          WHERE id = (SELECT id FROM orders ORDER BY id OFFSET (random() * 100)::int LIMIT 1);
        ELSE
          DELETE FROM orders WHERE id = (SELECT id FROM orders ORDER BY id OFFSET (random() * 100)::int LIMIT 1);
        END IF;
      END LOOP;
      IF t % 5 = 0 THEN RAISE EXCEPTION 'roll back this transaction'; END IF;
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
    COMMIT;
  END LOOP;
END $$;
SELECT wait_same('SELECT * FROM totals',
                 'SELECT k, count(*), sum(v), min(v), max(v) FROM orders GROUP BY k') AS random_workload_matches;
SELECT state, last_error FROM stream_pipelines WHERE name = 'totals';

-- A stopped pipeline keeps its slot and resumes where it stopped: what changed meanwhile
-- arrives exactly once, including the delete of a whole group, a transaction touching many
-- rows and one rolled back.
SELECT stream_stop('totals');
SELECT state, slot_lag_bytes IS NOT NULL AS has_slot FROM stream_pipelines WHERE name = 'totals';
DELETE FROM orders WHERE k = 5;
INSERT INTO orders (k, v) VALUES (30, 1), (30, 2);
UPDATE orders SET v = v + 1 WHERE k = 6;
INSERT INTO orders (k, v) SELECT 31, g FROM generate_series(1, 20000) g;
BEGIN;
INSERT INTO orders (k, v) VALUES (32, 1);
UPDATE orders SET k = 32 WHERE k = 7;
ROLLBACK;
SELECT stream_start('totals');
SELECT wait_same('SELECT * FROM totals',
                 'SELECT k, count(*), sum(v), min(v), max(v) FROM orders GROUP BY k') AS resumed_exactly_once;
SELECT k, n FROM totals WHERE k IN (5, 30, 31, 32) ORDER BY k;

-- The same table read by a second pipeline (its own slot), from another schema's table too.
CREATE SCHEMA shop;
CREATE TABLE shop.items (id int PRIMARY KEY, owner_id int NOT NULL, price numeric, label text);
ALTER TABLE shop.items REPLICA IDENTITY FULL;
INSERT INTO shop.items SELECT g, g % 3, g * 1.5, 'item ' || g FROM generate_series(1, 50) g;
CREATE TABLE per_owner (owner_id int PRIMARY KEY, items bigint, labels text);
SELECT stream_create('per_owner', $$SET update_aggregate_flush_interval = '50 milliseconds';
  INSERT INTO per_owner SELECT owner_id, count(*), string_agg(label, ',') FROM shop.items GROUP BY owner_id$$);
CREATE TABLE grand (n bigint, total numeric);
SELECT stream_create('grand', $$SET update_aggregate_flush_interval = '50 milliseconds';
  INSERT INTO grand SELECT count(*), sum(v) FROM orders$$);
SELECT stream_start('per_owner');
SELECT stream_start('grand');
UPDATE shop.items SET owner_id = 7 WHERE id <= 5;
DELETE FROM shop.items WHERE id > 45;
SELECT wait_same($$SELECT owner_id, items, (SELECT string_agg(x, ',' ORDER BY x) FROM unnest(string_to_array(labels, ',')) x) FROM per_owner$$,
                 $$SELECT owner_id, count(*), string_agg(label, ',' ORDER BY label) FROM shop.items GROUP BY owner_id$$) AS other_schema_matches;
SELECT wait_same('SELECT * FROM grand', 'SELECT count(*), sum(v) FROM orders') AS second_reader_matches;
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name LIKE 'arroyo\_%';

-- NULLs, many column types, and TOASTed values left unchanged by an UPDATE.
CREATE TABLE typed (id int PRIMARY KEY, b bool, i2 int2, i8 int8, f4 float4, f8 float8,
  n numeric(12, 3), t text, vc varchar(10), by bytea, d date, ts timestamp, tz timestamptz,
  iv interval, u uuid, j json, jb jsonb, arr int[], addr inet, big text, counter int);
ALTER TABLE typed REPLICA IDENTITY FULL;
ALTER TABLE typed ALTER COLUMN big SET STORAGE EXTERNAL;
INSERT INTO typed VALUES
  (1, true, 1, 10000000000, 1.5, 2.25, 123.456, 'text', 'varchar', '\x00ff', '2026-01-02',
   '2026-01-02 03:04:05', '2026-01-02 03:04:05+00', '1 day 2 hours', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '{"a": [1, 2]}', '{"b": null}', '{1,NULL,3}', '192.168.0.1', repeat('x', 5000) || 'end', 0),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, 0);
CREATE TABLE typed_copy (id int PRIMARY KEY, doc text);
SELECT stream_create('typed', $$SET update_aggregate_flush_interval = '50 milliseconds';
  INSERT INTO typed_copy SELECT id, max(row_to_json(typed)::text) FROM typed GROUP BY id$$);
SELECT stream_start('typed');
UPDATE typed SET counter = counter + 1;
INSERT INTO typed (id, big, counter) VALUES (3, repeat('y', 6000), 1);
UPDATE typed SET counter = counter + 1 WHERE id = 3;
SELECT wait_same('SELECT * FROM typed_copy', 'SELECT id, row_to_json(typed)::text FROM typed') AS types_match;
SELECT id, length(doc) FROM typed_copy ORDER BY id;
-- A table read with whole old rows that loses REPLICA IDENTITY FULL while its pipeline runs:
-- the pipeline fails at the next update rather than retract partial rows.
ALTER TABLE typed REPLICA IDENTITY DEFAULT;
UPDATE typed SET counter = counter + 1 WHERE id = 1;
SELECT stream_wait('typed');
SELECT state, last_error FROM stream_pipelines WHERE name = 'typed';

-- A table identified by its primary key only (no REPLICA IDENTITY FULL): the pipeline keeps
-- its rows by key to retract the old row of an update or delete, including TOASTed values an
-- update leaves unchanged, and a changed key; across a stop and start too.
CREATE TABLE keyed (id int PRIMARY KEY, k int NOT NULL, v numeric, doc text);
ALTER TABLE keyed ALTER COLUMN doc SET STORAGE EXTERNAL;
INSERT INTO keyed SELECT g, g % 5, g, CASE WHEN g % 10 = 0 THEN repeat('d', 3000) || g END
FROM generate_series(1, 100) g;
CREATE TABLE keyed_totals (k int PRIMARY KEY, n bigint, s numeric, docs bigint);
SELECT stream_create('keyed', $$SET update_aggregate_flush_interval = '50 milliseconds';
  INSERT INTO keyed_totals SELECT k, count(*), sum(v), sum(length(doc)) FROM keyed GROUP BY k$$);
SELECT stream_start('keyed');
UPDATE keyed SET v = v + 1 WHERE id <= 30;
UPDATE keyed SET id = id + 1000 WHERE id BETWEEN 31 AND 40;
UPDATE keyed SET k = 7 WHERE id % 10 = 0;
DELETE FROM keyed WHERE id BETWEEN 41 AND 50;
SELECT wait_same('SELECT * FROM keyed_totals',
                 'SELECT k, count(*), sum(v), sum(length(doc)) FROM keyed GROUP BY k') AS keyed_matches;
SELECT stream_stop('keyed');
UPDATE keyed SET v = v * 2 WHERE k = 7;
DELETE FROM keyed WHERE k = 1;
INSERT INTO keyed VALUES (500, 1, 5, 'new');
SELECT stream_start('keyed');
SELECT wait_same('SELECT * FROM keyed_totals',
                 'SELECT k, count(*), sum(v), sum(length(doc)) FROM keyed GROUP BY k') AS keyed_resumed;
SELECT k, n, docs FROM keyed_totals ORDER BY k;

-- One table read twice in a pipeline (a UNION ALL of it with itself) is one source feeding two
-- branches: one replication slot, and every change, deletes and updates too, reaches each
-- branch once; across a stop and start too (the checkpoint covers the shared source).
CREATE TABLE twice_src (id int PRIMARY KEY, k int NOT NULL, v int NOT NULL);
INSERT INTO twice_src SELECT g, g % 4, g FROM generate_series(1, 40) g;
CREATE TABLE twice_out (k int PRIMARY KEY, n bigint, s bigint);
CREATE VIEW twice_expected AS SELECT k, count(*) AS n, sum(v) AS s
  FROM (SELECT k, v FROM twice_src UNION ALL SELECT k + 10, -v FROM twice_src WHERE v > 20) x
  GROUP BY k;
SELECT count(*) AS slots_before FROM pg_replication_slots WHERE slot_name LIKE 'arroyo\_%';
SELECT stream_create('twice', $$SET update_aggregate_flush_interval = '50 milliseconds';
  INSERT INTO twice_out SELECT k, count(*), sum(v)
  FROM (SELECT k, v FROM twice_src UNION ALL SELECT k + 10, -v FROM twice_src WHERE v > 20) x
  GROUP BY k$$);
SELECT stream_start('twice');
SELECT wait_same('SELECT * FROM twice_out', 'SELECT * FROM twice_expected') AS twice_snapshot;
SELECT count(*) AS slots_with_twice FROM pg_replication_slots WHERE slot_name LIKE 'arroyo\_%';
UPDATE twice_src SET v = v + 100 WHERE id <= 5;
UPDATE twice_src SET k = 3 WHERE id BETWEEN 21 AND 24;
DELETE FROM twice_src WHERE id > 36;
SELECT wait_same('SELECT * FROM twice_out', 'SELECT * FROM twice_expected') AS twice_changes;
SELECT stream_stop('twice');
DELETE FROM twice_src WHERE k = 0;
INSERT INTO twice_src VALUES (100, 9, 50);
SELECT stream_start('twice');
SELECT wait_same('SELECT * FROM twice_out', 'SELECT * FROM twice_expected') AS twice_resumed;
SELECT * FROM twice_out ORDER BY k;
SELECT rows_in FROM stream_pipelines WHERE name = 'twice';
SELECT stream_drop('twice');
DROP VIEW twice_expected;
DROP TABLE twice_src, twice_out;

-- TRUNCATE cannot be retracted: the pipeline fails, saying so. It keeps its slot, and started
-- again it reads the TRUNCATE again and fails again: it never skips it.
TRUNCATE shop.items;
SELECT stream_wait('per_owner');
SELECT state, last_error FROM stream_pipelines WHERE name = 'per_owner';
SELECT stream_start('per_owner');
SELECT stream_wait('per_owner');
SELECT state, last_error FROM stream_pipelines WHERE name = 'per_owner';
-- A pipeline whose checkpoint is in a slot that is gone (dropped by hand here; a restored
-- database has none) rebuilds: in one transaction it drops its checkpoint, empties its target
-- and reads the table's current rows in a new slot's snapshot, then follows the changes. Its
-- target has no key: without the emptying the old total would stay beside the new one.
SELECT stream_stop('grand');
SELECT pg_drop_replication_slot('arroyo_' || d.oid || '_' || p.id)
FROM pg_database d, _arroyo_stream.pipelines p
WHERE d.datname = current_database() AND p.name = 'grand';
INSERT INTO orders (k, v) VALUES (7, 70);
SELECT stream_start('grand');
SELECT wait_same('SELECT * FROM grand', 'SELECT count(*), sum(v) FROM orders') AS grand_rebuilt;
SELECT count(*) AS grand_rows FROM grand;
INSERT INTO orders (k, v) VALUES (8, 80);
SELECT wait_same('SELECT * FROM grand', 'SELECT count(*), sum(v) FROM orders') AS grand_follows;
SELECT state, last_error, slot_lag_bytes IS NOT NULL AS has_slot
FROM stream_pipelines WHERE name = 'grand';
-- Stopped and failed pipelines keep their slots (totals, per_owner, typed; keyed and grand
-- run); dropping the pipelines drops them.
SELECT stream_stop('totals');
SELECT count(*) AS slots FROM pg_replication_slots WHERE slot_name LIKE 'arroyo\_%';
SELECT stream_drop(name) FROM stream_pipelines ORDER BY name;
SELECT count(*) AS slots_left FROM pg_replication_slots WHERE slot_name LIKE 'arroyo\_%';

DROP TABLE orders, totals, other, parted, per_owner, grand, typed, typed_copy, nokey, keyed,
  keyed_totals;
DROP SCHEMA shop CASCADE;
DROP FUNCTION wait_same;
DROP ROLE regress_cdc_reader;
