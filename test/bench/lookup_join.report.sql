-- After the pipeline: its index probes (scans of bench_people's primary key) per bid.
SELECT format('index probes: %s for %s bids (%s per bid, %s per event); rows out: %s',
              s.idx_scan, b.n, round(s.idx_scan::numeric / b.n, 3),
              round(s.idx_scan::numeric / m.events, 3),
              (SELECT rows_out FROM stream_pipelines WHERE name = 'bench'))
FROM pg_stat_user_indexes s, (SELECT count(*) AS n FROM bench_bids) b, bench_meta m
WHERE s.indexrelname = 'bench_people_pkey';
