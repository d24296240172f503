-- The batch join PostgreSQL runs over the same bids (loaded into bench_bids by lookup_join.sql)
-- and the same 1 000 000-row table, its own plan (a hash join over the whole table).
SELECT count(*), sum(length(p.name) + length(p.city))
FROM bench_bids b JOIN LATERAL (SELECT name, city FROM bench_people p WHERE p.id = b.bidder) p ON true;
