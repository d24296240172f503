-- stream_explain: the dataflow of a query or of an existing pipeline, for every kind of node,
-- without creating anything; and stream_operators, the per-node counters of a run.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER ex_imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE SERVER ex_files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE SERVER ex_ws FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'websocket');
CREATE SERVER ex_kafka FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'localhost:1');
CREATE SERVER ex_nx FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER ex_hole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE ex_ticks (counter bigint, subtask_index int) SERVER ex_imp
  OPTIONS (event_rate '0', message_count '1000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second');
CREATE FOREIGN TABLE ex_orders (id int, cust int NOT NULL, amount numeric, ts timestamptz,
                                 cents bigint GENERATED ALWAYS AS ((amount * 100)::bigint) STORED)
  SERVER ex_files OPTIONS (path '/nonexistent/orders.json', type 'source', event_time_field 'ts',
                          watermark_delay '5 seconds');
CREATE FOREIGN TABLE ex_feed (type text, price text) SERVER ex_ws
  OPTIONS (endpoint 'ws://localhost:1/feed');
CREATE FOREIGN TABLE ex_topic (id int, cust int, amount numeric) SERVER ex_kafka
  OPTIONS (type 'source', topic 'orders', "source.offset" 'earliest');
CREATE FOREIGN TABLE ex_changes (id int NOT NULL, name text) SERVER ex_kafka
  OPTIONS (type 'source', topic 'customers', format 'debezium_json', primary_key 'id');
CREATE FOREIGN TABLE ex_bids (auction bigint, price bigint, date_time timestamp) SERVER ex_nx
  OPTIONS (event_type 'bid', event_rate '0', message_count '10');
CREATE FOREIGN TABLE ex_out_kafka (cust int, total numeric) SERVER ex_kafka
  OPTIONS (type 'sink', topic 'totals', format 'debezium_json');
CREATE FOREIGN TABLE ex_out_file (counter bigint) SERVER ex_files
  OPTIONS (path '/nonexistent/out.json', type 'sink');
CREATE FOREIGN TABLE ex_hole (counter bigint) SERVER ex_hole;
CREATE TABLE ex_customers (id int PRIMARY KEY, name text, region text);
CREATE TABLE ex_plain (counter bigint);
CREATE TABLE ex_totals (cust int PRIMARY KEY, total numeric);
CREATE TABLE ex_pairs (a bigint, b bigint);
CREATE TABLE ex_windows (w tstzrange, n bigint, total numeric);
SELECT count(*) AS slots_before FROM pg_replication_slots \gset

-- Sources of each connector, a projection with a filter, and the append sinks.
SELECT * FROM stream_explain($$INSERT INTO ex_plain SELECT counter * 2 FROM ex_ticks
  WHERE counter % 10 = 0$$);
SELECT * FROM stream_explain($$INSERT INTO ex_out_file SELECT id FROM ex_orders WHERE cents > 100$$);
SELECT * FROM stream_explain($$INSERT INTO ex_hole SELECT length(price)::bigint FROM ex_feed
  WHERE type = 'ticker'$$);
SELECT * FROM stream_explain($$INSERT INTO ex_hole SELECT auction FROM ex_bids$$);
-- A union of two sources, one of them read twice (one node, shown once).
SELECT * FROM stream_explain($$INSERT INTO ex_plain SELECT counter FROM ex_ticks
  UNION ALL SELECT id FROM ex_topic UNION ALL SELECT counter + 1 FROM ex_ticks$$);
-- Windowed aggregates: tumble, hop, session.
SELECT * FROM stream_explain($$INSERT INTO ex_windows
  SELECT tumble(interval '1 minute') AS w, count(*), sum(amount) FILTER (WHERE amount > 0)
  FROM ex_orders GROUP BY w$$);
SELECT * FROM stream_explain($$INSERT INTO ex_windows
  SELECT hop(interval '10 seconds', interval '1 minute') AS w, count(DISTINCT cust), max(amount)
  FROM ex_orders GROUP BY w$$);
