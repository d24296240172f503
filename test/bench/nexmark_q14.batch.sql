-- q14 in batch over the same bids (see nexmark_q0.batch.sql); the character count written out
-- rather than through the UDF.
SELECT auction, bidder, 0.908 * price,
       CASE WHEN extract(hour FROM date_time AT TIME ZONE 'UTC') BETWEEN 8 AND 18 THEN 'dayTime'
            WHEN extract(hour FROM date_time AT TIME ZONE 'UTC') <= 6
              OR extract(hour FROM date_time AT TIME ZONE 'UTC') >= 20 THEN 'nightTime'
            ELSE 'otherTime' END,
       date_time, extra, (length(extra) - length(replace(extra, 'c', '')))::bigint
FROM batch_bid WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000
