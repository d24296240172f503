-- parallel_agg.body.sql at 2 worker(s).
\set parallelism 2
\ir parallel_agg.body.sql
