-- parallel_join.body.sql at 2 worker(s).
\set parallelism 2
\ir parallel_join.body.sql
