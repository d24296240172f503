-- q2 in batch over the same bids (see nexmark_q0.batch.sql).
SELECT auction, price FROM batch_bid WHERE auction % 123 = 0
