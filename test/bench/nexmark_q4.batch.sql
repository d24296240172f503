-- q4 in batch over the same auctions and bids (see nexmark_q0.batch.sql).
SELECT category, avg(final) FROM (
  SELECT a.id, a.category, max(b.price) AS final
  FROM batch_auction a JOIN batch_bid b ON a.id = b.auction
   AND b.date_time BETWEEN a.date_time AND a.expires
  GROUP BY a.id, a.category) q
GROUP BY category
