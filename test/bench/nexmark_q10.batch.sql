-- q10 in batch over the same bids (see nexmark_q0.batch.sql); the test reads the pipeline's
-- file back with pg_read_file and jsonb.
SELECT auction, bidder, price, date_time, extra,
       to_char(date_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
       to_char(date_time AT TIME ZONE 'UTC', 'HH24:MI')
FROM batch_bid
