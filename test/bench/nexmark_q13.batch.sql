-- q13 in batch over the same bids and side_input (see nexmark_q0.batch.sql).
SELECT b.auction, b.bidder, b.price, b.date_time, s.value
FROM batch_bid b JOIN side_input s ON s.key = b.auction % 10000
