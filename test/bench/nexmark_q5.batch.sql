-- q5 in batch over the same bids (see nexmark_q0.batch.sql): each bid is in the 5 windows of
-- 10 seconds starting every 2 seconds (from the epoch) that contain its time.
WITH windowed AS (
  SELECT tstzrange(s, s + interval '10 seconds') AS w, auction
  FROM batch_bid,
       LATERAL (SELECT date_bin('2 seconds', date_time, 'epoch') - k * interval '2 seconds' AS s
                FROM generate_series(0, 4) k) starts),
counts AS (SELECT w, auction, count(*) AS num FROM windowed GROUP BY w, auction)
SELECT c.w, c.auction, c.num
FROM counts c JOIN (SELECT w, max(num) AS maxn FROM counts GROUP BY w) m
  ON c.w = m.w AND c.num >= m.maxn
