-- parallel_agg.body.sql at 1 worker(s).
\set parallelism 1
\ir parallel_agg.body.sql
