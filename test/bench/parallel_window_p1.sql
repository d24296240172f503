-- parallel_window.body.sql at 1 worker(s).
\set parallelism 1
\ir parallel_window.body.sql
