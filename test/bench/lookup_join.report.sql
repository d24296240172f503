-- After the pipeline and its baseline: the pipeline's index probes (scans of bench_people's
-- primary key) per bid, and the baseline's CPU time (recorded by lookup_join.baseline.sql).
SELECT format('index probes: %s for %s bids (%s per bid, %s per event)',
              r.probes, b.n, round(r.probes::numeric / b.n, 3), round(r.probes::numeric / m.events, 3))
FROM bench_report r, (SELECT count(*) AS n FROM bench_bids) b, bench_meta m;
SELECT format('baseline (batch hash join, one core): %s s of CPU, %s bids/s per core',
              round(r.cpu_after - r.cpu_before, 2), round(b.n / nullif(r.cpu_after - r.cpu_before, 0)))
FROM bench_report r, (SELECT count(*) AS n FROM bench_bids) b;
