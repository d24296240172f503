-- Updating semantics: aggregates without a window materialize into tables, as upserts and
-- deletes, or go out as Debezium envelopes.
\getenv abs_srcdir PG_ABS_SRCDIR
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE thousand (counter bigint) SERVER imp
  OPTIONS (event_rate '0', message_count '1000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second');

-- Counts and sums per key, into a table keyed by the grouping column. Each key changed a
-- hundred times, but was flushed once: one change per key.
CREATE TABLE totals (k bigint PRIMARY KEY, n bigint, total numeric, biggest bigint, mean numeric);
SELECT stream_create('totals', $$INSERT INTO totals
  SELECT counter % 10, count(*), sum(counter), max(counter), avg(counter) FROM thousand
  GROUP BY counter % 10$$);
SELECT stream_start('totals');
SELECT stream_wait('totals');
SELECT state, rows_in, rows_out, last_error FROM stream_pipelines WHERE name = 'totals';
SELECT * FROM totals ORDER BY k;
-- The same numbers as the batch query.
CREATE TEMP TABLE all_counters AS SELECT generate_series(0, 999)::bigint AS counter;
(SELECT * FROM totals EXCEPT
 SELECT counter % 10, count(*), sum(counter), max(counter), avg(counter) FROM all_counters GROUP BY 1)
UNION ALL
(SELECT counter % 10, count(*), sum(counter), max(counter), avg(counter) FROM all_counters GROUP BY 1
 EXCEPT SELECT * FROM totals);

-- A global aggregate (no GROUP BY) keeps one row.
CREATE TABLE grand (n bigint, total numeric);
SELECT stream_create('grand', 'INSERT INTO grand SELECT count(*), sum(counter) FROM thousand');
SELECT stream_start('grand');
SELECT stream_wait('grand');
SELECT * FROM grand;

-- The target needs a key on exactly the grouping columns.
CREATE TABLE no_key (k bigint, n bigint);
CREATE TABLE wrong_key (k bigint, n bigint PRIMARY KEY);
CREATE TABLE wide_key (k bigint, j bigint, n bigint, PRIMARY KEY (k, j));
SELECT stream_create('bad', 'INSERT INTO no_key SELECT counter % 10, count(*) FROM thousand GROUP BY counter % 10');
SELECT stream_create('bad', 'INSERT INTO wrong_key SELECT counter % 10, count(*) FROM thousand GROUP BY counter % 10');
SELECT stream_create('bad', 'INSERT INTO wide_key SELECT counter % 10, 0, count(*) FROM thousand GROUP BY counter % 10');
SELECT stream_create('bad', 'INSERT INTO totals (n) SELECT count(*) FROM thousand GROUP BY counter % 10');
-- An append-only sink cannot take an updating result.
CREATE FOREIGN TABLE plain_out (k bigint, n bigint) SERVER files
  OPTIONS (path '/tmp/arroyo_never_written.json', type 'sink');
SELECT stream_create('bad', 'INSERT INTO plain_out SELECT counter % 10, count(*) FROM thousand GROUP BY counter % 10');
-- Windows over an updating input are not supported.
SELECT stream_create('bad', $$INSERT INTO totals (k)
  SELECT count(*) FROM (SELECT counter % 10 AS k, count(*) AS n FROM thousand GROUP BY 1) x
  GROUP BY tumble(interval '1 minute')$$);
-- Settings.
SELECT stream_create('bad', 'SET updating_ttl = ''soon''; INSERT INTO grand SELECT count(*), 0 FROM thousand');
SELECT stream_create('bad', 'SET update_aggregate_flush_interval = ''0 s''; INSERT INTO grand SELECT count(*), 0 FROM thousand');
SELECT stream_create('bad', 'SET batch_size = 2; INSERT INTO grand SELECT count(*), 0 FROM thousand');
SELECT count(*) FROM stream_pipelines WHERE name = 'bad';

-- Aggregates over an updating input: how many keys have each count. Retractions go through
-- the inverse transition functions (count, sum) or, without one (min, max, string_agg), by
-- recomputing from the group's values.
CREATE TABLE histogram (cnt bigint PRIMARY KEY, keys bigint, key_sum numeric, lo bigint, hi bigint,
                        listed text);
