-- q19 in batch over the same bids (see nexmark_q0.batch.sql).
SELECT * FROM (
  SELECT *, row_number() OVER (PARTITION BY auction ORDER BY price DESC, date_time, extra)
            AS rank_number
  FROM batch_bid) x
WHERE rank_number <= 10
