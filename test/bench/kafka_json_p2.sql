-- kafka_json at 2 workers (SET parallelism = 2): each reads 16 of the 32 partitions.
\set parallelism 2
\ir kafka_json.sql
