-- After the pipeline: its state next to the number of bidders and bids it saw (counted by a
-- second pipeline over the same events), i.e. the state per partition and per bid.
SELECT state_bytes AS top3_state FROM stream_pipelines WHERE name = 'bench' \gset
\o /dev/null
DROP TABLE IF EXISTS bench_bidders;
CREATE TABLE bench_bidders (bidder bigint UNIQUE NULLS NOT DISTINCT, bids bigint);
SELECT stream_create('bench_bidders', 'INSERT INTO bench_bidders SELECT bidder, count(*) FROM bid GROUP BY bidder');
SELECT stream_start('bench_bidders');
SELECT stream_wait('bench_bidders', '1 hour');
\o
SELECT format('top-3 state: %s bytes for %s bidders and %s bids: %s bytes per bidder, %s per bid',
              :top3_state, count(*), sum(bids), round(:top3_state::numeric / count(*)),
              round(:top3_state::numeric / sum(bids), 1))
FROM bench_bidders;
\o /dev/null
SELECT stream_drop('bench_bidders');
\o
