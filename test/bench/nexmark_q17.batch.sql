-- q17 in batch over the same bids (see nexmark_q0.batch.sql).
SELECT auction, to_char(date_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
       count(*),
       count(*) FILTER (WHERE price < 10000),
       count(*) FILTER (WHERE price >= 10000 AND price < 1000000),
       count(*) FILTER (WHERE price >= 1000000),
       min(price), max(price), avg(price), sum(price)
FROM batch_bid GROUP BY 1, 2