SELECT * FROM stream_explain($$INSERT INTO ex_windows
  SELECT session(interval '30 seconds') AS w, count(*), sum(amount * 2)
  FROM ex_orders GROUP BY w, cust$$);
-- An updating aggregate into a table (upsert by key) and into Kafka (Debezium), with settings.
SELECT * FROM stream_explain($$SET updating_ttl = '1 hour';
  SET update_aggregate_flush_interval = '250 milliseconds';
  INSERT INTO ex_totals SELECT cust, sum(amount) FROM ex_orders GROUP BY cust$$);
SELECT * FROM stream_explain($$SET checkpoint_interval = '100 milliseconds';
  INSERT INTO ex_out_kafka SELECT cust, sum(amount) FROM ex_topic GROUP BY cust$$);
-- Joins: updating (inner with a residual, left, right, full), windowed, interval.
SELECT * FROM stream_explain($$INSERT INTO ex_pairs SELECT o.id, c.id FROM ex_orders o
  JOIN ex_changes c ON o.cust = c.id AND o.amount > length(c.name)$$);
SELECT * FROM stream_explain($$INSERT INTO ex_pairs SELECT a.counter, b.id FROM ex_ticks a
  LEFT JOIN ex_topic b ON a.counter = b.cust$$);
SELECT * FROM stream_explain($$INSERT INTO ex_pairs SELECT a.counter, b.id FROM ex_ticks a
  RIGHT JOIN ex_topic b ON a.counter = b.cust$$);
SELECT * FROM stream_explain($$INSERT INTO ex_pairs SELECT a.counter, b.id FROM ex_ticks a
  FULL JOIN ex_topic b ON a.counter = b.cust + 1$$);
SELECT * FROM stream_explain($$INSERT INTO ex_pairs SELECT a.n, b.n
  FROM (SELECT tumble(interval '4 seconds') AS w, count(*) AS n FROM ex_ticks GROUP BY 1) a
  JOIN (SELECT tumble(interval '4 seconds') AS w, count(*) AS n FROM ex_orders GROUP BY 1) b
  ON a.w = b.w$$);
SELECT * FROM stream_explain($$INSERT INTO ex_pairs SELECT o.id, p.id FROM ex_orders o
  LEFT JOIN ex_orders p ON o.cust = p.cust AND p.ts BETWEEN o.ts AND o.ts + interval '5 seconds'$$);
-- A regular table read by change data capture: its changes, into a table without a key.
SELECT * FROM stream_explain($$INSERT INTO ex_totals SELECT id, count(*) FROM ex_customers
  GROUP BY id$$);
SELECT * FROM stream_explain($$INSERT INTO ex_pairs SELECT o.id, c.id FROM ex_orders o
  JOIN ex_customers c ON o.cust = c.id$$);

-- JSON, for tools: one row holding the document.
SELECT jsonb_pretty(stream_explain::jsonb) FROM stream_explain($$INSERT INTO ex_totals
  SELECT cust, count(*) FROM ex_orders WHERE amount > 0 GROUP BY cust$$, format => 'json');
SELECT stream_explain($$INSERT INTO ex_plain SELECT counter FROM ex_ticks$$, 'yaml');

-- Errors are those of stream_create, and nothing was created.
SELECT stream_explain($$INSERT INTO ex_plain SELECT nope FROM ex_ticks$$);
SELECT stream_create('ex_bad', $$INSERT INTO ex_plain SELECT nope FROM ex_ticks$$);
SELECT stream_explain($$INSERT INTO ex_plain SELECT counter FROM ex_ticks OFFSET 3$$);
SELECT stream_create('ex_bad', $$INSERT INTO ex_plain SELECT counter FROM ex_ticks OFFSET 3$$);
SELECT stream_explain('no_such_pipeline');
SELECT count(*) AS pipelines FROM stream_pipelines WHERE name LIKE 'ex\_%';
SELECT count(*) = :slots_before AS no_new_slot FROM pg_replication_slots;
-- Privileges are those of stream_create: a role without SELECT on a source cannot explain a
-- query reading it.
CREATE ROLE regress_ex_nobody LOGIN;
GRANT INSERT ON ex_plain TO regress_ex_nobody;
SET ROLE regress_ex_nobody;
SELECT stream_explain($$INSERT INTO ex_plain SELECT counter FROM ex_ticks$$);
SELECT stream_create('ex_bad', $$INSERT INTO ex_plain SELECT counter FROM ex_ticks$$);
RESET ROLE;

