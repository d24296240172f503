-- stream_preview: a query's rows as a temporary pipeline produces them, with their operation and
-- window, without creating anything; ends at max_rows, the timeout, the end of the sources or a
-- cancel, and leaves no worker and no replication slot behind.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER pv_imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE pv_ticks (counter bigint) SERVER pv_imp
  OPTIONS (event_rate '0', message_count '1000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '10 ms');
CREATE FOREIGN TABLE pv_slow (counter bigint) SERVER pv_imp OPTIONS (event_rate '20');
-- Waits until no preview worker and no preview slot is left.
CREATE FUNCTION pv_wait_clean() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..400 LOOP
    IF NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'arroyo_stream preview')
       AND NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name LIKE 'arroyo_preview_%')
    THEN
      RETURN 'clean';
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN 'left behind: ' || (SELECT string_agg(backend_type, ', ') FROM pg_stat_activity
                             WHERE backend_type = 'arroyo_stream preview');
END $$;

-- 1. Append-only rows, to the end of a bounded source: the batch query's rows.
SELECT op, window_start, "row" FROM stream_preview(
  'SELECT counter, counter * 2 AS twice FROM pv_ticks WHERE counter % 100 = 7', NULL);
-- max_rows stops it early.
SELECT count(*) FROM stream_preview('SELECT counter FROM pv_ticks', 3);

-- 2. Windowed: each row has its window's bounds; a window the select list leaves out is not
-- in "row", a selected one is.
SELECT op, window_start, window_end, "row" FROM stream_preview(
  'SELECT count(*) AS n, max(counter) AS last FROM pv_ticks GROUP BY tumble(interval ''3 seconds'')');
SELECT window_start, window_end, "row"->>'n' AS n, "row"->>'w' AS w FROM stream_preview(
  'SELECT hop(interval ''5 seconds'', interval ''10 seconds'') AS w, count(*) AS n FROM pv_ticks GROUP BY w', 3);

-- 3. Updating: inserts and deletes whose net effect is the batch query's result.
CREATE TEMP TABLE pv_updates AS SELECT * FROM stream_preview(
  'SET update_aggregate_flush_interval = ''10 ms'';
   SELECT counter % 3 AS k, count(*) AS n, sum(counter) AS s FROM pv_ticks GROUP BY 1', NULL);
SELECT count(*) FILTER (WHERE op NOT IN ('insert', 'delete')) AS other_ops FROM pv_updates;
SELECT "row"::text, sum(CASE op WHEN 'insert' THEN 1 ELSE -1 END) AS net FROM pv_updates
GROUP BY 1 HAVING sum(CASE op WHEN 'insert' THEN 1 ELSE -1 END) <> 0 ORDER BY 1;
SELECT counter % 3 AS k, count(*), sum(counter) FROM generate_series(0, 999) counter GROUP BY 1 ORDER BY 1;
-- While the source runs, a group that changes is retracted and inserted again: of the first
-- six rows (two keys, flushed every 10 ms, 20 events a second) at least two are deletes.
SELECT count(*) FILTER (WHERE op = 'delete') >= 2 AS has_deletes FROM stream_preview(
  'SET update_aggregate_flush_interval = ''10 ms'';
   SELECT counter % 2 AS k, count(*) AS n FROM pv_slow GROUP BY 1', 6, NULL);

-- 4. A regular table (change data capture on a temporary slot), as the caller.
CREATE TABLE pv_orders (id int PRIMARY KEY, customer text, amount int);
INSERT INTO pv_orders VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'ann', 5);
SELECT op, "row" FROM stream_preview(
  'SET update_aggregate_flush_interval = ''10 ms'';
   SELECT customer, sum(amount) AS total FROM pv_orders GROUP BY customer', 2, '30 s')
ORDER BY "row"::text;
SELECT op, "row" FROM stream_preview('SELECT id, upper(customer) AS c FROM pv_orders', 3, '30 s')
ORDER BY "row"::text;
SELECT pv_wait_clean();
-- A timeout ends it with what came so far (at most the table's rows; no change arrives).
SELECT count(*) <= 3 AS ended FROM stream_preview('SELECT id FROM pv_orders', NULL, '1 s');
SELECT pv_wait_clean();

-- 5. A pipeline's INSERT previews the rows it would write; the target stays empty.
CREATE TABLE pv_target (total bigint, customer text);
SELECT "row" FROM stream_preview(
  'INSERT INTO pv_target (customer, total) SELECT customer, amount FROM pv_orders', 3, '30 s')
ORDER BY "row"::text;
SELECT count(*) FROM pv_target;

-- 6. A cancel (here statement_timeout) stops the worker too.
SET statement_timeout = '500ms';
SELECT count(*) FROM stream_preview('SELECT counter FROM pv_slow', NULL, NULL);
RESET statement_timeout;
SELECT pv_wait_clean();

-- 7. Explain takes a query to preview as well.
SELECT * FROM stream_explain('SELECT counter % 3 AS k, count(*) FROM pv_ticks GROUP BY 1');

-- 8. Errors: as stream_create reports them, raised in the caller; the worker's own errors
-- reach the caller with their SQLSTATE.
SELECT * FROM stream_preview(NULL);
SELECT * FROM stream_preview('SELECT counter FROM pv_ticks', 0);
SELECT * FROM stream_preview('SELECT counter FROM pv_ticks', 10, '-1 s');
SELECT * FROM stream_preview('SELECT 1');
SELECT * FROM stream_preview('SELECT counter FROM pv_ticks ORDER BY counter');
SELECT * FROM stream_preview('DELETE FROM pv_orders');
SELECT * FROM stream_preview('SELECT nope FROM pv_ticks');
DO $$
BEGIN
  PERFORM * FROM stream_preview('SELECT 100 / (counter - 5) FROM pv_ticks', NULL);
EXCEPTION WHEN division_by_zero THEN
  RAISE NOTICE 'division_by_zero: %', SQLERRM;
END $$;
CREATE ROLE pv_nobody;
GRANT USAGE ON SCHEMA public TO pv_nobody;
SET ROLE pv_nobody;
SELECT * FROM stream_preview('SELECT id FROM pv_orders', 1, '5 s');
RESET ROLE;
GRANT SELECT ON pv_ticks TO pv_nobody;
SET ROLE pv_nobody;
SELECT count(*) FROM stream_preview('SELECT counter FROM pv_ticks', NULL);
RESET ROLE;
SELECT pv_wait_clean();
DROP OWNED BY pv_nobody;
DROP ROLE pv_nobody;
