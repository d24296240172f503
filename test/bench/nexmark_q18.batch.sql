-- q18 in batch over the same bids (see nexmark_q0.batch.sql).
SELECT auction, bidder, price, channel, url, date_time, extra FROM (
  SELECT *, row_number() OVER (PARTITION BY bidder, auction
                               ORDER BY date_time DESC, price DESC, extra) AS rn
  FROM batch_bid) x
WHERE rn <= 1
