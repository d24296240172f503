-- q1 in batch over the same bids (see nexmark_q0.batch.sql).
SELECT auction, bidder, 0.908 * price, date_time, extra FROM batch_bid
