-- parallel_join.body.sql at 1 worker(s).
\set parallelism 1
\ir parallel_join.body.sql
