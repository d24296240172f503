-- q7 in batch over the same bids (see nexmark_q0.batch.sql): windows of 10 seconds from the epoch.
SELECT b.auction, b.price, b.bidder, b.date_time, b.extra
FROM batch_bid b
JOIN (SELECT date_bin('10 seconds', date_time, 'epoch') AS s, max(price) AS maxprice
      FROM batch_bid GROUP BY 1) m
  ON b.price = m.maxprice AND b.date_time >= m.s AND b.date_time < m.s + interval '10 seconds'
