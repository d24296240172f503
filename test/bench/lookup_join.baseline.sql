-- The batch join PostgreSQL runs over the same bids (loaded into bench_bids by lookup_join.sql)
-- and the same 1 000 000-row table, with its own plan (a hash join over the whole table), on one
-- core like the pipeline's worker (no parallel workers). Its CPU time (this backend's, from
-- /proc, in USER_HZ = 1/100 s) and the pipeline's index probes go to bench_report, which
-- lookup_join.report.sql prints.
SET max_parallel_workers_per_gather = 0;
DROP TABLE IF EXISTS bench_report;
CREATE TEMP VIEW bench_cpu AS
  SELECT (s[12]::bigint + s[13]::bigint) / 100.0 AS cpu_s
  FROM (SELECT regexp_split_to_array(split_part(
          pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ') AS s) p;
-- (the pipeline's worker reports its index scans when it exits, just after stream_wait returns)
DO $$BEGIN
  FOR i IN 1..500 LOOP
    PERFORM pg_stat_clear_snapshot();
    EXIT WHEN (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'bench_people_pkey') > 0;
    PERFORM pg_sleep(0.02);
  END LOOP;
END$$;
CREATE TABLE bench_report AS
  SELECT (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'bench_people_pkey')
           AS probes,
         (SELECT cpu_s FROM bench_cpu) AS cpu_before, NULL::numeric AS cpu_after;
SELECT count(*), sum(length(p.name) + length(p.city))
FROM bench_bids b JOIN LATERAL (SELECT name, city FROM bench_people p WHERE p.id = b.bidder) p ON true;
UPDATE bench_report SET cpu_after = (SELECT cpu_s FROM bench_cpu);
