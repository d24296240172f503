-- q6 (adapted) in batch over the same auctions and bids (see nexmark_q0.batch.sql).
SELECT seller, avg(final) FROM (
  SELECT seller, final,
         row_number() OVER (PARTITION BY seller ORDER BY expires DESC, id DESC) AS rn
  FROM (SELECT a.id, a.seller, a.expires, max(b.price) AS final
        FROM batch_auction a JOIN batch_bid b ON a.id = b.auction
         AND b.date_time BETWEEN a.date_time AND a.expires
        GROUP BY a.id, a.seller, a.expires) w) x
WHERE rn <= 10
GROUP BY seller
