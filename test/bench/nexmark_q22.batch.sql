-- q22 in batch over the same bids (see nexmark_q0.batch.sql), splitting with string_to_array.
SELECT auction, bidder, price, channel, d[4], d[5], d[6]
FROM (SELECT *, string_to_array(url, '/') AS d FROM batch_bid) b