CREATE FOREIGN TABLE paced (counter bigint) SERVER imp
  OPTIONS (event_rate '200', message_count '100', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second');
SELECT stream_create('histogram', $$SET update_aggregate_flush_interval = '50 milliseconds';
  INSERT INTO histogram
  SELECT cnt, count(*), sum(k), min(k), max(k), string_agg(k::text, ',')
  FROM (SELECT counter % 7 AS k, count(*) AS cnt FROM paced GROUP BY counter % 7) x GROUP BY cnt$$);
SELECT stream_start('histogram');
SELECT stream_wait('histogram');
SELECT state, last_error FROM stream_pipelines WHERE name = 'histogram';
SELECT cnt, keys, key_sum, lo, hi,
       (SELECT string_agg(x, ',' ORDER BY x) FROM unnest(string_to_array(listed, ',')) x) AS listed
FROM histogram ORDER BY cnt;

-- HAVING: a group enters the result when it satisfies it and leaves when it no longer does.
-- The seed's click-through-rate example: sites whose clicks/impressions exceed 2 %. Site 'a'
-- starts with clicks (suspicious), then gets many impressions (not any more).
CREATE TABLE suspicious (site text PRIMARY KEY);
\set ctr_path :abs_srcdir '/results/suspicious.json'
CREATE FOREIGN TABLE suspicious_changes (site text) SERVER files
  OPTIONS (path :'ctr_path', type 'sink', format 'debezium_json');
CREATE FOREIGN TABLE impressions (counter bigint) SERVER imp
  OPTIONS (event_rate '100', message_count '300');
CREATE VIEW event_stream AS
  SELECT CASE WHEN counter % 3 = 0 THEN 'b' ELSE 'a' END AS site,
         CASE WHEN counter < 5 AND counter % 3 <> 0 THEN 'click' ELSE 'impression' END AS imp_type
  FROM impressions;
SELECT stream_create('ctr', $$SET update_aggregate_flush_interval = '20 milliseconds';
  INSERT INTO suspicious
  SELECT site FROM (
    SELECT site, clicks::float8 / impressions AS click_through_rate
    FROM (SELECT site,
                 sum(CASE WHEN imp_type = 'click' THEN 1 ELSE 0 END) AS clicks,
                 sum(CASE WHEN imp_type = 'impression' THEN 1 ELSE 0 END) AS impressions
          FROM event_stream GROUP BY site) counts
    WHERE impressions > 0) rates
  WHERE click_through_rate > 0.02$$);
SELECT stream_create('ctr_changes', $$SET update_aggregate_flush_interval = '20 milliseconds';
  INSERT INTO suspicious_changes
  SELECT site FROM (SELECT site,
                           sum(CASE WHEN imp_type = 'click' THEN 1 ELSE 0 END) AS clicks,
                           sum(CASE WHEN imp_type = 'impression' THEN 1 ELSE 0 END) AS impressions
                    FROM event_stream GROUP BY site) counts
  WHERE impressions > 0 AND clicks::float8 / impressions > 0.02$$);
SELECT stream_start('ctr');
SELECT stream_start('ctr_changes');
-- While clicks dominate, site 'a' is in the result...
DO $$ BEGIN
  FOR i IN 1..600 LOOP
    EXIT WHEN EXISTS (SELECT 1 FROM suspicious WHERE site = 'a');
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT site FROM suspicious;
SELECT stream_wait('ctr');
SELECT stream_wait('ctr_changes');
-- ... and once impressions dominate, it has left.
SELECT count(*) AS suspicious_sites FROM suspicious;
-- The change stream: 'a' was created, then deleted (its row, just the site, never changed in
-- between: unchanged updates are not emitted).
SELECT line::jsonb->>'op' AS op, line::jsonb->'before' AS before, line::jsonb->'after' AS after
FROM regexp_split_to_table(rtrim(pg_read_file(:'ctr_path'), E'\n'), E'\n') line;

-- Debezium envelopes: a changed row is one "u" with before and after. With a short flush
-- interval, each key's counts go out as a "c" and then a chain of "u"s, each "before" being
-- the previous "after", ending at the final count.
\set counts_path :abs_srcdir '/results/counts.json'
CREATE FOREIGN TABLE count_changes (k bigint, n bigint) SERVER files
  OPTIONS (path :'counts_path', type 'sink', format 'debezium_json');
CREATE FOREIGN TABLE forty (counter bigint) SERVER imp
  OPTIONS (event_rate '20', message_count '40');
SELECT stream_create('counts', $$SET update_aggregate_flush_interval = '20 milliseconds';
  INSERT INTO count_changes SELECT counter % 2, count(*) FROM forty GROUP BY counter % 2$$);
SELECT stream_start('counts');
SELECT stream_wait('counts');
CREATE TEMP TABLE envelopes AS
SELECT n AS seq, line::jsonb AS e
FROM regexp_split_to_table(rtrim(pg_read_file(:'counts_path'), E'\n'), E'\n') WITH ORDINALITY AS t(line, n);
CREATE TEMP VIEW per_key AS
SELECT coalesce(e->'after'->>'k', e->'before'->>'k') AS k, e->>'op' AS op, e->'before' AS before,
       e->'after' AS after, row_number() OVER w AS nth, lag(e->'after') OVER w AS previous_after,
       count(*) OVER (PARTITION BY coalesce(e->'after'->>'k', e->'before'->>'k')) AS changes
FROM envelopes WINDOW w AS (PARTITION BY coalesce(e->'after'->>'k', e->'before'->>'k') ORDER BY seq);
SELECT k, count(*) > 1 AS several_changes,
       bool_and(CASE WHEN nth = 1 THEN op = 'c' AND before = 'null' ELSE op = 'u' END) AS c_then_u,
       bool_and(nth = 1 OR before = previous_after) AS chained,
       max(CASE WHEN nth = changes THEN after::text END) AS final
FROM per_key GROUP BY k ORDER BY k;

-- Several flushes in one transaction: each flush finds the rows the previous one wrote.
CREATE FOREIGN TABLE busy (counter bigint) SERVER imp OPTIONS (event_rate '0', message_count '300000');
CREATE TABLE busy_counts (k bigint PRIMARY KEY, n bigint);
SELECT stream_create('busy', $$SET update_aggregate_flush_interval = '1 millisecond';
  SET checkpoint_interval = '1 hour';
  INSERT INTO busy_counts SELECT counter % 5, count(*) FROM busy GROUP BY 1$$);
SELECT stream_start('busy');
SELECT stream_wait('busy');
SELECT state, rows_out > 5 AS several_flushes, last_error FROM stream_pipelines WHERE name = 'busy';
SELECT * FROM busy_counts ORDER BY k;

-- TTL: a key untouched for updating_ttl (event time, against the watermark) is forgotten.
-- Key 'a' appears at seconds 0-4, then not until 25-27: by then its state expired, so its
-- count starts again (3, not 8). Its materialized row stayed in place meanwhile and is
-- overwritten when the key returns.
CREATE FOREIGN TABLE timed (counter bigint) SERVER imp
  OPTIONS (event_rate '10', message_count '30', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second', watermark_delay '0 seconds');
CREATE TABLE ttl_counts (key text PRIMARY KEY, n bigint);
SELECT stream_create('ttl', $$SET updating_ttl = '10 seconds';
  SET update_aggregate_flush_interval = '10 milliseconds';
  INSERT INTO ttl_counts
  SELECT CASE WHEN counter < 5 OR counter BETWEEN 25 AND 27 THEN 'a' ELSE 'b' END, count(*)
  FROM timed GROUP BY 1$$);
SELECT stream_start('ttl');
SELECT stream_wait('ttl');
SELECT * FROM ttl_counts ORDER BY key;

SELECT stream_drop(name) FROM stream_pipelines ORDER BY name;
DROP VIEW event_stream;
DROP SERVER imp CASCADE;
DROP SERVER files CASCADE;
DROP TABLE totals, grand, no_key, wrong_key, wide_key, histogram, suspicious, ttl_counts, busy_counts;
