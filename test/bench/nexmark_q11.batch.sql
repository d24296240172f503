-- q11 in batch over the same bids (see nexmark_q0.batch.sql): a bid less than 10 seconds after
-- the bidder's previous one continues its session; a session is [first bid, last bid + 10 s).
WITH gaps AS (
  SELECT bidder, date_time,
         CASE WHEN date_time - lag(date_time) OVER (PARTITION BY bidder ORDER BY date_time)
                   < interval '10 seconds' THEN 0 ELSE 1 END AS starts
  FROM batch_bid),
sessions AS (
  SELECT bidder, date_time,
         sum(starts) OVER (PARTITION BY bidder ORDER BY date_time ROWS UNBOUNDED PRECEDING) AS n
  FROM gaps)
SELECT bidder, count(*), min(date_time), max(date_time) + interval '10 seconds'
FROM sessions GROUP BY bidder, n
