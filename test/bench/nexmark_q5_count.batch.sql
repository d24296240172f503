-- q5's windowed count in batch over the same bids (see nexmark_q5.batch.sql).
SELECT tstzrange(s, s + interval '10 seconds') AS w, auction, count(*)
FROM batch_bid,
     LATERAL (SELECT date_bin('2 seconds', date_time, 'epoch') - k * interval '2 seconds' AS s
              FROM generate_series(0, 4) k) starts
GROUP BY 1, 2