-- An existing pipeline, by name; its operators' counters once it has finished: impulse 1000
-- rows through a filter that keeps 100.
SELECT stream_create('ex_tenth', $$INSERT INTO ex_plain SELECT counter FROM ex_ticks
  WHERE counter % 10 = 0$$);
SELECT * FROM stream_explain('ex_tenth');
-- By name, only for members of the owner role (or of pg_read_all_stats), as its query shows.
SET ROLE regress_ex_nobody;
SELECT stream_explain('ex_tenth');
RESET ROLE;
SELECT pipeline, node, kind, rows_in, rows_out, late_rows, bad_rows, state_keys
FROM stream_operators WHERE pipeline = 'ex_tenth';
SELECT stream_start('ex_tenth');
SELECT stream_wait('ex_tenth');
SELECT pipeline, node, kind, rows_in, rows_out, late_rows, bad_rows, state_keys,
       watermark, busy_time >= interval '0' AS busy_measured
FROM stream_operators WHERE pipeline = 'ex_tenth' ORDER BY node;
SELECT count(*) FROM ex_plain;
-- A window aggregate's late rows and a source's bad rows, on their own nodes.
\getenv abs_srcdir PG_ABS_SRCDIR
\set disorder_path :abs_srcdir '/data/disorder.json'
\set bad_path :abs_srcdir '/data/bad_lines.json'
CREATE FOREIGN TABLE ex_disorder (k text, ts timestamptz, v int) SERVER ex_files
  OPTIONS (path :'disorder_path', type 'source', event_time_field 'ts',
           watermark_delay '5 seconds');
CREATE FOREIGN TABLE ex_bad_lines (id int, amount numeric) SERVER ex_files
  OPTIONS (path :'bad_path', type 'source', bad_data 'drop');
CREATE TABLE ex_disorder_windows (w tstzrange, k text, n bigint);
SELECT stream_create('ex_disorder', $$INSERT INTO ex_disorder_windows
  SELECT tumble(interval '10 seconds') AS w, k, count(*) FROM ex_disorder GROUP BY w, k$$);
SELECT * FROM stream_explain('ex_disorder')
WHERE stream_explain NOT LIKE '%Options: %';  -- (the path depends on where the tests run)
SELECT stream_start('ex_disorder');
SELECT stream_wait('ex_disorder');
SELECT node, kind, rows_in, rows_out, late_rows, bad_rows, watermark
FROM stream_operators WHERE pipeline = 'ex_disorder' ORDER BY node;
SELECT late_rows, rows_out FROM stream_pipelines WHERE name = 'ex_disorder';
CREATE TABLE ex_amounts (id int, amount numeric);
SELECT stream_create('ex_bad_lines', $$INSERT INTO ex_amounts SELECT * FROM ex_bad_lines$$);
SELECT stream_start('ex_bad_lines');
SELECT stream_wait('ex_bad_lines');
SELECT node, kind, rows_in, rows_out, bad_rows FROM stream_operators
WHERE pipeline = 'ex_bad_lines' ORDER BY node;
SELECT bad_rows FROM stream_pipelines WHERE name = 'ex_bad_lines';
-- An updating aggregate's keys; the new stream_pipelines columns once the run has ended.
SELECT stream_create('ex_keys', $$INSERT INTO ex_totals SELECT counter % 7, count(*) FROM ex_ticks
  GROUP BY 1$$);
