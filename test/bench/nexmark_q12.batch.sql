-- q12 (event time) in batch over the same bids (see nexmark_q0.batch.sql).
SELECT tstzrange(s, s + interval '10 seconds'), bidder, count(*)
FROM (SELECT bidder, date_bin('10 seconds', date_time, 'epoch') AS s FROM batch_bid) b
GROUP BY 1, 2