SELECT stream_start('ex_keys');
SELECT stream_wait('ex_keys');
SELECT node, kind, rows_in, rows_out, state_keys, state_bytes > 0 AS has_state
FROM stream_operators WHERE pipeline = 'ex_keys' ORDER BY node;
SELECT name, lag, last_checkpoint_duration >= interval '0' AS checkpoint_timed
FROM stream_pipelines WHERE name = 'ex_keys';
-- A failed run's counters are recorded too: the batch that failed reached the filter.
CREATE FOREIGN TABLE ex_ten (counter bigint) SERVER ex_imp
  OPTIONS (event_rate '0', message_count '10');
SELECT stream_create('ex_fails', $$INSERT INTO ex_plain SELECT 10 / (counter - 5) FROM ex_ten$$);
SELECT stream_start('ex_fails');
SELECT stream_wait('ex_fails');
SELECT last_error FROM stream_pipelines WHERE name = 'ex_fails';
SELECT node, kind, rows_in, rows_out FROM stream_operators WHERE pipeline = 'ex_fails'
ORDER BY node;
SELECT stream_drop('ex_fails');
-- While a pipeline runs, the counters are live, and each read of the view is one consistent
-- copy: the filter's rows in are the source's rows out, and it keeps every other one.
CREATE FOREIGN TABLE ex_endless (counter bigint) SERVER ex_imp OPTIONS (event_rate '2000');
CREATE TABLE ex_endless_out (counter bigint);
SELECT stream_create('ex_live', $$INSERT INTO ex_endless_out SELECT counter FROM ex_endless
  WHERE counter % 2 = 0$$);
CREATE FUNCTION ex_wait_live(p text, n bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..3000 LOOP
    IF (SELECT o.rows_out >= n AND s.watermark IS NOT NULL
        FROM stream_operators o JOIN stream_pipelines s ON s.name = o.pipeline
        WHERE o.pipeline = p AND o.kind = 'source') THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
  RETURN false;
END $$;
SELECT stream_start('ex_live');
SELECT ex_wait_live('ex_live', 100);
WITH o AS (SELECT * FROM stream_operators WHERE pipeline = 'ex_live')
SELECT (SELECT string_agg(node || ' ' || kind, ', ' ORDER BY node) FROM o) AS nodes,
       (SELECT rows_in FROM o WHERE kind = 'project') = (SELECT rows_out FROM o WHERE kind = 'source')
         AS project_reads_source,
       (SELECT rows_out = (rows_in + 1) / 2 FROM o WHERE kind = 'project') AS keeps_half;
SELECT state, lag > interval '0' AS lag_positive FROM stream_pipelines WHERE name = 'ex_live';
SELECT stream_stop('ex_live');
-- Once stopped: the last run's counters, which agree with stream_pipelines.
SELECT o.rows_out = p.rows_in AS source_is_rows_in, s.rows_in = p.rows_out AS sink_is_rows_out,
       p.lag IS NULL AS no_lag_when_stopped
FROM stream_pipelines p
JOIN stream_operators o ON o.pipeline = p.name AND o.kind = 'source'
JOIN stream_operators s ON s.pipeline = p.name AND s.kind = 'sink'
WHERE p.name = 'ex_live';
-- A drop removes them.
SELECT stream_drop('ex_live');
SELECT stream_drop('ex_keys');
SELECT count(*) FROM stream_operators WHERE pipeline IN ('ex_keys', 'ex_live');
SELECT count(*) FROM _arroyo_stream.operator_stats s
WHERE NOT EXISTS (SELECT FROM _arroyo_stream.pipelines p WHERE p.id = s.pipeline_id);
SELECT stream_drop('ex_tenth');
SELECT stream_drop('ex_disorder');
SELECT stream_drop('ex_bad_lines');
DROP OWNED BY regress_ex_nobody;
DROP ROLE regress_ex_nobody;
